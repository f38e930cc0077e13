// The consoles' live feed (the dispatch board, the coordinator's pages): a device token fetched
// with the signed-in session (sent in the hello frame, never in a URL), then every event handed to
// the page. The socket is the fast path; on a drop the page reconnects and the server replays
// from the cursors it keeps.
//
//   careFeed.open({ tokenUrl, cursors, status, liveText, onEvent })
//     tokenUrl  the page's console-token door (POST, with the session's CSRF token)
//     cursors   {stream: seq} the page was drawn at (json_script "feed-cursors")
//     status    the element that says how the feed is
//     liveText  what it says once live
//     onEvent   called with each event frame {stream, seq, kind, data}, in order, once: a frame
//               at or below the page's cursor for its stream (a priority frame sent again, the
//               replay after a reconnect overlapping what the page had) is acked, not applied
(function () {
  "use strict";

  function csrf() {
    var m = document.cookie.match(/(?:^|; )csrftoken=([^;]+)/);
    return m ? decodeURIComponent(m[1]) : "";
  }

  function open(options) {
    var status = options.status;
    var cursors = options.cursors || {};

    function say(text) {
      if (status) status.textContent = text;
    }

    // An ack covers every event up to its seq: a page catching up on hundreds of events sends
    // one ack per stream a quarter second, not one a frame (which the server's frame budget would
    // take for a flood and close).
    var unacked = {};
    var ackTimer = null;

    function ackLater(ws, stream, seq) {
      if (!(unacked[stream] >= seq)) unacked[stream] = seq;
      if (ackTimer !== null) return;
      ackTimer = setTimeout(function () {
        ackTimer = null;
        if (ws.readyState !== WebSocket.OPEN) return;
        Object.keys(unacked).forEach(function (name) {
          ws.send(JSON.stringify({ type: "ack", stream: name, seq: unacked[name] }));
        });
        unacked = {};
      }, 250);
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
          say(options.liveText || "Live: this page updates by itself.");
          document.body.dataset.live = "yes";
        } else if (frame.type === "event") {
          // Acked either way: the server sends a priority frame again until its seq is acked.
          ackLater(ws, frame.stream, frame.seq);
          if (frame.seq <= (cursors[frame.stream] || 0)) return;  // applied already
          cursors[frame.stream] = frame.seq;
          options.onEvent(frame);
        } else if (frame.type === "error" && frame.code === "cursor_ahead") {
          // The server's stream ends before the page's cursor (its database was restored): every
          // new event would look applied already. Draw the page afresh, with the server's cursors.
          location.reload();
        } else if (frame.type === "ping") {
          ws.send(JSON.stringify({ type: "pong" }));
        }
      };
      ws.onclose = function (event) {
        document.body.dataset.live = "no";
        if (event.code === 4401 || event.code === 4403) {
          say("The live feed refused this page; sign in again.");
          return;
        }
        say("Live feed lost; reconnecting…");
        setTimeout(start, 2000);
      };
    }

    function start() {
      fetch(options.tokenUrl, { method: "POST", credentials: "same-origin",
                                headers: { "X-CSRFToken": csrf() } })
        .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
        .then(function (body) { connect(body.token); })
        .catch(function () {
          say("Could not open the live feed; retrying.");
          setTimeout(start, 5000);
        });
    }

    start();
  }

  window.careFeed = { open: open };
})();
