// The dispatch board's live feed: a device token fetched with the signed-in session (sent in the
// hello frame, never in a URL), then every event on the dispatch stream reloads the board part
// of the page. The socket is the fast path; on a drop the page reconnects and the server replays.
(function () {
  "use strict";
  var status = document.getElementById("live-status");
  var board = document.getElementById("board");
  var alerts = document.getElementById("alerts");
  var cursors = JSON.parse(document.getElementById("feed-cursors").textContent || "{}");
  var pending = null;

  function csrf() {
    var m = document.cookie.match(/(?:^|; )csrftoken=([^;]+)/);
    return m ? decodeURIComponent(m[1]) : "";
  }

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

  function connect(token) {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    var ws = new WebSocket(scheme + location.host + "/ws/feed/");
    ws.onopen = function () {
      ws.send(JSON.stringify({ type: "hello", token: token, cursors: cursors,
                               client_time: new Date().toISOString() }));
    };
    ws.onmessage = function (message) {
      var frame = JSON.parse(message.data);
      if (frame.type === "welcome") {
        status.textContent = "Live: the board updates by itself.";
        document.body.dataset.live = "yes";
      } else if (frame.type === "event") {
        cursors[frame.stream] = frame.seq;
        ws.send(JSON.stringify({ type: "ack", stream: frame.stream, seq: frame.seq }));
        if (frame.kind === "assignment.ack_overdue") alertOverdue(frame.data);
        if (frame.kind === "emergency.started") alertEmergency(frame.data);
        if (frame.kind === "check_in.lapsed") alertOverdue(frame.data);
        // The map (map.js) follows every event; a unit's position changes nothing in the lists.
        document.dispatchEvent(new CustomEvent("care:feed", { detail: frame }));
        if (frame.kind !== "unit.position") refreshBoard();
      } else if (frame.type === "ping") {
        ws.send(JSON.stringify({ type: "pong" }));
      }
    };
    ws.onclose = function (event) {
      document.body.dataset.live = "no";
      if (event.code === 4401 || event.code === 4403) {
        status.textContent = "The live feed refused this page; sign in again.";
        return;
      }
      status.textContent = "Live feed lost; reconnecting…";
      setTimeout(start, 2000);
    };
  }

  function start() {
    fetch("/dispatch/console-token", { method: "POST", credentials: "same-origin",
                                       headers: { "X-CSRFToken": csrf() } })
      .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
      .then(function (body) { connect(body.token); })
      .catch(function () {
        status.textContent = "Could not open the live feed; retrying.";
        setTimeout(start, 5000);
      });
  }

  start();
})();
