// Responder emergencies on the dispatch board: a red alert naming the unit, its last position
// and its call, and an audible tone repeated while any emergency on the board is unacknowledged.
(function () {
  "use strict";
  var audio = null;
  var timer = null;

  function tone() {
    try {
      audio = audio || new (window.AudioContext || window.webkitAudioContext)();
      var osc = audio.createOscillator();
      var gain = audio.createGain();
      osc.type = "square";
      osc.frequency.value = 880;
      gain.gain.value = 0.2;
      osc.connect(gain);
      gain.connect(audio.destination);
      osc.start();
      osc.stop(audio.currentTime + 0.4);
    } catch (e) { /* no audio device: the red alert still shows */ }
  }

  function unacknowledged() {
    return document.querySelector('.emergency[data-acknowledged="no"]') !== null;
  }

  function sound() {
    if (timer) return;
    tone();
    timer = setInterval(function () {
      if (unacknowledged() || document.querySelector(".emergency-alert")) tone();
      else { clearInterval(timer); timer = null; }
    }, 2000);
  }

  function emergency(alerts, data) {
    var p = document.createElement("p");
    p.className = "alert emergency-alert";
    p.setAttribute("role", "alert");
    p.style.background = "#b00020";
    p.style.color = "#fff";
    p.style.fontWeight = "bold";
    var where = data.latitude != null ? " at " + data.latitude.toFixed(5) + ", " +
      data.longitude.toFixed(5) : " (position unknown)";
    var call = data.incident ? " on call " + data.incident.cad_number + ", " +
      data.incident.address : "";
    p.textContent = "EMERGENCY: " + (data.call_sign || "A unit") + where + call +
      ". Acknowledge it on the board.";
    p.dataset.emergency = data.id || "";
    alerts.appendChild(p);
    sound();
  }

  document.addEventListener("click", function (event) {
    // The dispatcher's first click anywhere also unlocks audio for browsers that need a gesture.
    if (audio && audio.state === "suspended") audio.resume();
    if (event.target.classList && event.target.classList.contains("acknowledge-emergency")) {
      var alerts = document.querySelectorAll(".emergency-alert");
      for (var i = 0; i < alerts.length; i++) alerts[i].remove();
    }
  });

  window.careSafety = { emergency: emergency };
  if (unacknowledged()) sound();
})();
