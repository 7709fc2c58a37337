// Prefill the payload with a valid example when the action changes.
(function () {
  "use strict";
  const examples = JSON.parse(document.getElementById("command-examples").textContent);
  const action = document.getElementById("id_action");
  const payload = document.getElementById("id_payload");
  action.addEventListener("change", function () {
    payload.value = JSON.stringify(examples[action.value] || {}, null, 2);
  });
})();
