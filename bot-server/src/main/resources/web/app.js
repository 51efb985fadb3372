// Live updates for the approval pages: the server sends an event when any approval changes; each part of the
// page marked data-live-fragment fetches its fresh HTML and is swapped in. Without JavaScript the pages still
// work: they simply show what was true when loaded, and the server refuses a stale decision.
(function () {
  "use strict";
  if (!window.EventSource || !window.fetch) return;
  var note = document.getElementById("live-note");
  var seq = 0;

  function refresh(el) {
    var mine = ++seq;
    el.setAttribute("data-seq", String(mine));
    fetch(el.getAttribute("data-live-fragment"), { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        // Answers can arrive out of order: only the newest request's answer is shown.
        if (html === null || el.getAttribute("data-seq") !== String(mine)) return;
        var typed = el.querySelector("textarea");
        var text = typed ? typed.value : "";
        var focused = document.activeElement && el.contains(document.activeElement) ? document.activeElement.id : null;
        var before = el.querySelector("[data-status]");
        var oldStatus = before ? before.getAttribute("data-status") : null;
        el.innerHTML = html;
        var area = el.querySelector("textarea");
        if (area && text) area.value = text;
        if (focused && document.getElementById(focused)) document.getElementById(focused).focus();
        var after = el.querySelector("[data-status]");
        if (note) {
          if (after && oldStatus && after.getAttribute("data-status") !== oldStatus) {
            var h = after.querySelector(".status");
            note.textContent = h ? h.textContent : "Updated";
          } else {
            note.textContent = "Updated " + new Date().toLocaleTimeString();
          }
        }
      })
      .catch(function () { /* the next event or a reload will bring it up to date */ });
  }

  var parts = document.querySelectorAll("[data-live-fragment]");
  if (!parts.length) return;
  var source = new EventSource("/web/events");
  var opened = false;
  source.addEventListener("open", function () {
    document.body.classList.add("live");
    // After a reconnect, events may have been missed: fetch everything once.
    if (opened) parts.forEach(refresh);
    opened = true;
  });
  source.addEventListener("error", function () { document.body.classList.remove("live"); });
  source.addEventListener("approval", function (e) {
    var ev;
    try { ev = JSON.parse(e.data); } catch (x) { return; }
    parts.forEach(function (el) {
      var only = el.getAttribute("data-live-id");
      if (!only || only === ev.id) refresh(el);
    });
  });
})();
