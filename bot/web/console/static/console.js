// Live transcript: new lines appear without reloading. The page works without this script;
// it polls the server's /since fragment (rendered and escaped there) every second.
(function () {
  "use strict";
  var list = document.getElementById("transcript");
  if (!list || !list.dataset.since) { return; }
  var busy = false;
  function poll() {
    if (busy) { return; }
    busy = true;
    var url = list.dataset.since + "?after=" + encodeURIComponent(list.dataset.last || "0");
    fetch(url, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (response) { return response.ok ? response.text() : ""; })
      .then(function (html) {
        if (html.trim()) {
          list.insertAdjacentHTML("beforeend", html);
          var lines = list.querySelectorAll("li[data-id]");
          list.dataset.last = lines[lines.length - 1].dataset.id;
          lines[lines.length - 1].scrollIntoView({ block: "nearest" });
        }
      })
      .catch(function () { /* the next poll tries again */ })
      .then(function () { busy = false; });
  }
  window.setInterval(poll, 1000);
})();
