// The coordinator's pages follow referrals live (care/feed.js): a `referral.followed_up` event
// (a coordinator's follow-up, or a receiving organization updating the referral's FHIR Task)
// changes the queue's row, or the open referral's status and history, without a reload.
// Everything shown from an event is set as text: a partner's note is never read as HTML.
(function () {
  "use strict";
  var status = document.getElementById("live-status");
  var queue = document.getElementById("referral-queue");
  var history = document.getElementById("referral-history");
  var cursors = JSON.parse(document.getElementById("feed-cursors").textContent || "{}");

  function when(iso) {
    // As the page draws its times: Y-m-d H:i in the site's time zone (the table says which).
    var d = new Date(iso);
    if (isNaN(d.getTime())) return iso || "";
    var table = queue || history;
    var zone = table && table.getAttribute("data-time-zone");
    var parts = {};
    try {
      new Intl.DateTimeFormat("en-US", {
        timeZone: zone || undefined, hourCycle: "h23", year: "numeric", month: "2-digit",
        day: "2-digit", hour: "2-digit", minute: "2-digit"
      }).formatToParts(d).forEach(function (p) { parts[p.type] = p.value; });
    } catch (e) {
      return d.toISOString().slice(0, 16).replace("T", " ") + " UTC";
    }
    return parts.year + "-" + parts.month + "-" + parts.day + " " + parts.hour + ":" +
      parts.minute;
  }

  function cell(text) {
    var td = document.createElement("td");
    td.textContent = text == null ? "" : String(text);
    return td;
  }

  function updateQueueRow(data) {
    var rows = queue.querySelectorAll("tr[data-referral]");
    for (var i = 0; i < rows.length; i++) {
      if (rows[i].getAttribute("data-referral") !== data.id) continue;
      rows[i].querySelector('[data-field="status"]').textContent = data.status_label;
      rows[i].querySelector('[data-field="last-update"]').textContent =
        when(data.update.at) + " · " + data.update.by;
      rows[i].dataset.changed = "yes";
    }
  }

  function updateReferralPage(data) {
    if (history.getAttribute("data-referral") !== data.id) return;
    document.getElementById("referral-status").textContent = data.status_label;
    var body = history.tBodies[0];
    var empty = body.querySelector('tr[data-empty="yes"]');
    if (empty) empty.remove();
    var update = data.update;
    var row = document.createElement("tr");
    row.dataset.live = "yes";
    row.appendChild(cell(when(update.at)));
    row.appendChild(cell(update.by));
    row.appendChild(cell(update.from_status + " → " + update.to_status));
    row.appendChild(cell(update.note));
    row.appendChild(cell(update.follow_up_due || ""));
    body.appendChild(row);
    // The form keeps the version it was drawn with: saving it now is refused as a conflict,
    // so the coordinator sees the change before overwriting it.
    document.getElementById("changed-since").hidden = false;
  }

  window.careFeed.open({
    tokenUrl: "/coordinator/console-token",
    cursors: cursors,
    status: status,
    liveText: "Live: referral updates appear here as they happen.",
    onEvent: function (frame) {
      if (frame.kind !== "referral.followed_up" || !frame.data || !frame.data.update) return;
      if (queue) updateQueueRow(frame.data);
      if (history) updateReferralPage(frame.data);
    }
  });
})();
