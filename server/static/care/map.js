// The dispatch map (Leaflet, served by this site). On the board: the pilot area and SPD beats,
// open calls coloured by state, CARE and SPD units with the age of their position, following the
// live feed (dispatch.js passes each event on as a "care:feed" DOM event). On the board's new-call
// form and a call's page: a pin the dispatcher clicks or drags, screened live (pilot area, beat),
// and an address search whose candidates the dispatcher picks from.
(function () {
  "use strict";
  var el = document.getElementById("map");
  if (!el || !window.L) return;

  var STALE_MS = 2 * 60 * 1000; // a unit not heard from for 2 minutes is drawn dimmed
  var SEATTLE = [47.6062, -122.3321];
  var mode = el.dataset.mode;
  var info = document.getElementById("map-info");
  var serverOffset = 0; // server clock minus this browser's, from the state's "now"

  var map = L.map(el, { zoomControl: true }).setView(SEATTLE, 12);
  if (el.dataset.tileUrl) {
    L.tileLayer(el.dataset.tileUrl, { attribution: el.dataset.attribution, maxZoom: 19 }).addTo(map);
  } else {
    el.classList.add("map-plain"); // no tiles configured: vector layers on a plain background
  }

  function getJSON(url) {
    return fetch(url, { credentials: "same-origin" }).then(function (r) {
      return r.ok ? r.json() : Promise.reject(r.status);
    });
  }

  function text(value) { return value === null || value === undefined ? "" : String(value); }

  // ---- layers: pilot area and beats ---------------------------------------------------------
  getJSON("/dispatch/map/layers.json").then(function (layers) {
    var beats = L.geoJSON(layers.beats, {
      interactive: false, style: { color: "#6b6b6b", weight: 1, fill: false, dashArray: "3 3" }
    }).addTo(map);
    var pilot = L.geoJSON(layers.pilot_area, {
      interactive: false, style: { color: "#12284c", weight: 2, fillColor: "#4a78c2", fillOpacity: 0.08 }
    }).addTo(map);
    L.control.layers(null, { "CARE pilot area": pilot, "SPD beats": beats }).addTo(map);
    if (!pin && pilot.getLayers().length) map.fitBounds(pilot.getBounds());
    el.dataset.layers = "loaded";
  });

  // ---- the pin: click or drag to place a call, screened as it moves ------------------------
  var latInput = document.querySelector("[data-pin-lat]");
  var lonInput = document.querySelector("[data-pin-lon]");
  var addressInput = document.querySelector("[data-pin-address]");
  var screening = document.getElementById("pin-screening");
  var pinnable = latInput && lonInput && (mode === "board" || el.dataset.locatable === "yes");
  var pin = null;
  var screenTimer = null;
  var screenSeq = 0;

  var pinIcon = L.divIcon({ className: "call-pin", html: "<span></span>", iconSize: [22, 22],
                            iconAnchor: [11, 22] });

  function screenPoint(latlng) {
    if (!screening) return;
    clearTimeout(screenTimer);
    screenTimer = setTimeout(function () {
      var mine = ++screenSeq;
      screening.textContent = "Screening this point…";
      getJSON("/api/v1/screen-point?latitude=" + latlng.lat + "&longitude=" + latlng.lng)
        .then(function (place) {
          if (mine !== screenSeq) return; // a newer point was asked for meanwhile
          screening.dataset.inPilot = place.in_pilot_area ? "yes" : "no";
          screening.dataset.beat = place.beat;
          screening.textContent =
            (place.beat ? "Beat " + place.beat : "No SPD beat") +
            (place.area ? " · " + place.area : "") + " · " +
            (place.in_pilot_area ? "inside the CARE pilot area" : "outside the CARE pilot area");
        })
        .catch(function () { screening.textContent = "Could not screen this point."; });
    }, 120);
  }

  function placePin(latlng, options) {
    options = options || {};
    if (!pin) {
      pin = L.marker(latlng, { icon: pinIcon, draggable: pinnable, keyboard: true,
                               title: "The call's location", zIndexOffset: 1000 }).addTo(map);
      pin.on("drag", function () { screenPoint(pin.getLatLng()); writeInputs(pin.getLatLng()); });
      pin.on("dragend", function () { screenPoint(pin.getLatLng()); writeInputs(pin.getLatLng()); });
    } else {
      pin.setLatLng(latlng);
    }
    if (!options.fromInputs) writeInputs(latlng);
    if (options.pan) map.panTo(latlng);
    if (pinnable) screenPoint(latlng);
  }

  function writeInputs(latlng) {
    if (!latInput) return;
    latInput.value = latlng.lat.toFixed(6);
    lonInput.value = latlng.lng.toFixed(6);
  }

  function readInputs() {
    var lat = parseFloat(latInput.value), lon = parseFloat(lonInput.value);
    if (isFinite(lat) && isFinite(lon) && Math.abs(lat) <= 90 && Math.abs(lon) <= 180) {
      placePin(L.latLng(lat, lon), { fromInputs: true, pan: true });
    }
  }

  if (pinnable) {
    map.on("click", function (e) { placePin(e.latlng); });
    latInput.addEventListener("change", readInputs);
    lonInput.addEventListener("change", readInputs);
  }
  if (el.dataset.latitude) {
    var here = L.latLng(parseFloat(el.dataset.latitude), parseFloat(el.dataset.longitude));
    placePin(here, { fromInputs: true });
    map.setView(here, 15);
  } else if (latInput && latInput.value && lonInput.value) {
    readInputs(); // the form came back refused: keep the point the dispatcher chose
  }

  // ---- address search: candidates to pick, never a silent rewrite ---------------------------
  var searchInput = document.querySelector("[data-geocode-input]");
  var searchGo = document.querySelector("[data-geocode-go]");
  var results = document.querySelector("[data-geocode-results]");

  function search() {
    var q = searchInput.value.trim();
    results.textContent = "";
    if (q.length < 2) return;
    getJSON("/api/v1/geocode?q=" + encodeURIComponent(q)).then(function (found) {
      if (!found.length) {
        var none = document.createElement("li");
        none.textContent = "No candidates; place the pin on the map instead.";
        results.appendChild(none);
      }
      found.forEach(function (c) {
        var li = document.createElement("li");
        var b = document.createElement("button");
        b.type = "button";
        b.className = "secondary candidate";
        b.textContent = c.label + " (" + (c.source === "gazetteer" ? "seen before" : "geocoder") + ")";
        b.addEventListener("click", function () {
          placePin(L.latLng(c.latitude, c.longitude), { pan: true });
          map.setZoom(Math.max(map.getZoom(), 15));
          // The typed address stays; an empty one takes the chosen candidate's label.
          if (addressInput && !addressInput.value.trim()) addressInput.value = c.label;
          results.textContent = "";
        });
        li.appendChild(b);
        results.appendChild(li);
      });
    }).catch(function () { results.textContent = "Address search failed; place the pin instead."; });
  }

  if (searchInput && searchGo && results) {
    searchGo.addEventListener("click", search);
    searchInput.addEventListener("keydown", function (e) {
      if (e.key === "Enter") { e.preventDefault(); search(); } // not the form's submit
    });
  }

  if (mode !== "board") return;

  // ---- the board: calls and units, live ------------------------------------------------------
  var calls = L.layerGroup().addTo(map);
  var unitMarkers = {}; // unit id -> {marker, unit}
  var STATE_LABEL = { waiting: "waiting", dispatched: "dispatched", on_scene: "on scene",
                      scene_unsafe: "scene unsafe", needs_location: "needs a location" };

  function ageSeconds(unit) {
    if (!unit.position) return null;
    var at = Date.parse(unit.position.recorded_at);
    return Math.max(0, Math.round((Date.now() + serverOffset - at) / 1000));
  }

  function ageText(seconds) {
    if (seconds === null) return "no position reported";
    if (seconds < 90) return "position " + seconds + " s old";
    return "position " + Math.round(seconds / 60) + " min old";
  }

  function unitTooltip(entry) {
    var u = entry.unit;
    var doing = u.assignment ? "on call " + u.assignment.cad_number + " (" + u.assignment.status + ")"
      : (u.available ? "available" : (u.in_service ? "committed" : "out of service"));
    return u.call_sign + " · " + doing + " · " + ageText(ageSeconds(u));
  }

  function refreshAge(entry) {
    var seconds = ageSeconds(entry.unit);
    var node = entry.marker.getElement();
    if (!node) return;
    var stale = seconds === null || seconds * 1000 > STALE_MS;
    node.classList.toggle("unit-stale", stale);
    var icon = node.querySelector(".unit-icon");
    icon.dataset.stale = stale ? "yes" : "no";
    icon.dataset.age = seconds === null ? "" : String(seconds);
    icon.title = unitTooltip(entry);
  }

  // Leaflet puts a string tooltip in as HTML; the CAD's address, call type and number, and a
  // unit's call sign, are text from outside, so they go in as a text node.
  function asText(text) {
    var span = document.createElement("span");
    span.textContent = text;
    return span;
  }

  function unitIcon(unit) {
    var kind = unit.kind === "care" ? "care" : "spd";
    var span = document.createElement("span");
    span.className = "unit-icon unit-" + kind;
    span.dataset.unit = unit.call_sign;
    span.textContent = kind === "care" ? "C" : "P";
    var label = document.createElement("span");
    label.className = "unit-label";
    label.textContent = unit.call_sign;
    var wrap = document.createElement("div");
    wrap.appendChild(span);
    wrap.appendChild(label);
    // The element itself, never its markup: Leaflet would parse a string as HTML.
    return L.divIcon({ className: "unit-marker", html: wrap, iconSize: [26, 26],
                       iconAnchor: [13, 13] });
  }

  function showUnit(entry) {
    var u = entry.unit;
    if (!info) return;
    info.textContent = "";
    info.appendChild(document.createTextNode(u.call_sign + ": "));
    if (u.assignment) {
      var a = document.createElement("a");
      a.href = "/dispatch/calls/" + u.assignment.incident + "/";
      a.textContent = "call " + u.assignment.cad_number;
      info.appendChild(a);
      info.appendChild(document.createTextNode(" — " + u.assignment.status.replace(/_/g, " ")));
    } else {
      info.appendChild(document.createTextNode(u.available ? "available, no assignment"
        : (u.in_service ? "committed" : "out of service")));
    }
    info.appendChild(document.createTextNode(" · " + ageText(ageSeconds(u)) + "."));
  }

  function placeUnit(unit) {
    var entry = unitMarkers[unit.id];
    if (!unit.position) {
      if (entry) { map.removeLayer(entry.marker); delete unitMarkers[unit.id]; }
      return;
    }
    var where = [unit.position.latitude, unit.position.longitude];
    if (!entry) {
      entry = { unit: unit, marker: L.marker(where, { icon: unitIcon(unit), keyboard: true,
                                                      bubblingMouseEvents: false }) };
      entry.marker.bindTooltip(function () { return asText(unitTooltip(entry)); });
      entry.marker.on("click", function () { showUnit(entry); });
      entry.marker.addTo(map);
      unitMarkers[unit.id] = entry;
    } else {
      entry.unit = unit;
      entry.marker.setLatLng(where);
    }
    refreshAge(entry);
  }

  function drawCalls(list) {
    calls.clearLayers();
    var waiting = [];
    list.forEach(function (c) {
      if (c.state === "needs_location") { waiting.push(c); return; }
      var marker = L.circleMarker([c.latitude, c.longitude], {
        radius: 8, weight: 2, color: "#111", fillOpacity: 0.9, bubblingMouseEvents: false,
        className: "call-marker state-" + c.state + " call-" + c.id
      });
      marker.bindTooltip(asText(c.cad_number + " · " + c.call_type + " · " + c.address + " · " +
                                STATE_LABEL[c.state]));
      marker.on("click", function () { window.location.href = "/dispatch/calls/" + c.id + "/"; });
      calls.addLayer(marker);
    });
    listNeedsLocation(waiting);
  }

  function listNeedsLocation(list) {
    var box = document.getElementById("needs-location");
    if (!box) return;
    box.textContent = "";
    if (!list.length) return;
    var h = document.createElement("p");
    h.className = "problem";
    h.textContent = "Calls that need a location (not on the map):";
    var ul = document.createElement("ul");
    list.forEach(function (c) {
      var li = document.createElement("li");
      var a = document.createElement("a");
      a.href = "/dispatch/calls/" + c.id + "/";
      a.textContent = c.cad_number + " · " + c.call_type + " · " + c.address;
      li.appendChild(a);
      ul.appendChild(li);
    });
    box.appendChild(h);
    box.appendChild(ul);
  }

  var loading = null;
  function loadState() {
    if (loading) return; // one request at a time; the next change asks again
    loading = setTimeout(function () {
      getJSON("/dispatch/map/state.json").then(function (state) {
        loading = null;
        serverOffset = Date.parse(state.now) - Date.now();
        drawCalls(state.calls);
        var seen = {};
        state.units.forEach(function (u) { seen[u.id] = true; placeUnit(u); });
        Object.keys(unitMarkers).forEach(function (id) {
          if (!seen[id]) { map.removeLayer(unitMarkers[id].marker); delete unitMarkers[id]; }
        });
        el.dataset.state = "loaded";
      }).catch(function () { loading = null; });
    }, 150);
  }

  document.addEventListener("care:feed", function (e) {
    var frame = e.detail;
    if (frame.kind === "unit.position") {
      var d = frame.data;
      var entry = unitMarkers[d.unit];
      var unit = entry ? entry.unit : { id: d.unit, call_sign: d.call_sign, kind: d.kind,
                                        available: true, in_service: true, assignment: null };
      unit.position = d.position;
      placeUnit(unit);
      el.dataset.positions = String((parseInt(el.dataset.positions || "0", 10)) + 1);
    } else {
      loadState();
    }
  });

  setInterval(function () {
    Object.keys(unitMarkers).forEach(function (id) { refreshAge(unitMarkers[id]); });
  }, 5000);

  loadState();
})();
