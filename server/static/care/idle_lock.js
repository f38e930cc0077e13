// A console locks itself after the idle time the server uses (CJIS 5.5.5 session lock), without
// waiting for the person's next request: no key, click, touch, wheel or pointer move for that long and the
// page's content is taken off the screen at once, then the browser opens the lock page. The
// server decides for itself (it locks a session idle that long at its next request), so a page
// kept open in another, busy tab comes straight back.
(function () {
  "use strict";
  var script = document.currentScript;
  var idleMs = Number(script && script.dataset.idleMs);
  if (!(idleMs > 0)) {
    return;
  }
  var lockPage = script.dataset.lockPage || "/login/unlock/";
  var lastInput = Date.now();
  var timer = null;
  var locked = false;

  function lockNow() {
    locked = true;
    // Nothing the console showed stays on the screen while the lock page loads.
    var note = document.createElement("p");
    note.id = "console-locking";
    note.textContent = "This console is locked. Opening the lock page…";
    document.body.replaceChildren(note);
    document.title = "Console locked · CARE Field";
    var here = window.location.pathname + window.location.search;
    window.location.replace(lockPage + "?next=" + encodeURIComponent(here));
  }

  // Timers sleep in a background tab or a closed laptop, so the wall clock decides.
  function check() {
    if (locked) {
      return;
    }
    var left = idleMs - (Date.now() - lastInput);
    if (left <= 0) {
      lockNow();
      return;
    }
    clearTimeout(timer);
    timer = setTimeout(check, Math.min(left + 50, 60000));
  }

  function input() {
    if (!locked) {
      lastInput = Date.now();
    }
  }

  // The browser also sends a pointer move when the page changes under a pointer at rest (the
  // live board redraws), and scroll events for the page's own scrolling: only a pointer that
  // really moved is the person.
  var pointerAt = null;
  function pointerMoved(event) {
    var at = event.screenX + "," + event.screenY;
    if (pointerAt !== null && at !== pointerAt) {
      input();
    }
    pointerAt = at;
  }

  ["keydown", "pointerdown", "wheel", "touchstart"].forEach(function (kind) {
    window.addEventListener(kind, input, { capture: true, passive: true });
  });
  window.addEventListener("pointermove", pointerMoved, { capture: true, passive: true });
  document.addEventListener("visibilitychange", check);
  check();
})();
