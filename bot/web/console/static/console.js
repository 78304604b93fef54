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

// Broadcasts: the audience counted again as the groups, language or segment change (the
// server renders the count; without this script the "Count the audience" button does it).
(function () {
  "use strict";
  var form = document.querySelector("form[data-audience]");
  var target = document.getElementById("audience");
  if (!form || !target) { return; }
  var timer = null;
  var asked = 0;
  function count() {
    var params = new URLSearchParams(new FormData(form));
    params.delete("csrf_token");
    var mine = ++asked;
    fetch(form.dataset.audience + "?" + params.toString(),
          { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) { if (html !== null && mine === asked) { target.innerHTML = html; } })
      .catch(function () { /* the next change asks again */ });
  }
  function later(event) {
    if (event.target.closest && event.target.closest(".texts")) { return; }
    window.clearTimeout(timer);
    timer = window.setTimeout(count, 300);
  }
  form.addEventListener("input", later);
  form.addEventListener("change", later);
})();

// A broadcast's progress: the server's fragment (rendered and escaped there) every second,
// until every message reached a final state.
(function () {
  "use strict";
  var box = document.getElementById("broadcast-progress");
  if (!box || !box.dataset.progress) { return; }
  var busy = false;
  var timer = window.setInterval(function () {
    var current = box.querySelector(".progress");
    if (current && current.dataset.finished === "1") { window.clearInterval(timer); return; }
    if (busy) { return; }
    busy = true;
    fetch(box.dataset.progress, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) { if (html !== null) { box.innerHTML = html; } })
      .catch(function () { /* the next poll tries again */ })
      .then(function () { busy = false; });
  }, 1000);
})();

// A form that may take seconds (a members import of thousands): once sent, its button is
// disabled, so that a second press does not send it again, and its note says it is working;
// a page the browser keeps and shows again on Back is made ready to send again. Without this
// script the browser's own loading indicator is all there is.
(function () {
  "use strict";
  var forms = document.querySelectorAll("form[data-busy]");
  function busy(form, on) {
    var note = form.querySelector("[data-busy-note]");
    if (note) { note.hidden = !on; }
    form.querySelectorAll("button[type=submit]").forEach(function (button) {
      button.disabled = on;
    });
  }
  forms.forEach(function (form) {
    form.addEventListener("submit", function () { busy(form, true); });
  });
  window.addEventListener("pageshow", function (event) {
    if (event.persisted) { forms.forEach(function (form) { busy(form, false); }); }
  });
})();
