"""The dispatch services: dual dispatch in one transaction, units that can't be double-booked,
overrides with reasons, cancelling, the three dispatch models, the metrics they feed, and the
events each change publishes (or, when it is rolled back, doesn't)."""

from __future__ import annotations

import datetime

import pytest

from server.audit.models import AuditEntry
from server.dispatch.incidents import services
from server.dispatch.models import (
    Assignment,
    AssignmentTransition,
    Incident,
    PoliceOnlyReason,
    Protocol,
)
from server.errors import (
    Conflict,
    InvalidInput,
    UnitUnavailable,
    WrongDispatchModel,
)
from server.feed import services as feed_services
from server.feed.models import Event, Stream
from tests.conftest import NO, call_body

METRICS = "/api/v1/metrics?from=2026-11-01&to=2026-11-30"


# ---- helpers -------------------------------------------------------------------------------


@pytest.fixture
def make_incident(people):
    """Create an incident through the service, as the dispatcher; returns the Incident."""

    def make(**overrides) -> Incident:
        body = call_body(**overrides)
        body["received_at"] = datetime.datetime.fromisoformat(body["received_at"])
        return services.create_incident(actor=people["dispatcher"], **body)

    return make


@pytest.fixture
def send(people, units):
    """send(incident, "CARE-1", "2M12", reason) -> the assignments, through the service."""

    def make(
        incident, care: str | None = "CARE-1", spd: str = "2M12", reason: str = "", code: str = ""
    ):
        return services.dispatch_incident(
            actor=people["dispatcher"],
            incident_id=incident.pk,
            care_unit=units[care].pk if care else None,
            spd_unit=units[spd].pk,
            override_reason=reason,
            police_only_code=code,
        )

    return make


@pytest.fixture
def dispatch_model(reference):
    """dispatch_model("embedded_professional"): the center's model, as an admin would set it."""

    def set_model(model: str) -> None:
        protocol = Protocol.objects.get()
        protocol.dispatch_model = model
        protocol.save()

    return set_model


def open_assignments(unit) -> list[Assignment]:
    return list(Assignment.objects.filter(unit=unit).exclude(status__in=["cleared", "cancelled"]))


def metrics(client_for) -> dict:
    # A range of days is for signed-in staff (the public asks for whole periods).
    answer = client_for("admin").get(METRICS)
    assert answer.status_code == 200
    return answer.json()


def stream_events(stream: str) -> list[Event]:
    return list(Event.objects.filter(stream_id=stream).order_by("seq"))


# ---- dual dispatch -------------------------------------------------------------------------


def test_dual_dispatch_creates_exactly_one_care_and_one_spd_assignment(make_incident, send, units):
    incident = make_incident()
    made = send(incident)

    assert sorted((a.kind, a.unit.call_sign) for a in made) == [
        ("care", "CARE-1"),
        ("spd", "2M12"),
    ]
    assert Assignment.objects.filter(incident=incident).count() == 2
    assert all(a.status == "dispatched" and a.dispatched_at for a in made)
    incident.refresh_from_db()
    assert incident.status == "dispatched"
    assert incident.response == "dual"
    assert incident.dispatched_at is not None
    assert incident.override_reason == ""
    actions = AuditEntry.objects.filter(
        object_id__in=[str(incident.pk), *(str(a.pk) for a in made)]
    )
    assert sorted(actions.values_list("action", flat=True)) == [
        "assignment.dispatched",
        "assignment.dispatched",
        "incident.created",
        "incident.dispatched",
    ]


def test_if_the_spd_unit_is_busy_the_care_unit_is_not_booked_either(make_incident, send, units):
    first = make_incident()
    send(first, care="CARE-2", spd="2M12")
    second = make_incident()

    with pytest.raises(UnitUnavailable) as refused:
        send(second, care="CARE-1", spd="2M12")

    assert "2M12" in refused.value.detail
    assert first.cad_number in refused.value.detail
    assert open_assignments(units["CARE-1"]) == []
    assert not Assignment.objects.filter(incident=second).exists()
    assert Incident.objects.get(pk=second.pk).status == "screened"


def test_a_failure_after_the_first_assignment_is_written_undoes_the_whole_dispatch(
    make_incident, send, units, monkeypatch
):
    incident = make_incident()
    events, audits = Event.objects.count(), AuditEntry.objects.count()
    seqs = dict(Stream.objects.values_list("name", "last_seq"))
    real_publish = services.publish_event
    calls = []

    def publish_then_fail(**kwargs):
        calls.append(kwargs["stream"])
        if len(calls) == 2:
            raise RuntimeError("the database went away")
        return real_publish(**kwargs)

    # The service publishes itself and through the feed's write tail (`audit_and_publish`).
    monkeypatch.setattr(services, "publish_event", publish_then_fail)
    monkeypatch.setattr(feed_services, "publish_event", publish_then_fail)
    with pytest.raises(RuntimeError):
        send(incident)

    assert len(calls) == 2  # both assignments and one event were written before the failure
    assert not Assignment.objects.filter(incident=incident).exists()
    assert open_assignments(units["CARE-1"]) == open_assignments(units["2M12"]) == []
    assert Incident.objects.get(pk=incident.pk).status == "screened"
    assert Event.objects.count() == events
    assert AuditEntry.objects.count() == audits
    assert dict(Stream.objects.values_list("name", "last_seq")) == seqs


# ---- a unit can't be double-booked ---------------------------------------------------------


def test_a_unit_on_an_open_assignment_answers_409_unit_unavailable(
    dispatched, new_call, client_for, units
):
    dispatched()
    other = new_call()
    answer = client_for("dispatcher").post(
        f"/api/v1/incidents/{other['id']}/dispatch",
        {"care_unit": units["CARE-1"].pk, "spd_unit": units["2K21"].pk},
        format="json",
    )
    assert answer.status_code == 409
    body = answer.json()
    assert body["code"] == "unit_unavailable"
    assert "CARE-1" in body["detail"]
    assert body["unit"] == units["CARE-1"].pk
    assert open_assignments(units["2K21"]) == []
    board = {
        u["call_sign"]: u["status"] for u in client_for("dispatcher").get("/api/v1/units").json()
    }
    assert board == {
        "CARE-1": "committed",
        "CARE-2": "available",
        "2M12": "committed",
        "2K21": "available",
    }


def test_a_unit_stays_committed_through_every_open_state(
    dispatched, move, make_incident, send, units
):
    call = dispatched()
    for to in ("acknowledged", "en_route", "on_scene", "scene_safe"):
        assert move("officer1", call["spd"], to).status_code == 200
        with pytest.raises(UnitUnavailable):
            send(make_incident(), care="CARE-2", spd="2M12")
    assert len(open_assignments(units["2M12"])) == 1
    assert open_assignments(units["CARE-2"]) == []


def test_units_are_free_again_after_the_call_is_cancelled(
    dispatched, client_for, make_incident, send, units
):
    call = dispatched()
    answer = client_for("dispatcher").post(
        f"/api/v1/incidents/{call['incident']['id']}/cancel",
        {"reason": "Caller says the man walked away"},
        format="json",
    )
    assert answer.status_code == 200
    again = send(make_incident(), care="CARE-1", spd="2M12")
    assert {a.unit.call_sign for a in again} == {"CARE-1", "2M12"}


def test_a_care_team_that_has_cleared_is_free_while_the_officer_is_still_on_scene(
    dispatched, move, make_incident, send, units
):
    call = dispatched()
    for to in ("acknowledged", "en_route", "on_scene"):
        move("care1", call["care"], to)
        move("officer1", call["spd"], to)
    assert move("care1", call["care"], "cleared").status_code == 200

    made = send(make_incident(), care="CARE-1", spd="2K21")
    assert {a.unit.call_sign for a in made} == {"CARE-1", "2K21"}
    with pytest.raises(UnitUnavailable):
        send(make_incident(), care="CARE-2", spd="2M12")  # the officer hasn't cleared


# ---- overrides and police-only -------------------------------------------------------------


@pytest.mark.parametrize("reason", ["", "   "])
def test_sending_police_only_when_dual_dispatch_was_recommended_needs_a_reason(
    make_incident, send, reason
):
    incident = make_incident()
    assert incident.recommendation == "dual_dispatch"
    with pytest.raises(InvalidInput) as refused:
        send(incident, care=None, reason=reason)
    # The reason is a code from the program's list; the program's own codes are not offered.
    assert list(refused.value.fields) == ["police_only_code"]
    offered = refused.value.fields["police_only_code"][0].removeprefix("One of: ").rstrip(".")
    assert "no_care_team" in offered.split(", ")
    assert not {"care_withdrawn", "screening"} & set(offered.split(", "))
    assert not Assignment.objects.filter(incident=incident).exists()


def test_an_eligible_call_sent_police_only_stores_the_reason_and_response(
    make_incident, send, client_for
):
    incident = make_incident()
    made = send(incident, care=None, reason="  Both CARE teams are on calls  ", code="no_care_team")

    assert [(a.kind, a.unit.call_sign) for a in made] == [("spd", "2M12")]
    incident.refresh_from_db()
    assert incident.response == "police_only"
    assert incident.police_only_code_id == "no_care_team"
    assert incident.police_only_note == "Both CARE teams are on calls"
    assert incident.override_reason == "Both CARE teams are on calls"
    audited = AuditEntry.objects.get(action="incident.dispatched", object_id=str(incident.pk))
    assert audited.after["police_only_code_id"] == "no_care_team"
    figures = metrics(client_for)
    assert figures["eligible_police_only"] == "<11"
    # The code and its count are public; the dispatcher's words are not.
    assert figures["eligible_police_only_reasons"] == [
        {"reason": "no_care_team", "label": "No CARE team available", "count": "<11"}
    ]


@pytest.mark.parametrize("code", ["", "not-on-the-list", "retired"])
def test_an_eligible_call_goes_police_only_only_with_an_active_code_from_the_list(
    make_incident, send, code
):
    PoliceOnlyReason.objects.create(code="retired", label="Retired reason", active=False)
    incident = make_incident()

    with pytest.raises(InvalidInput) as refused:
        send(incident, care=None, reason="CARE busy", code=code)

    assert list(refused.value.fields) == ["police_only_code"]
    assert not Assignment.objects.filter(incident=incident).exists()


def test_sending_care_when_police_only_was_recommended_needs_a_reason(make_incident, send):
    incident = make_incident(screening={**NO, "weapons": True})
    assert incident.recommendation == "police_only"
    with pytest.raises(InvalidInput) as refused:
        send(incident)
    assert refused.value.fields == {
        "override_reason": ["Required when dispatching against the recommendation."]
    }

    send(incident, reason="Knife was secured by security before the call")
    incident.refresh_from_db()
    assert incident.response == "dual"
    assert incident.override_reason == "Knife was secured by security before the call"
    assert incident.police_only_note == "" and incident.police_only_code is None


def test_following_a_police_only_recommendation_needs_no_reason_and_is_not_counted_as_defaulting(
    make_incident, send, client_for
):
    incident = make_incident(call_type="NUISANCE")
    send(incident, care=None)
    incident.refresh_from_db()
    assert incident.response == "police_only"
    assert incident.override_reason == incident.police_only_note == ""
    assert metrics(client_for)["eligible_police_only"] == 0


def test_sending_any_unit_when_no_response_was_recommended_needs_a_reason(make_incident, send):
    incident = make_incident(screening={**NO, "person_gone": True})
    assert incident.recommendation == "no_response"
    with pytest.raises(InvalidInput):
        send(incident, care=None)
    with pytest.raises(InvalidInput):
        send(incident)
    send(incident, care=None, reason="Caller called back: he is back on the corner")
    assert Incident.objects.get(pk=incident.pk).status == "dispatched"


def test_pulling_care_off_a_call_while_spd_continues_makes_it_police_only_with_the_reason(
    dispatched, move, client_for, units
):
    call = dispatched()
    assert move("dispatcher", call["care"], "cancelled").status_code == 400  # needs a note
    answer = move("dispatcher", call["care"], "cancelled", note="CARE-1 sent to an overdose")
    assert answer.status_code == 200

    incident = Incident.objects.get(pk=call["incident"]["id"])
    assert incident.response == "police_only"
    assert incident.police_only_code_id == "care_withdrawn"
    assert incident.police_only_note == "CARE-1 sent to an overdose"
    assert incident.status == "dispatched"
    assert Assignment.objects.get(pk=call["spd"]).status == "dispatched"
    assert open_assignments(units["CARE-1"]) == []
    assert metrics(client_for)["eligible_police_only"] == "<11"


# ---- cancelling ----------------------------------------------------------------------------


@pytest.mark.parametrize("reason", ["", "  ", None])
def test_cancelling_needs_a_reason(make_incident, send, people, reason):
    incident = make_incident()
    send(incident)
    with pytest.raises(InvalidInput) as refused:
        services.cancel_incident(actor=people["dispatcher"], incident_id=incident.pk, reason=reason)
    assert "reason" in refused.value.fields
    assert Incident.objects.get(pk=incident.pk).status == "dispatched"
    assert Assignment.objects.filter(incident=incident, status="dispatched").count() == 2


def test_cancelling_makes_open_assignments_cancelled_keeps_cleared_ones_and_frees_units(
    dispatched, move, people, units
):
    call = dispatched()
    for to in ("acknowledged", "en_route", "on_scene", "cleared"):
        move("officer1", call["spd"], to)
    move("care1", call["care"], "acknowledged")

    services.cancel_incident(
        actor=people["dispatcher"], incident_id=call["incident"]["id"], reason=" Duplicate call "
    )

    incident = Incident.objects.get(pk=call["incident"]["id"])
    assert incident.status == "cancelled"
    assert incident.cancel_reason == "Duplicate call"
    assert incident.closed_at is not None
    assert Assignment.objects.get(pk=call["care"]).status == "cancelled"
    assert Assignment.objects.get(pk=call["spd"]).status == "cleared"
    last = AssignmentTransition.objects.filter(assignment_id=call["care"]).last()
    assert (last.from_status, last.to_status, last.note) == (
        "acknowledged",
        "cancelled",
        "Duplicate call",
    )
    assert last.actor == people["dispatcher"]
    assert open_assignments(units["CARE-1"]) == open_assignments(units["2M12"]) == []
    assert AuditEntry.objects.filter(
        action="incident.cancelled", object_id=str(incident.pk)
    ).exists()


def test_a_screened_call_can_be_cancelled_before_anyone_is_sent(make_incident, people):
    incident = make_incident()
    services.cancel_incident(actor=people["dispatcher"], incident_id=incident.pk, reason="Prank")
    assert Incident.objects.get(pk=incident.pk).status == "cancelled"


def test_a_cancelled_call_can_be_neither_cancelled_again_nor_dispatched(
    make_incident, send, people
):
    incident = make_incident()
    services.cancel_incident(actor=people["dispatcher"], incident_id=incident.pk, reason="Prank")
    with pytest.raises(Conflict) as again:
        services.cancel_incident(actor=people["dispatcher"], incident_id=incident.pk, reason="x")
    assert again.value.extra["current"] == "cancelled"
    with pytest.raises(Conflict):
        send(incident)
    assert not Assignment.objects.filter(incident=incident).exists()


# ---- the three dispatch models -------------------------------------------------------------


def _post(client_for, incident_id, action: str, body: dict):
    return client_for("dispatcher").post(
        f"/api/v1/incidents/{incident_id}/{action}", body, format="json"
    )


def test_under_the_911_led_model_an_eligible_call_is_screened_and_waits_for_dispatch(
    make_incident, dispatch_model
):
    dispatch_model("911_led")
    incident = make_incident()
    assert incident.status == "screened"
    assert incident.dispatch_model == "911_led"


@pytest.mark.parametrize(
    ("model", "action", "body"),
    [
        ("911_led", "resolve-by-phone", {"note": "Talked it through"}),
        ("911_led", "refer-to-hotline", {}),
        ("external_hotline", "resolve-by-phone", {"note": "Talked it through"}),
        ("embedded_professional", "refer-to-hotline", {}),
    ],
)
def test_phone_resolution_and_hotline_referral_are_refused_under_the_other_models(
    new_call, client_for, dispatch_model, model, action, body
):
    dispatch_model(model)
    incident = new_call()
    before = AuditEntry.objects.count()
    answer = _post(client_for, incident["id"], action, body)
    assert answer.status_code == 409
    assert answer.json()["code"] == "wrong_dispatch_model"
    assert Incident.objects.get(pk=incident["id"]).status == incident["status"]
    assert AuditEntry.objects.count() == before


def test_under_the_embedded_professional_model_eligible_calls_wait_in_triage(
    make_incident, dispatch_model
):
    dispatch_model("embedded_professional")
    assert make_incident().status == "triage"
    assert make_incident(call_type="NUISANCE").status == "screened"


def test_a_triage_call_resolved_by_phone_ends_with_no_unit_sent(
    new_call, client_for, dispatch_model, units
):
    dispatch_model("embedded_professional")
    incident = new_call()
    answer = _post(
        client_for, incident["id"], "resolve-by-phone", {"note": "Friend is picking him up"}
    )
    assert answer.status_code == 200
    body = answer.json()
    assert body["status"] == "resolved_by_phone"
    assert body["resolution_note"] == "Friend is picking him up"
    assert body["closed_at"] is not None
    assert body["assignments"] == []
    assert AuditEntry.objects.filter(
        action="incident.resolved_by_phone", object_id=incident["id"]
    ).exists()
    # Finished: it can't be dispatched or resolved again.
    sent = {"care_unit": units["CARE-1"].pk, "spd_unit": units["2M12"].pk}
    assert _post(client_for, incident["id"], "dispatch", sent).status_code == 409
    assert _post(client_for, incident["id"], "resolve-by-phone", {"note": "x"}).status_code == 409


def test_a_triage_call_can_still_be_dispatched(make_incident, send, dispatch_model):
    dispatch_model("embedded_professional")
    incident = make_incident()
    send(incident)
    assert Incident.objects.get(pk=incident.pk).status == "dispatched"


def test_only_eligible_calls_can_be_resolved_by_phone(make_incident, dispatch_model, people):
    dispatch_model("embedded_professional")
    incident = make_incident(call_type="NUISANCE")
    with pytest.raises(Conflict):
        services.resolve_by_phone(actor=people["dispatcher"], incident_id=incident.pk, note="ok")


def test_a_call_keeps_the_dispatch_model_it_was_taken_under(make_incident, dispatch_model, people):
    dispatch_model("911_led")
    incident = make_incident()
    dispatch_model("embedded_professional")
    with pytest.raises(WrongDispatchModel):
        services.resolve_by_phone(actor=people["dispatcher"], incident_id=incident.pk, note="ok")


def test_under_the_external_hotline_model_a_referral_names_the_protocols_hotline_by_default(
    new_call, client_for, dispatch_model
):
    dispatch_model("external_hotline")
    protocol = Protocol.objects.get()
    protocol.hotline_name = "Crisis Connections"
    protocol.save()
    incident = new_call()
    assert incident["status"] == "screened"

    answer = _post(client_for, incident["id"], "refer-to-hotline", {})
    assert answer.status_code == 200
    assert answer.json()["status"] == "referred_to_hotline"
    assert answer.json()["hotline_name"] == "Crisis Connections"
    assert answer.json()["assignments"] == []


def test_a_hotline_referral_can_name_another_hotline(new_call, client_for, dispatch_model):
    dispatch_model("external_hotline")
    incident = new_call()
    answer = _post(
        client_for,
        incident["id"],
        "refer-to-hotline",
        {"hotline_name": "988 Suicide & Crisis Lifeline", "note": "Warm transfer"},
    )
    assert answer.status_code == 200
    stored = Incident.objects.get(pk=incident["id"])
    assert (stored.status, stored.hotline_name, stored.resolution_note) == (
        "referred_to_hotline",
        "988 Suicide & Crisis Lifeline",
        "Warm transfer",
    )


def test_phone_resolutions_and_hotline_referrals_are_counted_in_the_metrics(
    make_incident, dispatch_model, people, client_for
):
    before = metrics(client_for)
    assert (before["resolved_by_phone"], before["referred_to_hotline"]) == (0, 0)

    dispatch_model("embedded_professional")
    services.resolve_by_phone(actor=people["dispatcher"], incident_id=make_incident().pk, note="ok")
    dispatch_model("external_hotline")
    for _ in range(11):
        services.refer_to_hotline(actor=people["dispatcher"], incident_id=make_incident().pk)

    after = metrics(client_for)
    assert after["resolved_by_phone"] == "<11"  # small counts are suppressed
    # 12 eligible calls less 11 referred to a hotline would reveal the 1 resolved by phone.
    assert after["eligible_calls"] == 12
    assert after["referred_to_hotline"] == "withheld"
    assert after["care_responded"] == 0

    for _ in range(10):
        services.refer_to_hotline(actor=people["dispatcher"], incident_id=make_incident().pk)
    dispatch_model("embedded_professional")
    for _ in range(10):
        services.resolve_by_phone(
            actor=people["dispatcher"], incident_id=make_incident().pk, note="ok"
        )
    later = metrics(client_for)
    assert (later["resolved_by_phone"], later["referred_to_hotline"]) == (11, 21)


# ---- events --------------------------------------------------------------------------------


def test_a_dispatch_publishes_to_each_units_stream_and_the_dispatch_stream(
    make_incident, send, units
):
    incident = make_incident()
    care, spd = send(incident)

    for assignment, other in ((care, spd), (spd, care)):
        events = stream_events(f"unit:{assignment.unit_id}")
        assert [e.kind for e in events] == ["assignment.dispatched"]
        data = events[0].data
        assert data["id"] == str(assignment.pk)
        assert data["incident"]["cad_number"] == incident.cad_number
        assert [p["call_sign"] for p in data["partners"]] == [other.unit.call_sign]
    for quiet in ("CARE-2", "2K21"):
        assert stream_events(f"unit:{units[quiet].pk}") == []

    board = stream_events("dispatch")
    assert [e.kind for e in board] == [
        "incident.created",
        "assignment.dispatched",
        "assignment.dispatched",
        "incident.updated",
    ]
    assert [e.seq for e in board] == [1, 2, 3, 4]
    assert board[-1].data["status"] == "dispatched"


def test_a_transition_tells_the_partner_unit_too(dispatched, move, units):
    call = dispatched()
    move("officer1", call["spd"], "acknowledged")
    spd_events = stream_events(f"unit:{units['2M12'].pk}")
    care_events = stream_events(f"unit:{units['CARE-1'].pk}")
    assert spd_events[-1].kind == "assignment.updated"
    assert spd_events[-1].data["status"] == "acknowledged"
    assert care_events[-1].kind == "assignment.partner_updated"
    assert care_events[-1].data["partners"][0]["status"] == "acknowledged"


def test_a_refused_dispatch_publishes_nothing_and_leaves_no_gap_in_the_sequence(
    make_incident, send, units
):
    send(make_incident(), care="CARE-2", spd="2M12")
    blocked = make_incident()
    events = Event.objects.count()
    seqs = dict(Stream.objects.values_list("name", "last_seq"))

    with pytest.raises(UnitUnavailable):
        send(blocked, care="CARE-1", spd="2M12")

    assert Event.objects.count() == events
    assert dict(Stream.objects.values_list("name", "last_seq")) == seqs
    send(blocked, care="CARE-1", spd="2K21")
    board = [e.seq for e in stream_events("dispatch")]
    assert board == list(range(1, len(board) + 1))


def test_cancelling_publishes_each_units_cancellation(dispatched, people, units):
    call = dispatched()
    services.cancel_incident(
        actor=people["dispatcher"], incident_id=call["incident"]["id"], reason="Duplicate"
    )
    for sign in ("CARE-1", "2M12"):
        last = stream_events(f"unit:{units[sign].pk}")
        assert any(e.kind == "assignment.updated" and e.data["status"] == "cancelled" for e in last)
    assert stream_events("dispatch")[-1].data["status"] == "cancelled"
