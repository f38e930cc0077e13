"""Event kinds are one declared vocabulary with a payload shape per audience
(server/feed/event_kinds.py): every kind the server publishes is declared there, every declared
kind is published, and a payload whose keys differ from its audience's shape is refused as it is
published (every other test that publishes an event checks its payload this way too)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from server.feed.event_kinds import EVENT_KINDS, PRIORITY_KINDS, stream_audiences
from server.feed.models import Event
from server.feed.services import declared_event_kinds, is_priority, publish_event

SERVER = Path(__file__).resolve().parents[3] / "server"
QUERIES = {"filter", "exclude", "get", "values", "values_list"}

CHECK_IN = {
    "id": "c-1",
    "assignment": "a-1",
    "at": "2026-12-07T10:00:00+00:00",
    "recorded_at": "2026-12-07T10:00:01+00:00",
    "call_sign": "CARE-1",
}


def _callee(call: ast.Call) -> str:
    func = call.func
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")


def _kind_literals(node: ast.AST) -> list[str]:
    """The strings an expression can be: `"x"` or `"x" if ... else "y"`."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.IfExp):
        return _kind_literals(node.body) + _kind_literals(node.orelse)
    return []


def _kinds_published_in_the_server() -> set[str]:
    """Each string the server's code hands to a publisher as an event kind: a `kind=` argument
    (not a query's), a positional argument of a `*publish*` call, a value given to a variable
    named `kind`, or the default of a publisher's `kind` parameter."""
    found: set[str] = set()
    for path in SERVER.rglob("*.py"):
        if "migrations" in path.parts or path.name == "event_kinds.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and _callee(node) not in QUERIES:
                for keyword in node.keywords:
                    if keyword.arg == "kind":
                        found.update(_kind_literals(keyword.value))
                if "publish" in _callee(node):
                    for argument in node.args:
                        found.update(_kind_literals(argument))
            elif isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "kind" for t in node.targets
            ):
                found.update(_kind_literals(node.value))
            elif isinstance(node, ast.FunctionDef) and "publish" in node.name:
                arguments = node.args.args[-len(node.args.defaults) :] if node.args.defaults else []
                for argument, default in zip(arguments, node.args.defaults, strict=True):
                    if argument.arg == "kind":
                        found.update(_kind_literals(default))
    # Only dotted names are kinds (a unit's `kind="care"` is not).
    return {name for name in found if "." in name and " " not in name}


def test_every_event_kind_published_is_declared_with_a_shape_for_its_audiences():
    published = _kinds_published_in_the_server()
    # The scan sees the server's publishers (not only a few).
    assert {"incident.created", "emergency.alert", "roster.updated", "unit.updated"} <= published
    assert sorted(published - set(EVENT_KINDS)) == []
    for kind, declared in EVENT_KINDS.items():
        assert declared.shapes, kind


def test_every_declared_event_kind_is_published_somewhere_in_the_server():
    assert sorted(set(EVENT_KINDS) - _kinds_published_in_the_server()) == []


def test_the_priority_lane_carries_exactly_the_emergency_and_backup_kinds():
    assert {
        "emergency.started",
        "emergency.acknowledged",
        "emergency.ended",
        "emergency.alert",
        "backup.requested",
        "backup.sent",
    } == PRIORITY_KINDS
    assert is_priority("emergency.alert")
    assert not is_priority("assignment.updated")


def test_no_clinical_record_kind_has_a_shape_for_police_or_the_board():
    records = ("encounter.", "service.", "naloxone.", "referral.", "survey.")
    for kind, declared in EVENT_KINDS.items():
        if kind.startswith(records):
            assert not {"police", "dispatch"} & set(declared.shapes), kind


def test_a_unit_stream_may_be_a_crews_or_polices_and_a_persons_stream_is_theirs():
    assert stream_audiences("unit:7") == ("crew", "police")
    assert stream_audiences("user:3") == ("person",)
    assert stream_audiences("dispatch") == ("dispatch",)


def test_the_protocol_lists_every_declared_kind():
    assert set(EVENT_KINDS) <= set(declared_event_kinds())


def test_a_payload_with_exactly_its_shapes_keys_is_published(db):
    publish_event(stream="dispatch", kind="check_in.answered", data=CHECK_IN)
    assert Event.objects.get().data == CHECK_IN


def test_publishing_an_undeclared_event_kind_is_refused(db):
    with pytest.raises(ValueError, match=r"check_in\.forgotten"):
        publish_event(stream="dispatch", kind="check_in.forgotten", data=CHECK_IN)
    assert not Event.objects.exists()


def test_publishing_a_payload_with_an_extra_key_is_refused(db):
    with pytest.raises(ValueError, match="naloxone_given"):
        publish_event(
            stream="dispatch", kind="check_in.answered", data={**CHECK_IN, "naloxone_given": True}
        )
    assert not Event.objects.exists()


def test_publishing_a_payload_missing_a_key_is_refused(db):
    data = {k: v for k, v in CHECK_IN.items() if k != "call_sign"}
    with pytest.raises(ValueError, match="call_sign"):
        publish_event(stream="dispatch", kind="check_in.answered", data=data)
    assert not Event.objects.exists()


def test_a_nested_objects_extra_key_is_refused_too(db):
    follow_up = {
        "id": "r-1",
        "status": "contacted",
        "status_label": "Contacted",
        "version": 2,
        "follow_up_due": None,
        "update": {
            "at": "2026-12-07T10:00:00+00:00",
            "by": "coord1",
            "from_status": "made",
            "to_status": "contacted",
            "note": "",
            "follow_up_due": None,
        },
    }
    publish_event(stream="referrals", kind="referral.followed_up", data=follow_up)
    with pytest.raises(ValueError, match="client_initials"):
        publish_event(
            stream="referrals",
            kind="referral.followed_up",
            data={**follow_up, "update": {**follow_up["update"], "client_initials": "JD"}},
        )
    assert Event.objects.count() == 1


def test_a_kind_published_to_a_stream_whose_audience_never_hears_it_is_refused(db):
    """A clinical record on the board's stream is refused, whatever its keys."""
    survey = {"id": "s-1", "encounter": "e-1"}
    publish_event(stream="unit:1", kind="survey.recorded", data=survey)
    with pytest.raises(ValueError, match="dispatch"):
        publish_event(stream="dispatch", kind="survey.recorded", data=survey)
    assert Event.objects.filter(stream_id="dispatch").count() == 0


def test_with_the_vocabulary_check_off_only_the_kind_is_checked(db, settings):
    settings.CARE_CHECK_VOCABULARY = False
    publish_event(stream="dispatch", kind="check_in.answered", data={**CHECK_IN, "extra": 1})
    assert Event.objects.get().data["extra"] == 1
    with pytest.raises(ValueError, match=r"check_in\.forgotten"):
        publish_event(stream="dispatch", kind="check_in.forgotten", data=CHECK_IN)


def test_the_tests_own_kinds_take_any_payload(db):
    publish_event(stream="dispatch", kind="test.marker", data={"anything": [1, 2]})
    assert Event.objects.get().kind == "test.marker"
