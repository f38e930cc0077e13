"""The map's reads and the pin: nearest-unit suggestions, address search (the gazetteer and a
real Nominatim-format service on a local port), screening a point and locating a call."""

from __future__ import annotations

import datetime
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
from django.utils import timezone

from server.audit.models import AuditEntry
from server.dispatch.models import Incident, Unit
from server.feed.models import Event
from tests.conftest import CENTRAL_DISTRICT, DOWNTOWN
from tests.server.dispatch.conftest import reference  # noqa: F401 - the fast reference data

pytestmark = pytest.mark.django_db

PIKE_PLACE = (47.6097, -122.3422)
NORTHGATE = (47.7066, -122.3255)


def place(unit: Unit, where: tuple[float, float], age_seconds: float = 30) -> None:
    unit.last_latitude, unit.last_longitude = where
    unit.last_position_at = timezone.now() - datetime.timedelta(seconds=age_seconds)
    unit.save()


def suggestions(client, incident_id: str) -> dict:
    answer = client.get(f"/api/v1/incidents/{incident_id}/suggested-units")
    assert answer.status_code == 200, answer.content
    return answer.json()


def test_suggested_units_rank_by_distance_from_fresh_positions(client_for, new_call, units):
    incident = new_call()
    place(units["CARE-1"], NORTHGATE)
    place(units["CARE-2"], PIKE_PLACE)
    found = suggestions(client_for("dispatcher"), incident["id"])
    assert [c["call_sign"] for c in found["care"]] == ["CARE-2", "CARE-1"]
    first = found["care"][0]
    assert first["basis"] == "position"
    # Pike Place to 3rd & Pine is about 220 m; at 30 km/h (500 m a minute), under a minute.
    assert 150 < first["distance_m"] < 300
    assert first["eta_minutes"] == pytest.approx(first["distance_m"] / 500, abs=0.1)


def test_a_unit_without_a_fresh_fix_is_placed_by_its_home_beat(
    client_for, new_call, units, settings
):
    settings.CARE_POSITION_FRESH_SECONDS = 300
    incident = new_call()
    place(units["CARE-1"], PIKE_PLACE, age_seconds=3600)  # an hour old: not believed
    Unit.objects.filter(pk=units["CARE-1"].pk).update(home_beat="M1")
    Unit.objects.filter(pk=units["CARE-2"].pk).update(home_beat="N1")
    found = suggestions(client_for("dispatcher"), incident["id"])
    by_sign = {c["call_sign"]: c for c in found["care"]}
    assert by_sign["CARE-1"]["basis"] == "beat"
    assert [c["call_sign"] for c in found["care"]] == ["CARE-1", "CARE-2"]
    assert by_sign["CARE-2"]["distance_m"] > by_sign["CARE-1"]["distance_m"]


def test_a_committed_unit_is_not_suggested(client_for, dispatched, new_call, units):
    dispatched()
    other = new_call()
    found = suggestions(client_for("dispatcher"), other["id"])
    assert [c["call_sign"] for c in found["care"]] == ["CARE-2"]
    assert [c["call_sign"] for c in found["spd"]] == ["2K21"]


def test_field_units_may_not_ask_for_suggestions(client_for, new_call):
    incident = new_call()
    answer = client_for("care1").get(f"/api/v1/incidents/{incident['id']}/suggested-units")
    assert answer.status_code == 403


def test_the_gazetteer_offers_addresses_the_system_has_placed(client_for, new_call):
    new_call(address="1500 Pike Pl", latitude=47.6097, longitude=-122.3422)
    answer = client_for("dispatcher").get("/api/v1/geocode", {"q": "pike pl"})
    assert answer.status_code == 200
    assert answer.json() == [
        {
            "label": "1500 Pike Pl",
            "latitude": 47.6097,
            "longitude": -122.3422,
            "source": "gazetteer",
        }
    ]


def test_address_search_refuses_an_empty_query_and_field_units(client_for, people):
    assert client_for("dispatcher").get("/api/v1/geocode", {"q": " "}).status_code == 400
    assert client_for("care1").get("/api/v1/geocode", {"q": "pike"}).status_code == 403


class _Nominatim(BaseHTTPRequestHandler):
    """Answers /search as Nominatim does (format=json), and remembers what it was asked."""

    asked: list[dict] = []

    def do_GET(self):
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        type(self).asked.append({"path": url.path, **query})
        body = [
            {
                "place_id": 1,
                "lat": "47.6101",
                "lon": "-122.3421",
                "display_name": "Pike Place Market, Seattle, King County, Washington, USA",
            }
        ]
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def nominatim():
    _Nominatim.asked = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Nominatim)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_nominatim_service_adds_its_candidates_beside_the_gazetteer(
    client_for, new_call, settings, nominatim
):
    settings.GEOCODER_URL = nominatim
    new_call(address="Pike Place Market stairs", latitude=47.6097, longitude=-122.3422)
    found = client_for("dispatcher").get("/api/v1/geocode", {"q": "Pike Place"}).json()
    assert [c["source"] for c in found] == ["gazetteer", "geocoder"]
    assert found[1] == {
        "label": "Pike Place Market, Seattle, King County, Washington, USA",
        "latitude": 47.6101,
        "longitude": -122.3421,
        "source": "geocoder",
    }
    [asked] = _Nominatim.asked
    assert asked["path"] == "/search"
    assert asked["q"] == ["Pike Place"]


def test_a_geocoder_that_does_not_answer_leaves_the_gazetteer_candidates(
    client_for, new_call, settings, refused_url
):
    settings.GEOCODER_URL = refused_url  # a port the test holds: nothing can answer there
    new_call(address="1500 Pike Pl", latitude=47.6097, longitude=-122.3422)
    answer = client_for("dispatcher").get("/api/v1/geocode", {"q": "Pike"})
    assert answer.status_code == 200
    assert [c["source"] for c in answer.json()] == ["gazetteer"]


def test_screening_a_point_says_where_it_falls_and_saves_nothing(client_for, people):
    before = Incident.objects.count()
    inside = client_for("dispatcher").get("/api/v1/screen-point", DOWNTOWN).json()
    outside = client_for("dispatcher").get("/api/v1/screen-point", CENTRAL_DISTRICT).json()
    assert inside["in_pilot_area"] is True and inside["beat"] == "M1"
    assert outside["in_pilot_area"] is False
    assert Incident.objects.count() == before
    bad = client_for("dispatcher").get("/api/v1/screen-point", {"latitude": "north"})
    assert bad.status_code == 400


def test_locating_a_call_moves_it_and_screens_it_again(client_for, new_call):
    incident = new_call(**CENTRAL_DISTRICT)
    assert incident["in_pilot_area"] is False
    answer = client_for("dispatcher").post(
        f"/api/v1/incidents/{incident['id']}/locate",
        {**DOWNTOWN, "address": "3rd Ave & Pine St"},
        format="json",
    )
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert body["in_pilot_area"] is True and body["beat"] == "M1"
    assert body["latitude"] == DOWNTOWN["latitude"]
    assert AuditEntry.objects.filter(action="incident.located").count() == 1
    assert Event.objects.filter(stream_id="dispatch", kind="incident.updated").exists()


def test_a_call_that_needed_a_location_is_screened_once_placed(client_for, new_call):
    incident = new_call()
    Incident.objects.filter(pk=incident["id"]).update(
        status="needs_location", latitude=None, longitude=None, beat="", area=""
    )
    answer = client_for("dispatcher").post(
        f"/api/v1/incidents/{incident['id']}/locate", DOWNTOWN, format="json"
    )
    assert answer.status_code == 200, answer.content
    assert answer.json()["status"] == "screened"
    assert answer.json()["beat"] == "M1"


def test_a_dispatched_call_is_not_moved_by_locate(client_for, dispatched):
    call = dispatched()
    answer = client_for("dispatcher").post(
        f"/api/v1/incidents/{call['incident']['id']}/locate", CENTRAL_DISTRICT, format="json"
    )
    assert answer.status_code == 409
    assert Incident.objects.get(pk=call["incident"]["id"]).latitude == DOWNTOWN["latitude"]


def test_locate_refuses_coordinates_off_the_globe(client_for, new_call):
    incident = new_call()
    answer = client_for("dispatcher").post(
        f"/api/v1/incidents/{incident['id']}/locate",
        {"latitude": 147.6, "longitude": -122.3},
        format="json",
    )
    assert answer.status_code == 400
    assert "latitude" in answer.json()["fields"]


def test_the_board_serves_leaflet_itself_and_draws_no_tiles_unless_configured(
    people, client, settings
):
    client.force_login(people["dispatcher"])
    page = client.get("/dispatch/").content.decode()
    sources = re.findall(r'<(?:script src|link rel="stylesheet" href)="([^"]+)"', page)
    assert "/static/vendor/leaflet/leaflet.js" in sources
    assert all(s.startswith("/static/") for s in sources), sources
    assert 'data-tile-url=""' in page
    settings.MAP_TILE_URL = "https://tiles.example.org/{z}/{x}/{y}.png"
    page = client.get("/dispatch/").content.decode()
    assert 'data-tile-url="https://tiles.example.org/{z}/{x}/{y}.png"' in page


def test_the_maps_state_holds_open_calls_by_colour_and_units_with_positions(
    people, client, dispatched, units
):
    call = dispatched()
    place(units["2K21"], PIKE_PLACE)
    client.force_login(people["dispatcher"])
    state = client.get("/dispatch/map/state.json").json()
    [shown] = [c for c in state["calls"] if c["id"] == call["incident"]["id"]]
    assert shown["state"] == "dispatched"
    by_sign = {u["call_sign"]: u for u in state["units"]}
    assert by_sign["2K21"]["position"]["latitude"] == PIKE_PLACE[0]
    assert by_sign["CARE-1"]["assignment"]["cad_number"] == call["incident"]["cad_number"]
    client.force_login(people["care1"])
    assert client.get("/dispatch/map/state.json").status_code in (302, 403)


def test_the_protocol_gives_the_tablet_the_pilot_areas_outline(client_for):
    protocol = client_for("care1").get("/api/v1/protocol").json()
    outline = protocol["pilot_area"]
    assert outline["type"] in ("Polygon", "MultiPolygon")
    assert len(json.dumps(outline)) < 50_000  # a tablet's small map, not the survey
