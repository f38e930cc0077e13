"""The whole lifecycle of a dual-dispatched call, through the API, as each role does its part."""

import uuid

from server.audit.models import AuditEntry
from server.dispatch.models import Assignment, AssignmentTransition, Incident


def test_a_call_goes_from_screening_to_closed_with_every_role_doing_its_part(
    dispatched, move, client_for
):
    call = dispatched()
    care, spd = call["care"], call["spd"]

    for to in ("acknowledged", "en_route", "on_scene"):
        assert move("officer1", spd, to).status_code == 200
        assert move("care1", care, to).status_code == 200

    # CARE waits for the officer; its partner view shows the scene not yet safe.
    seen = client_for("care1").get(f"/api/v1/assignments/{care}").json()
    assert seen["partners"][0]["scene_safe_at"] is None

    assert move("officer1", spd, "scene_safe").status_code == 200
    seen = client_for("care1").get(f"/api/v1/assignments/{care}").json()
    assert seen["partners"][0]["status"] == "scene_safe"
    assert seen["partners"][0]["scene_safe_at"] is not None

    # The officer leaves for other calls; CARE stays and gives care.
    assert move("officer1", spd, "cleared").status_code == 200
    encounter = str(uuid.uuid4())
    answer = client_for("care1").put(
        f"/api/v1/encounters/{encounter}",
        {"assignment": care, "people_contacted": 1, "disposition": "referred"},
        format="json",
    )
    assert answer.status_code == 201
    assert answer.json()["before_scene_safe"] is False
    assert move("care1", care, "cleared").status_code == 200

    incident = Incident.objects.get(pk=call["incident"]["id"])
    assert incident.status == "closed"
    assert incident.response == "dual"
    assert set(Assignment.objects.filter(incident=incident).values_list("status", flat=True)) == {
        "cleared"
    }
    # Every transition is a row with who, which device, device time and server time.
    rows = AssignmentTransition.objects.filter(assignment__incident=incident)
    assert rows.count() == 9
    assert all(r.actor_id and r.device_id and r.occurred_at and r.recorded_at for r in rows)
    assert AuditEntry.objects.filter(action="incident.created", object_id=str(incident.pk)).exists()


# The assignment lifecycle as DESIGN.md describes it, written out by hand.
FIELD_PATH = {
    "dispatched": ["acknowledged", "cancelled"],
    "acknowledged": ["en_route", "cancelled"],
    "en_route": ["on_scene", "cancelled"],
}
LIFECYCLE = {
    "care": {**FIELD_PATH, "on_scene": ["cleared", "cancelled"]},
    "spd": {
        **FIELD_PATH,
        "on_scene": ["scene_safe", "scene_unsafe", "cleared", "cancelled"],
        "scene_unsafe": ["scene_safe", "cleared", "cancelled"],
        "scene_safe": ["cleared", "cancelled"],
    },
}
STATES = [
    "dispatched", "acknowledged", "en_route", "on_scene",
    "scene_safe", "scene_unsafe", "cleared", "cancelled",
]  # fmt: skip


def test_the_transition_table_the_server_enforces_is_the_one_protocol_publishes(client_for):
    from server.dispatch.incidents.lifecycle import is_allowed

    table = client_for("care1").get("/api/v1/protocol").json()["transitions"]
    assert table == LIFECYCLE
    # The check every transition goes through allows exactly the published moves, no others.
    for kind in ("care", "spd"):
        for current in STATES:
            for to in STATES:
                published = to in table[kind].get(current, [])
                assert is_allowed(kind, current, to) == published, (kind, current, to)


def test_a_transition_out_of_order_answers_409_with_current_and_requested_and_changes_nothing(
    dispatched, move
):
    call = dispatched()
    before = AssignmentTransition.objects.count()
    answer = move("care1", call["care"], "on_scene")
    assert answer.status_code == 409
    body = answer.json()
    assert body["current"] == "dispatched"
    assert body["requested"] == "on_scene"
    assert "acknowledged" in body["detail"]
    assert Assignment.objects.get(pk=call["care"]).status == "dispatched"
    assert AssignmentTransition.objects.count() == before


def test_only_the_spd_unit_can_mark_the_scene_safe(dispatched, move):
    call = dispatched()
    for to in ("acknowledged", "en_route", "on_scene"):
        move("care1", call["care"], to)
    answer = move("care1", call["care"], "scene_safe")
    # The role is refused before the table is consulted: 403, not "out of order" (409).
    assert answer.status_code == 403
    assert "role" in answer.json()["detail"]
    assert Assignment.objects.get(pk=call["care"]).status == "on_scene"


def test_scene_unsafe_needs_a_note_and_keeps_it_as_the_safety_note(dispatched, move):
    call = dispatched()
    for to in ("acknowledged", "en_route", "on_scene"):
        move("officer1", call["spd"], to)
    assert move("officer1", call["spd"], "scene_unsafe").status_code == 400
    answer = move("officer1", call["spd"], "scene_unsafe", note="Person has a knife")
    assert answer.status_code == 200
    assert answer.json()["safety_note"] == "Person has a knife"


def test_a_field_unit_cannot_move_another_units_assignment(dispatched, move):
    call = dispatched()
    assert move("care3", call["care"], "acknowledged").status_code == 404
    assert move("officer2", call["spd"], "acknowledged").status_code == 404
    assert Assignment.objects.get(pk=call["care"]).status == "dispatched"


def test_care_reads_why_the_officer_called_the_scene_unsafe(dispatched, move, client_for):
    call = dispatched()
    for to in ("acknowledged", "en_route", "on_scene"):
        assert move("officer1", call["spd"], to).status_code == 200
    note = "Man waving a bottle at passers-by; stay at the corner."
    assert move("officer1", call["spd"], "scene_unsafe", note=note).status_code == 200
    [officer] = client_for("care1").get(f"/api/v1/assignments/{call['care']}").json()["partners"]
    assert officer["status"] == "scene_unsafe"
    assert officer["safety_note"] == note
