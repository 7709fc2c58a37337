/* Command pages and quick command buttons of the console (no inline script: the CSP forbids it).
 *
 * - a select with data-autosubmit submits its form (the command chooser);
 * - a button with data-confirm asks first (a hard reset ends every session);
 * - a command form is sent once: a second click while the first waits for the
 *   charger's answer is ignored;
 * - an input with data-idtag-search fills its datalist with the id tags
 *   matching what is typed (a staff-only JSON view);
 * - the expert mode's payload starts from the chosen action's example.
 */
(function () {
  "use strict";

  document.addEventListener("change", function (event) {
    const select = event.target;
    if (select.matches && select.matches("select[data-autosubmit]") && select.form) {
      select.form.submit();
    }
  });

  document.addEventListener("click", function (event) {
    const button = event.target.closest ? event.target.closest("button[data-confirm]") : null;
    if (button && !window.confirm(button.getAttribute("data-confirm"))) {
      event.preventDefault();
    }
  });

  document.addEventListener("submit", function (event) {
    const form = event.target;
    const quick = form.matches(".console-actions, form[id^='console-quick-'], #send-command-typed, #send-command");
    if (!quick) return;
    if (form.dataset.sending) {
      event.preventDefault();
      return;
    }
    form.dataset.sending = "1";
    document.body.classList.add("console-sending");
  });

  // Back to a page from the browser's cache: its forms may be sent again.
  window.addEventListener("pageshow", function (event) {
    if (!event.persisted) return;
    document.body.classList.remove("console-sending");
    document.querySelectorAll("form[data-sending]").forEach(function (form) {
      delete form.dataset.sending;
    });
  });

  // Id tag suggestions: at most one request in flight per field, the latest text wins.
  function searchIdTags(input) {
    const list = input.list;
    const url = input.getAttribute("data-idtag-search");
    if (!list || !url) return;
    const text = input.value.trim();
    const asked = text;
    input.dataset.asked = asked;
    fetch(url + "?q=" + encodeURIComponent(text), {
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    })
      .then(function (response) {
        return response.ok ? response.json() : { results: [] };
      })
      .then(function (body) {
        if (input.dataset.asked !== asked) return;
        list.replaceChildren();
        (body.results || []).forEach(function (tag) {
          const option = document.createElement("option");
          option.value = tag.value;
          option.label = tag.label || tag.value;
          list.appendChild(option);
        });
      })
      .catch(function () {
        /* suggestions only: typing the tag still works */
      });
  }

  const timers = new WeakMap();
  document.addEventListener("input", function (event) {
    const input = event.target;
    if (!input.matches || !input.matches("input[data-idtag-search]")) return;
    clearTimeout(timers.get(input));
    timers.set(input, setTimeout(searchIdTags, 200, input));
  });
  document.addEventListener("focusin", function (event) {
    const input = event.target;
    if (input.matches && input.matches("input[data-idtag-search]") && !input.dataset.asked) {
      searchIdTags(input);
    }
  });

  document.addEventListener("DOMContentLoaded", function () {
    const examples = document.getElementById("command-examples");
    const form = document.getElementById("send-command");
    if (!examples || !form) return;
    const payloads = JSON.parse(examples.textContent);
    const action = form.querySelector("select[name='action']");
    const payload = form.querySelector("textarea[name='payload']");
    if (!action || !payload) return;
    action.addEventListener("change", function () {
      payload.value = JSON.stringify(payloads[action.value] || {}, null, 2);
    });
  });
})();
