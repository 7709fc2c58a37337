/* Console-wide behaviour, in a file: the Content Security Policy allows no inline script.
 * The language switcher submits itself when a language is picked. */
document.addEventListener("DOMContentLoaded", function () {
  "use strict";
  const form = document.getElementById("language-switch");
  if (!form) return;
  form.querySelector("select").addEventListener("change", function () {
    form.submit();
  });
});
