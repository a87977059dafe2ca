// The import's page while a task worker runs it: every 2 seconds, the page is read again and
// its content replaced, until the run is over. Without JavaScript, the "Actualiser" link does it.
(function () {
  "use strict";
  function poll() {
    var running = document.querySelector("[data-import-running]");
    if (!running) {
      return;
    }
    window.setTimeout(function () {
      fetch(window.location.href, { credentials: "same-origin" })
        .then(function (answer) { return answer.text(); })
        .then(function (html) {
          var fresh = new DOMParser().parseFromString(html, "text/html");
          var content = fresh.getElementById("content-main");
          if (content) {
            document.getElementById("content-main").replaceWith(content);
          }
          poll();
        })
        .catch(poll);
    }, 2000);
  }
  document.addEventListener("DOMContentLoaded", poll);
})();
