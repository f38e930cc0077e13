"""Dispatch tests need the reference data (a megabyte of pilot-area and beat polygons, call types,
catalogs) in nearly every test. The first test runs the real loader; later tests restore the very
rows it made (same ids, same timestamps) with a few bulk inserts. That is several times faster,
and because the rows' timestamps match, the geography module's parsed-polygon cache stays warm
exactly as it does on a running server."""

from __future__ import annotations

import pytest
from django.apps import apps
from django.db import models

from server.care.reference_data import load_reference_data
from server.dispatch.models import CallType

_snapshot: list[tuple[type[models.Model], list[dict]]] | None = None


def _models_with_rows() -> set[type[models.Model]]:
    return {m for m in apps.get_models() if m._base_manager.exists()}


def _take_snapshot(made: list[type[models.Model]]) -> list[tuple[type[models.Model], list[dict]]]:
    return [
        (
            model,
            [
                {f.attname: getattr(o, f.attname) for f in model._meta.concrete_fields}
                for o in model._base_manager.order_by("pk")
            ],
        )
        for model in made
    ]


def _restore(snapshot) -> None:
    for model, rows in snapshot:
        stamped = [
            f
            for f in model._meta.concrete_fields
            if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)
        ]
        # Insert the loader's own timestamps, not the time now.
        saved = [(f, f.auto_now, f.auto_now_add) for f in stamped]
        try:
            for f in stamped:
                f.auto_now = f.auto_now_add = False
            model._base_manager.bulk_create([model(**row) for row in rows])
        finally:
            for f, auto_now, auto_now_add in saved:
                f.auto_now, f.auto_now_add = auto_now, auto_now_add


@pytest.fixture
def reference(db):
    """Pilot area, beats, call types, protocol, catalogs and directory (overrides the shared
    fixture of the same name for this directory only)."""
    global _snapshot
    if CallType.objects.exists():
        return
    if _snapshot is None:
        before = _models_with_rows()
        load_reference_data()
        _snapshot = _take_snapshot(
            [m for m in apps.get_models() if m not in before and m._base_manager.exists()]
        )
        return
    _restore(_snapshot)
