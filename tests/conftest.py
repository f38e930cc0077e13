"""Shared fixtures: the reference data, the demo's units and people, and API clients that sign in
as each role through the real token endpoint."""

from __future__ import annotations

import datetime
import os
import socket
import uuid
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings as django_settings
from django.utils import timezone
from hypothesis import settings as hypothesis_settings
from rest_framework.test import APIClient

from server.accounts.models import Role, User
from server.audit.actions import declare_audit_actions
from server.care.reference_data import load_reference_data
from server.dispatch.models import CallType, Shift, Unit
from server.feed.services import declare_event_kinds

SEATTLE = ZoneInfo("America/Los_Angeles")
PASSWORD = "care-demo"
# 3rd Ave & Pine St: inside DOWNTOWN COMMERICAL, beat M1.
DOWNTOWN = {"latitude": 47.6107, "longitude": -122.3396}
# 23rd Ave & E Union St: Central District, outside the pilot area.
CENTRAL_DISTRICT = {"latitude": 47.6131, "longitude": -122.3020}
NO = {"weapons": False, "violence": False, "medical_emergency": False, "imminent_danger": False}

# Kinds the feed's own tests publish to exercise numbering, replay and delivery; the feed refuses
# any kind no app declared.
declare_event_kinds(
    {
        kind: "test event"
        for kind in (
            "k",
            "load",
            "first",
            "second",
            "third",
            "kept",
            "also kept",
            "cancelled",
            "delivered",
            "dropped",
            "test.a",
            "test.after",
            "test.c",
            "test.event",
            "test.lost",
            "test.missed",
            "test.n",
            "test.note",
            "test.secret",
            "test.marker",
            "test.while_down",
            "test.done",
            "test.undone",
        )
    }
)

# Audit actions the audit trail's own tests write (every other name is the server's).
declare_audit_actions({"test.done": "test entry", "t": "test entry"})


def _own_channel_layer_prefix() -> str:
    """One Redis channel-layer prefix per test process: two runs (or two xdist workers) on the
    same Redis must not hear each other's `feed.dispatch`. Set in the environment too, so the
    Daphne processes the end-to-end tests start use the same one."""
    run = os.environ.setdefault("CARE_TEST_RUN_ID", uuid.uuid4().hex[:12])
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    prefix = f"test-{run}-{worker}"
    os.environ["CHANNEL_LAYER_PREFIX"] = prefix
    config = django_settings.CHANNEL_LAYERS["default"].get("CONFIG")
    if config is not None:
        config["prefix"] = prefix
    return prefix


CHANNEL_LAYER_PREFIX = _own_channel_layer_prefix()

# Property tests draw the same examples every run (a seed derived from each test), so a red CI
# run is a real regression, not bad luck. CARE_RANDOM_CAMPAIGN=1 draws fresh examples for a
# long hunt (with CARE_HYPOTHESIS_EXAMPLES / CARE_FUZZ_EXAMPLES raised); a failure it finds is
# printed with its reproduction blob, and `pytest --hypothesis-seed=N` replays a given seed.
RANDOM_CAMPAIGN = os.environ.get("CARE_RANDOM_CAMPAIGN") == "1"
hypothesis_settings.register_profile("care", derandomize=not RANDOM_CAMPAIGN, print_blob=True)
hypothesis_settings.load_profile("care")

# Folders whose tests need a piece of the machine (Chromium, Kivy under Xvfb). Locally they skip
# with the reason; CI sets the variable so a skip there is an error instead of a silent pass.
REQUIRED = {
    "CARE_REQUIRE_BROWSER": ("tests/browser/", "the browser tests"),
    "CARE_REQUIRE_KIVY": ("tests/mobile/ui/", "the tablet (Kivy) tests"),
}
# Skips that follow from the pass's chosen services, not from a missing machine piece.
SERVICE_SKIPS = ("needs PostgreSQL", "needs Redis")


def _required_folder(nodeid: str) -> str | None:
    for variable, (folder, what) in REQUIRED.items():
        if nodeid.startswith(folder) and os.environ.get(variable) == "1":
            return f"{what} must run here ({variable}=1)"
    return None


def _skip_reason(report) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2])
    return str(longrepr)


def _skip_becomes_error(report) -> None:
    if not report.skipped:
        return
    required = _required_folder(report.nodeid)
    reason = _skip_reason(report)
    if required and not any(s in reason for s in SERVICE_SKIPS):
        report.outcome = "failed"
        report.longrepr = f"{required}, but it was skipped: {reason}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    _skip_becomes_error(outcome.get_result())


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    outcome = yield
    _skip_becomes_error(outcome.get_result())


def pytest_collection_modifyitems(config, items):
    db_url = os.environ.get("DATABASE_URL", "")
    redis_url = os.environ.get("REDIS_URL", "")
    for item in items:
        if "postgres" in item.keywords and not db_url.startswith("postgres"):
            item.add_marker(pytest.mark.skip(reason="needs PostgreSQL: set DATABASE_URL"))
        if "redis" in item.keywords and not redis_url.startswith("redis"):
            item.add_marker(pytest.mark.skip(reason="needs Redis: set REDIS_URL"))


def pytest_sessionfinish(session, exitstatus):
    """Drop the demo database the served-system tests copy from (tests/e2e/conftest.py)."""
    from tests.e2e.conftest import demo_template

    demo_template.drop()


@pytest.fixture
def refused_url():
    """A server address that refuses connections for as long as the test runs: the test holds
    the port bound without listening, so nothing else can be serving there (unlike "port 9 is
    closed", which is only usually true)."""
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{held.getsockname()[1]}"


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def reference(db):
    """Pilot area, beats, call types, protocol, catalogs and directory."""
    if not CallType.objects.exists():
        load_reference_data()


@pytest.fixture
def units(reference) -> dict[str, Unit]:
    spec = [("CARE-1", "care"), ("CARE-2", "care"), ("2M12", "spd"), ("2K21", "spd")]
    return {
        sign: Unit.objects.get_or_create(call_sign=sign, defaults={"kind": kind})[0]
        for sign, kind in spec
    }


@pytest.fixture
def people(units) -> dict[str, User]:
    spec = [
        ("dispatcher", Role.DISPATCHER, None),
        ("care1", Role.CARE_RESPONDER, "CARE-1"),
        ("care3", Role.CARE_RESPONDER, "CARE-2"),
        ("officer1", Role.SPD_OFFICER, "2M12"),
        ("officer2", Role.SPD_OFFICER, "2K21"),
        ("coordinator", Role.COORDINATOR, None),
        ("admin", Role.ADMIN, None),
    ]
    made = {}
    for username, role, unit in spec:
        user = User.objects.create_user(
            username=username, password=PASSWORD, role=role, unit=units.get(unit)
        )
        if unit:
            put_on_shift(user, units[unit], since=SHIFTS_SINCE)
        made[username] = user
    return made


# The demo crews' shifts began before any call a test makes: a call's records are read by the
# crew that was on its unit at the time (server/dispatch/policies.py).
SHIFTS_SINCE = datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC)


def put_on_shift(user: User, unit: Unit, *, since: datetime.datetime | None = None) -> Shift:
    """Open a shift for `user` on `unit` as a supervisor's sign-on would (tests' set-up)."""
    Shift.objects.filter(user=user, ended_at__isnull=True).update(ended_at=timezone.now())
    shift = Shift.objects.create(
        unit=unit, user=user, started_at=since or timezone.now(), signed_on_by=user
    )
    User.objects.filter(pk=user.pk).update(unit=unit)
    user.unit = unit
    return shift


@pytest.fixture
def client_for(people):
    """client_for("care1") -> an APIClient holding a device token for that person."""
    cache: dict[str, APIClient] = {}

    def make(username: str | None) -> APIClient:
        if username is None:
            return APIClient()
        if username not in cache:
            client = APIClient()
            answer = client.post(
                "/api/v1/auth/token",
                {"username": username, "password": PASSWORD, "device_name": f"{username}-tablet"},
                format="json",
            )
            assert answer.status_code == 201, answer.content
            client.credentials(HTTP_AUTHORIZATION=f"Token {answer.json()['token']}")
            cache[username] = client
        return cache[username]

    return make


def local_time(hour: int, minute: int = 0, day: int = 18) -> datetime.datetime:
    """A time on a November 2026 day in Seattle."""
    return datetime.datetime(2026, 11, day, hour, minute, tzinfo=SEATTLE)


def call_body(**overrides) -> dict:
    body = {
        "cad_number": f"2026-{uuid.uuid4().hex[:10]}",
        "call_type": "DOWN - CHECK FOR DOWN PERSON",
        "priority": 3,
        "address": "3rd Ave & Pine St",
        **DOWNTOWN,
        "narrative": "Man lying on the sidewalk, breathing, not responding to calls.",
        "received_at": local_time(14).isoformat(),
        "screening": dict(NO),
    }
    body.update(overrides)
    return body


@pytest.fixture
def new_call(client_for):
    """Create a call as the dispatcher; returns the incident JSON."""

    def make(**overrides) -> dict:
        answer = client_for("dispatcher").post(
            "/api/v1/incidents", call_body(**overrides), format="json"
        )
        assert answer.status_code == 201, answer.content
        return answer.json()

    return make


@pytest.fixture
def dispatched(new_call, client_for, units):
    """A downtown call dispatched to CARE-1 and 2M12; returns {"incident", "care", "spd"}."""

    def make(**overrides) -> dict:
        incident = new_call(**overrides)
        answer = client_for("dispatcher").post(
            f"/api/v1/incidents/{incident['id']}/dispatch",
            {"care_unit": units["CARE-1"].pk, "spd_unit": units["2M12"].pk},
            format="json",
        )
        assert answer.status_code == 201, answer.content
        by_kind = {a["kind"]: a["id"] for a in answer.json()["assignments"]}
        return {"incident": incident, **by_kind}

    return make


@pytest.fixture
def move(client_for):
    """move("care1", assignment_id, "acknowledged", note=...) -> the response."""

    def make(username: str, assignment_id: str, to: str, **extra):
        return client_for(username).post(
            f"/api/v1/assignments/{assignment_id}/transitions", {"to": to, **extra}, format="json"
        )

    return make
