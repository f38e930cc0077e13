"""The layers hold in the schema too, where import-linter can't see.

A foreign key names its model by a string ("dispatch.Unit") and a migration names another app's
migration: neither is an import, so `lint-imports` passes over them. These tests read the edges
from the models and the migration graph, place each app in the layers `pyproject.toml` declares,
and hold the upward edges to the known ones listed here with their reason (docs/architecture.md
names them). A new upward edge fails; so does a known one that is gone and still listed.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from django.apps import apps
from django.db.migrations.loader import MigrationLoader

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"

KNOWN_MODEL_EDGES = {
    # The unit a person rides with: every clinical read is scoped by it, and moving it to
    # `dispatch` (a crew membership) would touch every selector; not this round.
    ("accounts", "dispatch"),
    # A device's cursor on a stream: the feed keeps cursors beside its streams, the device is
    # the accounts app's.
    ("feed", "accounts"),
    # Who did it: an audit row names its person, device or system client (PROTECT: the trail
    # keeps them); the audit code itself imports no app.
    ("audit", "accounts"),
}

KNOWN_MIGRATION_EDGES = {
    ("accounts", "dispatch"),
    ("feed", "accounts"),
    ("audit", "accounts"),
    # The cursors' table was created by `sync` before it moved to the feed; the feed's first
    # migration takes it over from there.
    ("feed", "sync"),
}


def layer_of() -> dict[str, int]:
    """App label → its layer's position, 0 at the top."""
    contracts = tomllib.loads(PYPROJECT.read_text())["tool"]["importlinter"]["contracts"]
    layered = next(c for c in contracts if c["type"] == "layers")
    places = {}
    for depth, layer in enumerate(layered["layers"]):
        for module in layer.split("|"):
            places[module.strip().removeprefix("server.")] = depth
    return places


def upward(edges: set[tuple[str, str]]) -> set[tuple[str, str]]:
    """The edges from an app to one above it or beside it in the same layer."""
    places = layer_of()
    return {
        (source, target)
        for source, target in edges
        if source != target
        and source in places
        and target in places
        and places[target] <= places[source]
    }


def model_edges() -> set[tuple[str, str]]:
    edges = set()
    for model in apps.get_models():
        for field in model._meta.get_fields():
            if field.is_relation and field.concrete and field.related_model is not None:
                edges.add((model._meta.app_label, field.related_model._meta.app_label))
    return edges


def migration_edges() -> set[tuple[str, str]]:
    graph = MigrationLoader(None, ignore_no_migrations=True).graph
    return {
        (node.key[0], parent.key[0]) for node in graph.node_map.values() for parent in node.parents
    }


def test_the_layers_are_read_from_the_import_contract():
    places = layer_of()
    assert places["planner"] < places["care"] < places["dispatch"] < places["accounts"]
    assert places["sync"] == places["interop"] == places["reports"]
    assert places["feed"] < places["audit"]


def test_an_edge_down_or_within_an_app_is_not_upward_and_one_up_or_sideways_is():
    assert upward({("care", "dispatch"), ("dispatch", "dispatch"), ("care", "auth")}) == set()
    assert upward({("dispatch", "care"), ("sync", "interop")}) == {
        ("dispatch", "care"),
        ("sync", "interop"),
    }


def test_no_foreign_key_points_up_the_layers_but_the_known_ones():
    assert upward(model_edges()) == KNOWN_MODEL_EDGES


def test_no_migration_depends_on_an_app_above_but_the_known_ones():
    assert upward(migration_edges()) == KNOWN_MIGRATION_EDGES
