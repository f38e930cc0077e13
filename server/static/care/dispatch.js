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
    if (data.id) p.setAttribute("data-overdue", data.id);
    p.textContent = (data.message ||
      ((data.call_sign || "A unit") + " has not acknowledged its call in time.")) +
      " Call the unit.";
    alerts.appendChild(p);
  }

  // The board's clock (the program's time zone), whatever the browser's own zone is.
  function boardTime(iso) {
    var zone = alerts.getAttribute("data-time-zone") || undefined;
    return new Date(iso).toLocaleTimeString("en-GB", { timeZone: zone, hour: "2-digit", minute: "2-digit" });
  }

  // An acknowledgement that reached the board after its overdue alert (a tablet that tapped it
  // offline and synced later): the alert now says when the tablet recorded it.
  function settleOverdue(data) {
    if (!data || !data.id || !data.acknowledged_at) return;
    var raised = alerts.querySelectorAll("[data-overdue]");
    for (var i = 0; i < raised.length; i++) {
      var p = raised[i];
      if (p.getAttribute("data-overdue") !== data.id || p.classList.contains("settled")) continue;
      var call = (data.incident && data.incident.cad_number) || "its call";
      p.className = "alert settled";
      p.setAttribute("role", "status");
      p.textContent = (data.call_sign || "The unit") + " acknowledged " + call + " at " +
        boardTime(data.acknowledged_at) + " on the tablet (it reached the board later).";
    }
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
      if (frame.kind === "assignment.updated") settleOverdue(frame.data);
      if (frame.kind === "emergency.started") alertEmergency(frame.data);
      if (frame.kind === "check_in.lapsed") alertOverdue(frame.data);
      // The map (map.js) follows every event; a unit's position changes nothing in the lists.
      document.dispatchEvent(new CustomEvent("care:feed", { detail: frame }));
      if (frame.kind !== "unit.position") refreshBoard();
    }
  });
})();
