"""Bad input to the dispatch API: every refusal is JSON `{code, detail, fields?}` with a message a
person can read, names the field that is wrong, and writes nothing. Nothing answers 500."""

from __future__ import annotations

import json
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from server.audit.models import AuditEntry
from server.dispatch.models import Assignment, Incident, Unit
from server.feed.models import Event
from tests.conftest import NO, RANDOM_CAMPAIGN, call_body, local_time

MODELS = (Incident, Assignment, AuditEntry, Event)


def row_counts() -> dict[str, int]:
    return {m.__name__: m.objects.count() for m in MODELS}


@pytest.fixture
def nothing_written(client_for):
    """Use as `with nothing_written(): ...`: fails if any incident, assignment, audit entry or
    event row appeared inside the block."""
    for username in ("dispatcher", "care1"):
        client_for(username)  # signing in is audited: do it before counting

    class Guard:
        def __enter__(self):
            self.before = row_counts()

        def __exit__(self, *exc):
            if exc[0] is None:
                assert row_counts() == self.before

    return Guard


def assert_refused(answer, status: int, *, field: str | None = None, code: str | None = None):
    """The one error shape: JSON with a code and a readable detail, and the field when one is
    wrong."""
    assert answer.status_code == status, answer.content
    assert answer["Content-Type"].startswith("application/json")
    body = answer.json()
    assert isinstance(body["code"], str) and body["code"]
    assert isinstance(body["detail"], str) and len(body["detail"]) > 10
    if code is not None:
        assert body["code"] == code
    if field is not None:
        messages = body["fields"][field]
        assert messages and all(isinstance(m, str) and m for m in messages)
    return body


def without(body: dict, key: str) -> dict:
    return {k: v for k, v in body.items() if k != key}


def screening(**answers) -> dict:
    return {**NO, **answers}


# ---- creating an incident ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        pytest.param(call_body(call_type="NOT A CAD CODE"), "call_type", id="unknown-call-type"),
        pytest.param(call_body(latitude=90.0001), "latitude", id="latitude-over-90"),
        pytest.param(call_body(latitude=-91), "latitude", id="latitude-under-minus-90"),
        pytest.param(call_body(longitude=180.5), "longitude", id="longitude-over-180"),
        pytest.param(call_body(longitude=-181), "longitude", id="longitude-under-minus-180"),
        pytest.param(call_body(latitude="north"), "latitude", id="latitude-not-a-number"),
        pytest.param(call_body(latitude="nan"), "latitude", id="latitude-nan"),
        pytest.param(without(call_body(), "latitude"), "latitude", id="latitude-missing"),
        pytest.param(without(call_body(), "screening"), "screening", id="screening-missing"),
        pytest.param(call_body(screening=None), "screening", id="screening-null"),
        pytest.param(call_body(screening=["weapons"]), None, id="screening-not-an-object"),
        pytest.param(
            call_body(screening=without(NO, "imminent_danger")),
            "screening.imminent_danger",
            id="one-screening-answer-missing",
        ),
        pytest.param(call_body(screening={}), "screening.weapons", id="no-screening-answers"),
        pytest.param(
            call_body(screening=screening(weapons="maybe")),
            "screening.weapons",
            id="screening-answer-not-boolean",
        ),
        pytest.param(
            call_body(screening=screening(violence=None)),
            "screening.violence",
            id="screening-answer-null",
        ),
        pytest.param(
            call_body(screening=screening(person_gone="perhaps")),
            "screening.person_gone",
            id="optional-screening-answer-not-boolean",
        ),
        pytest.param(
            call_body(screening=screening(aliens=True)),
            "screening.aliens",
            id="unknown-screening-question",
        ),
        pytest.param(
            call_body(screening=screening(**{"\ud800": True})),
            "screening",
            id="screening-key-that-cannot-be-encoded",
        ),
        pytest.param(call_body(priority=0), "priority", id="priority-0"),
        pytest.param(call_body(priority=10), "priority", id="priority-10"),
        pytest.param(call_body(priority="urgent"), "priority", id="priority-not-a-number"),
        pytest.param(call_body(cad_number=""), "cad_number", id="cad-number-blank"),
        pytest.param(call_body(cad_number="x" * 40), "cad_number", id="cad-number-too-long"),
        pytest.param(call_body(address="a" * 201), "address", id="address-too-long"),
        pytest.param(call_body(narrative="a\x00b"), "narrative", id="nul-character"),
        pytest.param(call_body(received_at="yesterday"), "received_at", id="received-not-a-time"),
        pytest.param(
            call_body(received_at="2099-01-01T12:00:00-08:00"),
            "received_at",
            id="received-in-the-future",
        ),
        pytest.param([call_body()], "non_field_errors", id="body-is-a-list"),
        pytest.param({}, "call_type", id="empty-object"),
    ],
)
def test_a_bad_incident_is_refused_with_a_field_level_message_and_nothing_written(
    client_for, nothing_written, body, field
):
    with nothing_written():
        # ensure_ascii keeps a lone surrogate sendable, as a buggy CAD feed could send it.
        answer = client_for("dispatcher").post(
            "/api/v1/incidents", json.dumps(body), content_type="application/json"
        )
    assert_refused(answer, 400, field=field, code="invalid")


def test_malformed_json_is_refused_as_malformed_and_nothing_is_written(client_for, nothing_written):
    with nothing_written():
        answer = client_for("dispatcher").post(
            "/api/v1/incidents", '{"cad_number": "2026-1",', content_type="application/json"
        )
    body = assert_refused(answer, 400, code="malformed")
    assert "not valid JSON" in body["detail"]


def test_bytes_that_are_not_utf8_are_refused_as_malformed(client_for, nothing_written):
    with nothing_written():
        answer = client_for("dispatcher").post(
            "/api/v1/incidents", b"\xff\xfe{", content_type="application/json"
        )
    assert_refused(answer, 400, code="malformed")


def test_a_form_encoded_body_is_refused_as_an_unsupported_media_type(client_for, nothing_written):
    with nothing_written():
        answer = client_for("dispatcher").post(
            "/api/v1/incidents", "cad_number=1", content_type="application/x-www-form-urlencoded"
        )
    assert_refused(answer, 415)


def test_a_missing_field_message_names_every_missing_field(client_for):
    answer = client_for("dispatcher").post("/api/v1/incidents", {}, format="json")
    body = assert_refused(answer, 400)
    assert {"cad_number", "call_type", "priority", "latitude", "screening"} <= set(body["fields"])
    assert "cad_number" in body["detail"]


def test_a_duplicate_cad_number_answers_409_and_keeps_only_the_first(client_for, nothing_written):
    first = call_body()
    dispatcher = client_for("dispatcher")
    assert dispatcher.post("/api/v1/incidents", first, format="json").status_code == 201
    with nothing_written():
        again = dispatcher.post(
            "/api/v1/incidents", call_body(cad_number=first["cad_number"]), format="json"
        )
    body = assert_refused(again, 409, field="cad_number", code="conflict")
    assert first["cad_number"] in body["detail"]
    assert Incident.objects.filter(cad_number=first["cad_number"]).count() == 1


# ---- dispatching ---------------------------------------------------------------------------


@pytest.fixture
def screened(new_call) -> dict:
    return new_call()


def _dispatch(client_for, incident_id, body):
    return client_for("dispatcher").post(
        f"/api/v1/incidents/{incident_id}/dispatch", body, format="json"
    )


def test_dispatching_an_spd_unit_as_the_care_unit_is_refused_on_that_field(
    client_for, units, screened, nothing_written
):
    with nothing_written():
        answer = _dispatch(
            client_for,
            screened["id"],
            {"care_unit": units["2K21"].pk, "spd_unit": units["2M12"].pk},
        )
    body = assert_refused(answer, 400, field="care_unit")
    assert "2K21 is not a CARE team" in body["detail"]
    assert Incident.objects.get(pk=screened["id"]).status == "screened"


def test_dispatching_a_care_team_as_the_spd_unit_is_refused_on_that_field(
    client_for, units, screened, nothing_written
):
    with nothing_written():
        answer = _dispatch(
            client_for,
            screened["id"],
            {"care_unit": units["CARE-1"].pk, "spd_unit": units["CARE-2"].pk},
        )
    assert_refused(answer, 400, field="spd_unit")
    assert not Assignment.objects.exists()


@pytest.mark.parametrize("unit_id", [987654, -1, 10**30], ids=["unknown", "negative", "huge"])
def test_dispatching_a_unit_that_does_not_exist_answers_404_on_that_field(
    client_for, units, screened, nothing_written, unit_id
):
    with nothing_written():
        answer = _dispatch(
            client_for, screened["id"], {"care_unit": unit_id, "spd_unit": units["2M12"].pk}
        )
    assert_refused(answer, 404, field="care_unit", code="not_found")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        pytest.param({"care_unit": "CARE-1", "spd_unit": 1}, "care_unit", id="unit-not-an-id"),
        pytest.param({"care_unit": None}, "spd_unit", id="spd-unit-missing"),
        pytest.param({"spd_unit": 1, "override_reason": None}, "override_reason", id="null-reason"),
        pytest.param(["CARE-1"], "non_field_errors", id="body-is-a-list"),
    ],
)
def test_a_malformed_dispatch_is_refused_with_a_field_level_message(
    client_for, screened, nothing_written, body, field
):
    with nothing_written():
        answer = _dispatch(client_for, screened["id"], body)
    assert_refused(answer, 400, field=field, code="invalid")


def test_dispatching_an_incident_that_does_not_exist_answers_404(
    client_for, units, nothing_written
):
    with nothing_written():
        answer = _dispatch(
            client_for,
            uuid.uuid4(),
            {"care_unit": units["CARE-1"].pk, "spd_unit": units["2M12"].pk},
        )
    body = assert_refused(answer, 404, code="not_found")
    assert "incident" in body["detail"].lower()


def test_an_incident_id_that_is_not_a_uuid_answers_a_json_404(client_for, units):
    answer = _dispatch(
        client_for, "not-a-uuid", {"care_unit": units["CARE-1"].pk, "spd_unit": units["2M12"].pk}
    )
    assert_refused(answer, 404)


def test_dispatching_a_unit_that_is_out_of_service_answers_409(
    client_for, units, screened, nothing_written
):
    Unit.objects.filter(pk=units["CARE-1"].pk).update(in_service=False)
    with nothing_written():
        answer = _dispatch(
            client_for,
            screened["id"],
            {"care_unit": units["CARE-1"].pk, "spd_unit": units["2M12"].pk},
        )
    body = assert_refused(answer, 409, code="unit_unavailable")
    assert "out of service" in body["detail"]


def test_dispatching_a_call_twice_answers_409_and_books_nothing_more(
    client_for, units, dispatched, nothing_written
):
    call = dispatched()
    with nothing_written():
        answer = _dispatch(
            client_for,
            call["incident"]["id"],
            {"care_unit": units["CARE-2"].pk, "spd_unit": units["2K21"].pk},
        )
    assert_refused(answer, 409, code="conflict")


# ---- cancelling, phone resolution, transitions ---------------------------------------------


def test_cancelling_without_a_reason_is_refused_on_the_reason_field(
    client_for, dispatched, nothing_written
):
    call = dispatched()
    for body in ({}, {"reason": ""}, {"reason": None}):
        with nothing_written():
            answer = client_for("dispatcher").post(
                f"/api/v1/incidents/{call['incident']['id']}/cancel", body, format="json"
            )
        assert_refused(answer, 400, field="reason")
    assert Assignment.objects.get(pk=call["care"]).status == "dispatched"


def test_cancelling_an_incident_that_does_not_exist_answers_404(client_for, nothing_written):
    with nothing_written():
        answer = client_for("dispatcher").post(
            f"/api/v1/incidents/{uuid.uuid4()}/cancel", {"reason": "duplicate"}, format="json"
        )
    assert_refused(answer, 404, code="not_found")


def test_resolving_by_phone_without_a_note_is_refused(client_for, screened, nothing_written):
    with nothing_written():
        answer = client_for("dispatcher").post(
            f"/api/v1/incidents/{screened['id']}/resolve-by-phone", {}, format="json"
        )
    assert_refused(answer, 400, field="note")


def test_a_transition_to_a_state_that_does_not_exist_is_refused_on_the_to_field(
    dispatched, move, nothing_written
):
    call = dispatched()
    with nothing_written():
        answer = move("care1", call["care"], "teleported")
    assert_refused(answer, 400, field="to")


# ---- nothing answers 500 -------------------------------------------------------------------

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=6,
)
FIELDS = [
    "cad_number",
    "call_type",
    "priority",
    "address",
    "latitude",
    "longitude",
    "narrative",
    "received_at",
    "screening",
]


@settings(
    max_examples=60,
    deadline=None,
    derandomize=not RANDOM_CAMPAIGN,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    replaced=st.dictionaries(st.sampled_from(FIELDS), JSON_VALUES, min_size=1, max_size=3),
    answers=st.dictionaries(
        st.sampled_from([*NO, "person_gone", "other"]), JSON_VALUES, max_size=5
    ),
)
def test_no_incident_body_makes_the_server_answer_500(client_for, reference, replaced, answers):
    body = call_body(**replaced)
    if "screening" not in replaced:
        body["screening"] = {**NO, **answers}
    answer = client_for("dispatcher").post(
        "/api/v1/incidents", json.dumps(body), content_type="application/json"
    )
    assert answer.status_code in (201, 400, 409), answer.content
    assert isinstance(answer.json(), dict)


@settings(
    max_examples=40,
    deadline=None,
    derandomize=not RANDOM_CAMPAIGN,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    body=st.dictionaries(st.sampled_from(["care_unit", "spd_unit", "override_reason"]), JSON_VALUES)
)
def test_no_dispatch_body_makes_the_server_answer_500(client_for, new_call, screened, body):
    answer = client_for("dispatcher").post(
        f"/api/v1/incidents/{screened['id']}/dispatch",
        json.dumps(body),
        content_type="application/json",
    )
    assert answer.status_code in (201, 400, 404, 409), answer.content
    if answer.status_code == 201:  # units picked at random may be real: free them again
        client_for("dispatcher").post(
            f"/api/v1/incidents/{screened['id']}/cancel", {"reason": "test"}, format="json"
        )
        screened["id"] = new_call()["id"]


def test_the_received_time_is_kept_as_sent(client_for, people):
    # Guard for the fuzz tests above: a good body is accepted, so refusals are about the bad part.
    body = call_body(received_at=local_time(12, 5).isoformat())
    answer = client_for("dispatcher").post("/api/v1/incidents", body, format="json")
    assert answer.status_code == 201
    assert Incident.objects.get(pk=answer.json()["id"]).received_at == local_time(12, 5)
