// The dispatch board's live feed (care/feed.js): every event on the dispatch stream reloads the
// board part of the page; overdue acknowledgements, lapsed check-ins and emergencies also raise
// an alert.
(function () {
  "use strict";
  var status = document.getElementById("live-status");
  var board = document.getElementById("board");
  var alerts = document.getElementById("alerts");
  var cursors = JSON.parse(document.getElementById("feed-cursors").textContent || "{}");
  var pending = null;

  function refreshBoard() {
    if (pending) return;
    pending = setTimeout(function () {
      pending = null;
      fetch("/dispatch/board/", { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
        .then(function (html) { board.innerHTML = html; })
        .catch(function () { status.textContent = "Could not refresh the board; retrying."; });
    }, 150);
  }

  function alertOverdue(data) {
    data = data || {};
    var p = document.createElement("p");
    p.className = "alert";
    p.setAttribute("role", "alert");
    p.textContent = (data.message ||
      ((data.call_sign || "A unit") + " has not acknowledged its call in time.")) +
      " Call the unit.";
    alerts.appendChild(p);
  }

  // A responder's emergency: a red alert that reads out who and where, and a tone that repeats
  // until the emergency is acknowledged on the board (care/safety.js).
  function alertEmergency(data) {
    if (window.careSafety) window.careSafety.emergency(alerts, data || {});
  }

  window.careFeed.open({
    tokenUrl: "/dispatch/console-token",
    cursors: cursors,
    status: status,
    liveText: "Live: the board updates by itself.",
    onEvent: function (frame) {
      if (frame.kind === "assignment.ack_overdue") alertOverdue(frame.data);
      if (frame.kind === "emergency.started") alertEmergency(frame.data);
      if (frame.kind === "check_in.lapsed") alertOverdue(frame.data);
      // The map (map.js) follows every event; a unit's position changes nothing in the lists.
      document.dispatchEvent(new CustomEvent("care:feed", { detail: frame }));
      if (frame.kind !== "unit.position") refreshBoard();
    }
  });
})();
