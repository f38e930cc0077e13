"""Who may do what: the role × endpoint matrix, generated from the URL conf and the stream list.

Every `/api/v1/` route the URL conf serves, with every HTTP method its view answers, is asked by
each role and by an anonymous caller, and the answer's class must match the table below. A route
or method with no row fails `test_every_endpoint_has_a_row`, naming what to add; a row for a route
that no longer exists fails too. The web pages (everything outside `/api/v1/` and `/admin/`) have
their own, smaller table, asked through browser sessions.

Then the promises the table can't show by itself: an SPD officer never receives CARE's clinical
records (services, naloxone, referrals, notes, surveys) from any endpoint or stream they can read,
and a field unit sees only its own unit's assignments.
"""

from __future__ import annotations

import json
import re
import uuid

import pytest
from asgiref.sync import async_to_sync
from channels.layers import channel_layers
from channels.testing import WebsocketCommunicator
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone
from rest_framework.test import APIClient

from server.accounts.models import User
from server.accounts.services import issue_device_token
from server.asgi import application
from server.feed.models import Event
from server.sync.access import readable_streams
from tests.conftest import PASSWORD, local_time

# ---- the expected table --------------------------------------------------------------------
#
#   ok    served: 2xx, or a 4xx about the request itself (400 invalid, 409 conflict). Write methods
#         are sent an empty JSON body, so an allowed write answers 400 and changes nothing.
#   401   sign in first
#   no    refused (403) or hidden (404)
#
# Columns, in order: anonymous, dispatcher, care_responder, spd_officer, coordinator, admin.
# Path parameters are filled with real records (see `sample_ids`): the caller's own unit's
# assignment for a field role, so "ok" means the role reaches real data, not a 404.

ROLES = ("anonymous", "dispatcher", "care_responder", "spd_officer", "coordinator", "admin")

API = {
    #                                                               anon  disp care spd  coord admin
    "POST   auth/token":                                          " ok   ok   ok   ok   ok   ok",
    "POST   auth/token/rotate":                                   "401   ok   ok   ok   ok   ok",
    "POST   auth/logout":                                         "401   ok   ok   ok   ok   ok",
    "GET    me":                                                  "401   ok   ok   ok   ok   ok",
    "POST   tablets/enrol":                                       " ok   ok   ok   ok   ok   ok",
    "POST   tablets/enrolment-codes":                             "401   no   no   no   no   ok",
    "GET    protocol":                                            "401   ok   ok   ok   ok   ok",
    "GET    units":                                               "401   ok   ok   ok   no   ok",
    "GET    incidents":                                           "401   ok   no   no   no   ok",
    "POST   incidents":                                           "401   ok   no   no   no   ok",
    "GET    incidents/<uuid:incident_id>":                        "401   ok   no   no   no   ok",
    "GET    incidents/<uuid:incident_id>/eido":                   "401   ok   no   no   no   ok",
    "POST   eido":                                                "401   no   no   no   no   no",
    "GET    EIDO/<str:incident_id>":                              "401   no   no   no   no   no",
    "GET    incidents/<uuid:incident_id>/suggested-units":        "401   ok   no   no   no   ok",
    "POST   incidents/<uuid:incident_id>/locate":                 "401   ok   no   no   no   ok",
    "GET    geocode":                                             "401   ok   no   no   no   ok",
    "GET    screen-point":                                        "401   ok   no   no   no   ok",
    # A tablet reports its own unit's position only (the sample is the caller's own unit).
    "POST   units/<int:unit_id>/position":                        "401   no   ok   ok   no   no",
    "POST   incidents/<uuid:incident_id>/dispatch":               "401   ok   no   no   no   ok",
    "POST   incidents/<uuid:incident_id>/cancel":                 "401   ok   no   no   no   ok",
    "POST   incidents/<uuid:incident_id>/resolve-by-phone":       "401   ok   no   no   no   ok",
    "POST   incidents/<uuid:incident_id>/refer-to-hotline":       "401   ok   no   no   no   ok",
    "GET    assignments":                                         "401   ok   ok   ok   no   ok",
    "GET    assignments/<uuid:assignment_id>":                    "401   ok   ok   ok   no   ok",
    "POST   assignments/<uuid:assignment_id>/transitions":        "401   ok   ok   ok   no   ok",
    "POST   shifts":                                              "401   no   ok   ok   no   ok",
    "POST   shifts/<uuid:shift_id>/end":                          "401   no   ok   ok   no   ok",
    "POST   units/<int:unit_id>/duty-status":                     "401   ok   ok   ok   no   ok",
    "GET    rosters":                                             "401   ok   ok   ok   no   ok",
    "POST   rosters":                                             "401   no   no   no   no   ok",
    "POST   rosters/<uuid:entry_id>/cancel":                      "401   no   no   no   no   ok",
    "GET    sign-on-requests":                                    "401   ok   ok   ok   no   ok",
    "POST   sign-on-requests":                                    "401   no   ok   ok   no   no",
    "POST   sign-on-requests/<uuid:request_id>/decide":           "401   no   no   no   no   ok",
    "POST   emergencies":                                         "401   no   ok   ok   no   no",
    "POST   emergencies/<uuid:emergency_id>/acknowledge":         "401   ok   no   no   no   ok",
    # Only the tablet that raised it ends it from the field (each ask here is a fresh device):
    # tests/server/dispatch/test_safety.py shows the raising tablet can.
    "POST   emergencies/<uuid:emergency_id>/end":                 "401   ok   no   no   no   ok",
    "POST   assignments/<uuid:assignment_id>/backup":             "401   no   ok   no   no   ok",
    "POST   incidents/<uuid:incident_id>/backup":                 "401   ok   no   no   no   ok",
    "POST   assignments/<uuid:assignment_id>/check-ins":          "401   no   ok   no   no   ok",
    "POST   check-in-alerts/<int:lapse_id>/clear":                "401   ok   no   no   no   ok",
    "GET    incidents/<uuid:incident_id>/cautions":               "401   ok   ok   ok   no   ok",
    "GET    directory/services":                                  "401   no   ok   no   ok   ok",
    "GET    directory.hsds.json":                                 "401   ok   ok   no   ok   ok",
    "GET    encounters/<uuid:encounter_id>":                      "401   no   ok   no   ok   ok",
    "PUT    encounters/<uuid:encounter_id>":                      "401   no   ok   no   no   ok",
    "POST   services-given":                                      "401   no   ok   no   no   ok",
    "DELETE services-given/<uuid:service_id>":                    "401   no   ok   no   no   ok",
    "POST   naloxone-administrations":                            "401   no   ok   no   no   ok",
    "PATCH  naloxone-administrations/<uuid:administration_id>":   "401   no   ok   no   no   ok",
    "DELETE naloxone-administrations/<uuid:administration_id>":   "401   no   ok   no   no   ok",
    "GET    referrals":                                           "401   no   ok   no   ok   ok",
    "POST   referrals":                                           "401   no   ok   no   no   ok",
    "GET    referrals/<uuid:referral_id>":                        "401   no   ok   no   ok   ok",
    "PATCH  referrals/<uuid:referral_id>":                        "401   no   ok   no   ok   ok",
    "POST   surveys":                                             "401   no   ok   no   no   ok",
    "GET    sync/pull":                                           "401   ok   ok   ok   ok   ok",
    "POST   sync/push":                                           "401   no   ok   ok   no   ok",
    "GET    sync/snapshot":                                       "401   ok   ok   ok   ok   ok",
    "GET    metrics":                                             " ok   ok   ok   ok   ok   ok",
    "GET    metrics/peer":                                        "401   no   no   no   ok   ok",
    "GET    schema/":                                             " ok   ok   ok   ok   ok   ok",
    "GET    docs/":                                               " ok   ok   ok   ok   ok   ok",
}  # fmt: skip

# Pages, through a browser session. `login` = sent to the sign-in page, then back.
PAGES = {
    #                                                               anon  disp care spd  coord admin
    "GET    ":                                                    " ok   ok   ok   ok   ok   ok",
    "POST   ":                                                    " ok   ok   ok   ok   ok   ok",
    "GET    dashboard/":                                          " ok   ok   ok   ok   ok   ok",
    "POST   dashboard/":                                          " ok   ok   ok   ok   ok   ok",
    "GET    dashboard.csv":                                       " ok   ok   ok   ok   ok   ok",
    "POST   dashboard.csv":                                       " ok   ok   ok   ok   ok   ok",
    "GET    login/":                                              " ok   ok   ok   ok   ok   ok",
    "POST   login/":                                              " ok   ok   ok   ok   ok   ok",
    "PUT    login/":                                              " ok   ok   ok   ok   ok   ok",
    "POST   logout/":                                             " ok   ok   ok   ok   ok   ok",
    # No provider configured in the tests: its pages are not served (test_sso.py has the rows
    # for people signed in through one).
    "GET    login/sso/":                                          " no   no   no   no   no   no",
    "GET    login/sso/callback/":                                 " no   no   no   no   no   no",
    "GET    login/enrol/":                                        "login ok   ok   ok   ok   ok",
    "POST   login/enrol/":                                        "login ok   ok   ok   ok   ok",
    # Nobody here has an authenticator yet: verifying sends them to set one up, then back.
    "GET    login/verify/":                                 "login login login login login login",
    "POST   login/verify/":                                 "login login login login login login",
    "GET    login/unlock/":                                       "login ok   ok   ok   ok   ok",
    "POST   login/unlock/":                                       "login ok   ok   ok   ok   ok",
    # Passkey ceremonies: a session's own (the library refuses anyone signed out); the empty
    # completions are refused 400 (no ceremony begun), which is not a refusal of the person.
    "POST   login/passkey/registration/begin/":                   " no   ok   ok   ok   ok   ok",
    "POST   login/passkey/registration/complete/":                " no   ok   ok   ok   ok   ok",
    "POST   login/passkey/authentication/begin/":                 " no   ok   ok   ok   ok   ok",
    "POST   login/passkey/authentication/complete/":              " no   ok   ok   ok   ok   ok",
    "GET    login/passkey/jsi18n/":                               " ok   ok   ok   ok   ok   ok",
    # Shown once after a first passkey; otherwise straight on to the person's console.
    "GET    login/recovery-codes/":                               "login ok   ok   ok   ok   ok",
    # Each person's own passkeys: nobody's passkey is anyone else's to remove (404).
    "GET    account/second-factor/":                              "login ok   ok   ok   ok   ok",
    "POST   account/second-factor/passkeys/<int:passkey_id>/remove": "login no   no   no   no   no",
    "GET    dispatch/":                                           "login ok   no   no   no   ok",
    "POST   dispatch/":                                           "login ok   no   no   no   ok",
    "GET    dispatch/board/":                                     "login ok   no   no   no   ok",
    "POST   dispatch/board/":                                     "login ok   no   no   no   ok",
    "POST   dispatch/console-token":                              "login ok   no   no   no   ok",
    "GET    dispatch/map/layers.json":                            "login ok   no   no   no   ok",
    "GET    dispatch/map/state.json":                             "login ok   no   no   no   ok",
    "POST   dispatch/calls/new":                                  "login ok   no   no   no   ok",
    "GET    dispatch/calls/<uuid:incident_id>/":                  "login ok   no   no   no   ok",
    "POST   dispatch/calls/<uuid:incident_id>/":                  "login ok   no   no   no   ok",
    "POST   dispatch/emergencies/<uuid:emergency_id>/acknowledge": "login ok   no   no   no   ok",
    "POST   dispatch/emergencies/<uuid:emergency_id>/end":        "login ok   no   no   no   ok",
    "POST   dispatch/check-in-alerts/<int:lapse_id>/clear":       "login ok   no   no   no   ok",
    # The page answers dispatch; the approval itself is a supervisor's (the command refuses).
    "POST   dispatch/sign-on-requests/<uuid:request_id>/decide":   "login no   no   no   no   ok",
    "GET    reports/police-only/":                                "login no   no   no   no   ok",
    "POST   reports/police-only/":                                "login no   no   no   no   ok",
    "GET    planner/":                                            "login no   no   no   no   ok",
    "POST   planner/run":                                         "login no   no   no   no   ok",
    "POST   planner/validate":                                    "login no   no   no   no   ok",
    "POST   planner/histories/program":                           "login no   no   no   no   ok",
    "POST   planner/scenarios":                                   "login no   no   no   no   ok",
    "GET    planner/run.csv":                                     "login no   no   no   no   ok",
    "GET    coordinator/":                                        "login no   no   no   ok   ok",
    "POST   coordinator/":                                        "login no   no   no   ok   ok",
    "POST   coordinator/console-token":                           "login no   no   no   ok   ok",
    "GET    coordinator/referrals/<uuid:referral_id>/":           "login no   no   no   ok   ok",
    "POST   coordinator/referrals/<uuid:referral_id>/":           "login no   no   no   ok   ok",
    # FHIR is for keys and device tokens only: a browser session is not signed in there.
    "GET    fhir/Task":                                           "401   401  401  401  401  401",
    "GET    fhir/Task/<uuid:referral_id>":                        "401   401  401  401  401  401",
    "PUT    fhir/Task/<uuid:referral_id>":                        "401   401  401  401  401  401",
    "PATCH  fhir/Task/<uuid:referral_id>":                        "401   401  401  401  401  401",
    "GET    fhir/ServiceRequest/<uuid:referral_id>":              "401   401  401  401  401  401",
    "GET    fhir/Consent/<uuid:referral_id>":                     "401   401  401  401  401  401",
    "GET    fhir/Bundle/<uuid:referral_id>":                      "401   401  401  401  401  401",
}  # fmt: skip

# The feed's streams each role may read (server/sync/access.py), by the stream's kind.
STREAMS = {
    "anonymous": set(),
    "dispatcher": {"user", "dispatch"},
    "care_responder": {"user", "unit", "directory"},
    "spd_officer": {"user", "unit"},
    "coordinator": {"user", "directory", "referrals"},
    "admin": {"user", "dispatch", "directory", "referrals"},
}

# Who plays each role: the conftest's people. care1 rides CARE-1, officer1 rides 2M12.
PLAYS = {
    "dispatcher": "dispatcher",
    "care_responder": "care1",
    "spd_officer": "officer1",
    "coordinator": "coordinator",
    "admin": "admin",
}

SKIPPED_METHODS = {"OPTIONS", "HEAD", "TRACE"}  # answered by the framework for every route


# ---- reading the URL conf ------------------------------------------------------------------


def _walk(patterns, prefix: str = ""):
    for entry in patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            yield from _walk(entry.url_patterns, route)
        elif isinstance(entry, URLPattern):
            yield route, entry.callback


def served_methods(callback) -> list[str]:
    """The HTTP methods a view answers with its own code."""
    view = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
    if view is None:
        # A function view: the methods @require_http_methods allows (found in its closure),
        # else pages are read with GET and submit with POST.
        return declared_methods(callback) or ["GET", "POST"]
    return sorted(
        m.upper()
        for m in view.http_method_names
        if hasattr(view, m) and m.upper() not in SKIPPED_METHODS
    )


def declared_methods(func) -> list[str] | None:
    """The list Django's require_http_methods (require_POST, require_GET) closed over."""
    while func is not None:
        code, closure = getattr(func, "__code__", None), getattr(func, "__closure__", None)
        if code is not None and closure:
            cells = dict(zip(code.co_freevars, closure, strict=True))
            if "request_method_list" in cells:
                return sorted(cells["request_method_list"].cell_contents)
        func = getattr(func, "__wrapped__", None)
    return None


def served() -> dict[str, dict[str, object]]:
    """{"api" | "pages": {"METHOD route": view}} for every route the URL conf serves."""
    found: dict[str, dict[str, object]] = {"api": {}, "pages": {}}
    for route, callback in _walk(get_resolver().url_patterns):
        route = route.lstrip("^").rstrip("$")
        if route.startswith("admin/") or route.startswith("static/"):
            continue  # Django admin: staff only, its own permission system
        table, route = (
            ("api", route[len("api/v1/") :])
            if route.startswith("api/v1/")
            else (
                "pages",
                route,
            )
        )
        for method in served_methods(callback):
            found[table][f"{method} {route}"] = callback
    return found


def _key(row: str) -> str:
    method, _, route = row.partition(" ")
    return f"{method} {route.strip()}"


def expected(table: dict[str, str]) -> dict[str, dict[str, str]]:
    out = {}
    for row, cells in table.items():
        answers = cells.split()
        assert len(answers) == len(ROLES), f"row {row!r} needs one answer per role: {ROLES}"
        out[_key(row)] = dict(zip(ROLES, answers, strict=True))
    return out


EXPECTED_API = expected(API)
EXPECTED_PAGES = expected(PAGES)


# ---- asking ----------------------------------------------------------------------------------


def answer_class(status: int, location: str = "") -> str:
    if status == 405:
        return "405"  # never expected: only methods the view serves are asked
    if status == 401:
        return "401"
    if status in (403, 404):
        return "no"
    if status in (301, 302, 303) and "next=" in location:
        return "login"  # login_required sends the browser to sign in, then back
    return "ok"


def signed_in_key(username: str) -> str:
    key, _ = issue_device_token(username=username, password=PASSWORD, device_name="matrix")
    return key


def signed_in(username: str) -> APIClient:
    """A fresh device for every request: a sign-out or rotation can't spoil the next ask."""
    client = APIClient()
    answer = client.post(
        "/api/v1/auth/token",
        {"username": username, "password": PASSWORD, "device_name": "matrix"},
        format="json",
    )
    assert answer.status_code == 201, answer.content
    client.credentials(HTTP_AUTHORIZATION=f"Token {answer.json()['token']}")
    return client


PARAM = re.compile(r"<(?:\w+:)?(\w+)>")


def fill(route: str, ids: dict[str, str]) -> str:
    def one(match: re.Match) -> str:
        name = match.group(1)
        assert name in ids, f"no sample value for <{name}> in {route!r}: add one to sample_ids"
        return ids[name]

    return "/" + PARAM.sub(one, route)


def ask(client, method: str, path: str):
    send = getattr(client, method.lower())
    if method in ("GET", "DELETE"):
        return send(path)
    return send(path, {}, format="json") if isinstance(client, APIClient) else send(path, {})


# ---- the records every ask is made against -------------------------------------------------

SENTINELS = {
    "notes": "SENTINEL-encounter-notes-4f1c",
    "service": "SENTINEL-service-note-77a0",
    "referral": "SENTINEL-referral-note-b3d2",
    "survey": "SENTINEL-survey-comment-19e8",
}
DESC_MOBILE_CRISIS = "0b7f0a52-5d2c-4c57-9b65-6f1d1a4e0001"


@pytest.fixture
def care_records(dispatched, client_for) -> dict[str, str]:
    """A CARE-1/2M12 call with every kind of clinical record on it, made through the API."""
    call = dispatched()
    care1 = client_for("care1")
    at = timezone.now().isoformat()  # after the dispatch the fixtures make now
    ids = {k: str(uuid.uuid4()) for k in ("encounter", "service", "naloxone", "referral", "survey")}
    made = [
        care1.put(
            f"/api/v1/encounters/{ids['encounter']}",
            {"assignment": call["care"], "people_contacted": 1, "notes": SENTINELS["notes"]},
            format="json",
        ),
        care1.post(
            "/api/v1/services-given",
            {
                "id": ids["service"],
                "encounter": ids["encounter"],
                "service": "de-escalation",
                "occurred_at": at,
                "note": SENTINELS["service"],
            },
            format="json",
        ),
        care1.post(
            "/api/v1/naloxone-administrations",
            {
                "id": ids["naloxone"],
                "encounter": ids["encounter"],
                "administered_at": at,
                "dose_mg": "4",
                "doses": 1,
                "route": "intranasal",
                "response": "improved",
                "ems_called": True,
            },
            format="json",
        ),
        care1.post(
            "/api/v1/referrals",
            {
                "id": ids["referral"],
                "encounter": ids["encounter"],
                "service": DESC_MOBILE_CRISIS,
                "consent": True,
                "made_at": at,
                "note": SENTINELS["referral"],
            },
            format="json",
        ),
        care1.post(
            "/api/v1/surveys",
            {
                "id": ids["survey"],
                "encounter": ids["encounter"],
                "consent": True,
                "answers": {"respected": 5},
                "answered_at": at,
                "comment": SENTINELS["survey"],
            },
            format="json",
        ),
    ]
    for answer in made:
        assert answer.status_code in (200, 201), answer.content
    return {
        **ids,
        **safety_records(client_for, call),
        "incident": call["incident"]["id"],
        "care": call["care"],
        "spd": call["spd"],
    }


def safety_records(client_for, call) -> dict[str, str]:
    """Shifts for the field players, an emergency from CARE-1 and a check-in alert on its call."""
    from server.dispatch.models import CheckInLapse, Shift

    made = {}
    for who in ("care1", "officer1"):
        shift = Shift.objects.get(user__username=who, ended_at__isnull=True)
        made[f"shift:{who}"], made[f"unit:{who}"] = str(shift.pk), str(shift.unit_id)
    emergency = client_for("care1").post(
        "/api/v1/emergencies",
        {"id": str(uuid.uuid4()), "unit": made["unit:care1"], "started_at": timezone.now()},
        format="json",
    )
    assert emergency.status_code == 201, emergency.content
    lapse = CheckInLapse.objects.create(
        assignment_id=call["care"], due_at=timezone.now(), raised_at=timezone.now()
    )
    from server.dispatch.models import RosterEntry, SignOnRequest

    care1, admin = User.objects.get(username="care1"), User.objects.get(username="admin")
    today = timezone.localdate()
    entry = RosterEntry.objects.create(
        unit_id=made["unit:care1"], user=care1, first_day=today, last_day=today, created_by=admin
    )
    request = SignOnRequest.objects.create(unit_id=made["unit:care1"], user=care1, day=today)
    return {
        **made,
        "emergency": emergency.json()["id"],
        "lapse": str(lapse.pk),
        "roster_entry": str(entry.pk),
        "sign_on_request": str(request.pk),
    }


def sample_ids(records: dict[str, str], role: str) -> dict[str, str]:
    return {
        "incident_id": records["incident"],
        "assignment_id": records["spd"] if role == "spd_officer" else records["care"],
        "encounter_id": records["encounter"],
        "administration_id": records["naloxone"],
        "service_id": records["service"],
        "referral_id": records["referral"],
        "shift_id": records["shift:officer1" if role == "spd_officer" else "shift:care1"],
        "unit_id": records["unit:officer1" if role == "spd_officer" else "unit:care1"],
        "emergency_id": records["emergency"],
        "lapse_id": records["lapse"],
        "entry_id": records["roster_entry"],
        "request_id": records["sign_on_request"],
        "passkey_id": "1",  # nobody has one
    }


def clinical_marks(records: dict[str, str]) -> list[str]:
    """Strings that can only appear in an answer that carries a clinical record."""
    kinds = ("encounter", "service", "naloxone", "referral", "survey")
    return [*SENTINELS.values(), *(records[k] for k in kinds)]


# ---- the tests -----------------------------------------------------------------------------


def test_every_endpoint_has_a_row():
    found = served()
    problems = []
    for table, rows, name in (("api", EXPECTED_API, "API"), ("pages", EXPECTED_PAGES, "PAGES")):
        for key in sorted(set(found[table]) - set(rows)):
            problems.append(f"{key!r} is served but has no row in {name}: add its expected answers")
        for key in sorted(set(rows) - set(found[table])):
            problems.append(f"{key!r} has a row in {name} but is no longer served: remove it")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("role", ROLES)
def test_each_role_gets_the_expected_answer_from_every_api_endpoint(role, care_records):
    ids = sample_ids(care_records, role)
    wrong = []
    # A removal takes its sample record away: removals are asked last, so every other method
    # on the same record (a dose's PATCH beside its DELETE) still finds it.
    for key in sorted(served()["api"], key=lambda k: (k.startswith("DELETE "), k)):
        if key not in EXPECTED_API:
            continue  # reported by test_every_endpoint_has_a_row
        method, route = key.split(" ", 1)
        client = APIClient() if role == "anonymous" else signed_in(PLAYS[role])
        answer = ask(client, method, fill(f"api/v1/{route}", ids))
        got = answer_class(answer.status_code)
        want = EXPECTED_API[key][role]
        if answer.status_code >= 500 or got != want:
            wrong.append(
                f"{key}: expected {want}, got {answer.status_code} {answer.content[:200]!r}"
            )
    assert not wrong, f"as {role}:\n" + "\n".join(wrong)


@pytest.mark.parametrize("role", ROLES)
def test_each_role_gets_the_expected_answer_from_every_page(role, care_records, client):
    if role != "anonymous":
        client.force_login(User.objects.get(username=PLAYS[role]))
    ids = sample_ids(care_records, role)
    wrong = []
    for key in sorted(served()["pages"]):
        if key not in EXPECTED_PAGES:
            continue
        method, route = key.split(" ", 1)
        answer = ask(client, method, fill(route, ids))
        got = answer_class(answer.status_code, answer.get("Location", ""))
        want = EXPECTED_PAGES[key][role]
        if answer.status_code >= 500 or got != want:
            wrong.append(f"{key}: expected {want}, got {answer.status_code}")
        if method == "POST" and route == "logout/" and role != "anonymous":
            client.force_login(User.objects.get(username=PLAYS[role]))
    assert not wrong, f"as {role}:\n" + "\n".join(wrong)


@pytest.mark.parametrize("role", ROLES)
def test_each_role_reads_exactly_its_streams(role, people):
    user = None if role == "anonymous" else people[PLAYS[role]]
    streams = readable_streams(user) if user else []
    assert {s.split(":")[0] for s in streams} == STREAMS[role]
    if user is not None and user.unit_id:
        assert f"unit:{user.unit_id}" in streams


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("role", ROLES)
def test_the_live_socket_welcomes_each_role_with_exactly_its_streams(role, people):
    """The same table, asked of the real ASGI application's `/ws/feed/` (the other delivery)."""
    channel_layers.backends = {}  # the in-memory layer belongs to one event loop
    token = "not-a-token" if role == "anonymous" else signed_in_key(PLAYS[role])
    hello = {"type": "hello", "token": token, "cursors": {}, "client_time": "2026-11-18T14:00Z"}

    async def scenario() -> dict:
        ws = WebsocketCommunicator(application, "/ws/feed/")
        connected, _ = await ws.connect()
        assert connected
        await ws.send_json_to(hello)
        first = await ws.receive_output(3)
        await ws.disconnect()
        return first

    first = async_to_sync(scenario)()
    channel_layers.backends = {}
    if role == "anonymous":
        assert first["type"] == "websocket.close" and first["code"] == 4401
        return
    welcome = json.loads(first["text"])
    assert welcome["type"] == "welcome", welcome
    assert {s.split(":")[0] for s in welcome["streams"]} == STREAMS[role]
    assert set(welcome["streams"]) == set(readable_streams(people[PLAYS[role]]))


def test_an_officer_never_receives_clinical_records_from_any_endpoint(care_records):
    marks = clinical_marks(care_records)
    ids = sample_ids(care_records, "spd_officer")
    leaks = []
    for key in sorted(served()["api"]):
        method, route = key.split(" ", 1)
        if method != "GET" or EXPECTED_API.get(key, {}).get("spd_officer") != "ok":
            continue
        answer = signed_in("officer1").get(fill(f"api/v1/{route}", ids))
        body = answer.content.decode()
        leaks += [f"{key} carries {m}" for m in marks if m in body]
    officer = User.objects.get(username="officer1")
    for key in sorted(served()["pages"]):
        method, route = key.split(" ", 1)
        if method != "GET" or EXPECTED_PAGES.get(key, {}).get("spd_officer") != "ok":
            continue
        browser = Client()
        browser.force_login(officer)
        body = browser.get(fill(route, ids)).content.decode(errors="replace")
        leaks += [f"page {key} carries {m}" for m in marks if m in body]
    assert not leaks, "\n".join(leaks)
    # The officer did read the call: the test saw real answers, not empty ones.
    assignment = signed_in("officer1").get(f"/api/v1/assignments/{care_records['spd']}")
    assert assignment.status_code == 200


def test_an_officer_never_receives_clinical_records_from_any_stream(care_records, people):
    officer = people["officer1"]
    streams = readable_streams(officer)
    events = list(Event.objects.filter(stream_id__in=streams))
    assert events, "the officer's streams carry the call; there should be events to check"
    marks = clinical_marks(care_records)
    for event in events:
        frame = json.dumps(event.as_frame(), default=str)
        assert not [m for m in marks if m in frame], f"{event.stream_id} #{event.seq} {event.kind}"
        assert event.kind.split(".")[0] not in {"encounter", "service", "naloxone", "referral"}
    pulled = signed_in("officer1").get("/api/v1/sync/pull").content.decode()
    assert not [m for m in marks if m in pulled]
    # The clinical records were published somewhere: to CARE-1, whose stream the officer can't read.
    care_stream = f"unit:{people['care1'].unit_id}"
    assert any(
        m in json.dumps(e.as_frame(), default=str)
        for e in Event.objects.filter(stream_id=care_stream)
        for m in marks
    )
    assert care_stream not in streams


def test_an_officer_pushing_clinical_changes_gets_no_clinical_record_back(care_records):
    entity = {
        "encounter.upsert": "encounter",
        "service.create": "service",
        "naloxone.create": "naloxone",
        "naloxone.update": "naloxone",
        "referral.create": "referral",
        "referral.update": "referral",
        "survey.create": "survey",
    }
    mutations = [
        {
            "id": str(uuid.uuid4()),
            "type": kind,
            "entity_id": care_records[record],
            "base_version": 1,
            "occurred_at": local_time(14, 30).isoformat(),
            "data": {"encounter": care_records["encounter"], "notes": "x"},
        }
        for kind, record in entity.items()
    ]
    answer = signed_in("officer1").post(
        "/api/v1/sync/push",
        {"device_time": local_time(14, 31).isoformat(), "mutations": mutations},
        format="json",
    )
    assert answer.status_code == 200, answer.content
    assert {r["status"] for r in answer.json()["results"]} == {"rejected"}
    body = answer.content.decode()
    assert not [m for m in clinical_marks(care_records) if m in body]


def test_an_officer_asking_for_a_care_stream_is_refused(care_records, people):
    care_stream = f"unit:{people['care1'].unit_id}"
    answer = signed_in("officer1").get(f"/api/v1/sync/pull?cursors={care_stream}:0")
    assert answer.status_code == 403


@pytest.mark.parametrize("outsider", ["care3", "officer2"])
def test_a_field_unit_sees_only_its_own_units_assignments(outsider, care_records, people):
    client = signed_in(outsider)
    listed = client.get("/api/v1/assignments").json()
    assert listed == []
    for assignment in (care_records["care"], care_records["spd"]):
        assert client.get(f"/api/v1/assignments/{assignment}").status_code == 404
        moved = client.post(
            f"/api/v1/assignments/{assignment}/transitions", {"to": "acknowledged"}, format="json"
        )
        assert moved.status_code in (403, 404)
    own_unit = people[outsider].unit_id
    assert {s for s in readable_streams(people[outsider]) if s.startswith("unit:")} == {
        f"unit:{own_unit}"
    }


def test_a_responder_sees_its_own_units_care_records_and_not_others(care_records):
    own = signed_in("care1").get(f"/api/v1/encounters/{care_records['encounter']}")
    assert own.status_code == 200 and SENTINELS["notes"] in own.content.decode()
    outsider = signed_in("care3")
    assert outsider.get(f"/api/v1/encounters/{care_records['encounter']}").status_code == 404
    assert outsider.get(f"/api/v1/referrals/{care_records['referral']}").status_code == 404
    assert outsider.get("/api/v1/referrals").json() == []


def test_the_units_own_crews_see_their_assignment(care_records):
    for username, kind in (("care1", "care"), ("officer1", "spd")):
        listed = signed_in(username).get("/api/v1/assignments").json()
        assert [a["id"] for a in listed] == [care_records[kind]]
