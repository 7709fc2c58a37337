// Puts the console's calendar (CONSOLE_CALENDAR: "gregory" or "buddhist") on
// <body data-calendar>, where the pages' scripts read it for Intl's `calendar`
// option. Django's admin base template has no block for <body>'s attributes,
// so base_site.html loads this script, with the value, first in the page body.
(function () {
  "use strict";
  var script = document.currentScript;
  var calendar = script && script.dataset.calendar;
  if (calendar && document.body) {
    document.body.dataset.calendar = calendar;
  }
})();
