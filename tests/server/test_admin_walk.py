"""Every registered admin, walked as a superuser through the real admin pages: its add form, its
change form, its list's editable columns, its delete page and its bulk delete. A page that writes
a record of the program must do it through a command (an audit row of ours comes with the write)
or refuse: the admin is not a second way in.

The forms are filled as a browser would, from the page's own HTML: what the page shows is posted
back, one value changed, so every widget, inline and management form is the real one."""

from __future__ import annotations

import datetime
import json
import re
import uuid
from dataclasses import dataclass, field
from html.parser import HTMLParser

import pytest
from django.contrib import admin
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from server.accounts.models import Role, SystemClientKind, User
from server.accounts.system_clients import create_system_client
from server.audit.models import AuditEntry
from server.care.services import upsert_encounter
from server.dispatch.models import (
    Area,
    CallType,
    ProgramHours,
    RosterEntry,
    ScreeningQuestion,
    Unit,
)
from server.interop.models import CallTypeMapping, CautionMapping
from server.planner.services import todays_program
from tests.conftest import PASSWORD

# Tables a page may write without a command: the admin's own log, the session and the audit
# trail itself, and the feed's outbox (written by the commands' own publishing).
PLUMBING = ("django_admin_log", "django_session", "audit_auditentry", "feed_event", "feed_stream")
WRITE = re.compile(r'^\s*(INSERT INTO|UPDATE|DELETE FROM)\s+"?([a-z0-9_]+)"?', re.IGNORECASE)


class FormReader(HTMLParser):
    """The named fields of one form of a page, with the values a browser would send."""

    def __init__(self, form_id: str) -> None:
        super().__init__(convert_charrefs=True)
        self.form_id = form_id
        self.inside = False
        self.values: list[tuple[str, str]] = []
        self.kinds: dict[str, str] = {}
        self._select: tuple[str, bool] | None = None
        self._options: list[tuple[str, bool]] = []
        self._textarea: str | None = None
        self._text = ""

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form" and a.get("id") == self.form_id:
            self.inside = True
        if not self.inside:
            return
        name = a.get("name")
        if tag == "input" and name:
            kind = (a.get("type") or "text").lower()
            if kind in ("submit", "button", "image", "file", "reset"):
                return
            self.kinds[name] = kind
            if kind in ("checkbox", "radio"):
                if "checked" in a:
                    self.values.append((name, a.get("value") or "on"))
                return
            self.values.append((name, a.get("value") or ""))
        elif tag == "select" and name:
            self._select = (name, "multiple" in a)
            self._options = []
            self.kinds[name] = "select"
        elif tag == "option" and self._select is not None:
            self._options.append((a.get("value") or "", "selected" in a))
        elif tag == "textarea" and name:
            self._textarea, self._text = name, ""
            self.kinds[name] = "textarea"

    def handle_data(self, data):
        if self._textarea is not None:
            self._text += data

    def handle_endtag(self, tag):
        if tag == "form" and self.inside:
            self.inside = False
        if tag == "select" and self._select is not None:
            name, multiple = self._select
            chosen = [value for value, selected in self._options if selected]
            if not chosen and not multiple and self._options:
                chosen = [self._options[0][0]]
            self.values.extend((name, value) for value in chosen)
            self._select = None
        if tag == "textarea" and self._textarea is not None:
            self.values.append((self._textarea, self._text.lstrip("\n")))
            self._textarea = None


def read_form(html: str, form_id: str) -> tuple[dict[str, list[str]], dict[str, str]]:
    reader = FormReader(form_id)
    reader.feed(html)
    data: dict[str, list[str]] = {}
    for name, value in reader.values:
        data.setdefault(name, []).append(value)
    return data, reader.kinds


@dataclass
class Walk:
    """What each page did: written with an audit row, written without one, or refused."""

    audited: list[str] = field(default_factory=list)
    unaudited: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    wrote_nothing: list[str] = field(default_factory=list)

    def record(self, what: str, browser: Client, method, url: str, data=None) -> int:
        before = _audit_rows()
        with CaptureQueriesContext(connection) as queries:
            try:
                answer = method(url, data) if data is not None else method(url)
            except Exception as exc:  # a page that breaks is as wrong as one that writes
                self.unaudited.append(f"{what} failed: {exc!r}")
                return 500
        writes = set()
        for query in queries.captured_queries:
            found = WRITE.match(query["sql"])
            if found and found.group(2).lower() not in PLUMBING:
                writes.add(found.group(2).lower())
        if answer.status_code == 403:
            self.refused.append(what)
        elif writes and _audit_rows() == before:
            self.unaudited.append(f"{what} wrote {sorted(writes)} with no audit row")
        elif writes:
            self.audited.append(what)
        else:
            self.wrote_nothing.append(what)
            form = (answer.context or {}).get("adminform") if answer.context else None
            if form is not None and form.form.errors:
                self.wrote_nothing[-1] += f" (form refused: {dict(form.form.errors)})"
        return answer.status_code


def _audit_rows() -> int:
    """Audit rows of a change: opening a record in admin is audited as a view, not a write."""
    return AuditEntry.objects.exclude(action__endswith=".viewed").count()


def _model_admins():
    return sorted(admin.site._registry.items(), key=lambda item: item[0]._meta.label)


def _unique_names(model) -> set[str]:
    names = {f.name for f in model._meta.concrete_fields if f.unique and not f.primary_key}
    for together in model._meta.unique_together:
        names.update(together)
    for constraint in model._meta.constraints:
        names.update(getattr(constraint, "fields", ()) or ())
    return names


def _changed(value: str) -> str:
    """A value no other row has: a few letters of a new id in place of its end."""
    return (value[:-4] if len(value) > 8 else value) + uuid.uuid4().hex[:4].upper()


def _typed_on_add() -> dict[str, dict[str, str]]:
    """What a person types on the add forms that no existing row's page can fill: fields shown
    only on adding (read-only once saved), or a model whose rows are never changed in admin."""
    care_unit = Unit.objects.get(call_sign="CARE-1")
    rostered = User.objects.filter(role=Role.CARE_RESPONDER).order_by("pk").first()
    next_week = datetime.date.today() + datetime.timedelta(days=7)
    return {
        "accounts.SystemClient": {"kind": SystemClientKind.CAD, "name": "Walk CAD"},
        "care.DirectoryService": {"organization": "Walk organization"},
        "dispatch.RosterEntry": {
            "unit": str(care_unit.pk),
            "user": str(rostered.pk),
            "first_day": next_week.isoformat(),
            "last_day": (next_week + datetime.timedelta(days=4)).isoformat(),
        },
        "planner.Scenario": {
            "name": "Walk scenario",
            "areas": json.dumps([Area.objects.order_by("pk").first().name]),
            "hours": '[{"weekday": 0, "start": "08:00", "end": "20:00", "teams": 1}]',
            "call_types": json.dumps([CallType.objects.order_by("pk").first().code]),
        },
    }


def _blank(values: list[str]) -> bool:
    """An empty field as the add form shows it (a JSON field shows null or an empty list)."""
    return not any(v not in ("", "null", "[]", "{}") for v in values)


def _filled_add_form(browser: Client, model, base: str, row) -> dict | None:
    """The add page's fields, filled from an existing row's change page where they match, each
    unique value made new, passwords typed twice."""
    page = browser.get(f"{base}add/")
    if page.status_code != 200:
        return None
    name = model._meta.model_name
    data, kinds = read_form(page.content.decode(), f"{name}_form")
    if row is not None:
        shown = browser.get(f"{base}{row.pk}/change/")
        if shown.status_code == 200:
            existing, _ = read_form(shown.content.decode(), f"{name}_form")
            for key, values in existing.items():
                if (key in data and _blank(data[key])) or (key not in data and key in kinds):
                    data[key] = values
    for key, value in _typed_on_add().get(model._meta.label, {}).items():
        data[key] = [value]
    for key, kind in kinds.items():
        if kind == "password":
            data[key] = ["Walk-the-admin-9182!"]
    for key in _unique_names(model):
        for candidate in (key, f"{key}_0"):
            typed = kinds.get(candidate) in ("text", "textarea")
            if typed and data.get(candidate) and data[candidate][0]:
                data[candidate] = [_changed(data[candidate][0])]
    if "username" in data:
        data["username"] = [f"walker-{uuid.uuid4().hex[:6]}"]
    data["_save"] = ["Save"]
    return data


def _one_field_changed(data: dict, kinds: dict, prefix: str = "") -> dict:
    """The form as shown, with one plain value changed (a text, a number or a box)."""
    changed = dict(data)
    for key, kind in kinds.items():
        if not key.startswith(prefix) or key.endswith(("TOTAL_FORMS", "INITIAL_FORMS", "-id")):
            continue
        if kind == "number" and changed.get(key, [""])[0].lstrip("-").isdigit():
            changed[key] = [str(int(changed[key][0]) + 1)]
            return changed
        if kind == "checkbox" and key != "action-toggle" and not key.startswith("_selected"):
            if key in changed:
                del changed[key]
            else:
                changed[key] = ["on"]
            return changed
    return changed


@pytest.fixture
def superuser(people) -> Client:
    User.objects.create_superuser("walker", "walker@example.org", PASSWORD, role=Role.ADMIN)
    browser = Client()
    assert browser.login(username="walker", password=PASSWORD)
    return browser


@pytest.fixture
def records(dispatched, people):
    """A call sent to both units, with an encounter, and a row of each reference table: a row
    in every table an admin shows."""
    call = dispatched()
    upsert_encounter(
        actor=people["care1"],
        encounter_id=uuid.uuid4(),
        assignment_id=call["care"],
        changes={"people_contacted": 1, "disposition": "referred"},
    )
    ProgramHours.objects.create(weekday=0, start=datetime.time(8), end=datetime.time(20))
    CallTypeMapping.objects.create(cad_code="DOWN", call_type=CallType.objects.first())
    CautionMapping.objects.create(caution_text="dog", question=ScreeningQuestion.objects.first())
    create_system_client(actor=people["admin"], kind=SystemClientKind.CAD, name="CAD one")
    RosterEntry.objects.create(
        unit=Unit.objects.get(call_sign="CARE-2"),
        user=people["care3"],
        first_day=datetime.date(2026, 1, 5),
        last_day=datetime.date(2026, 1, 9),
        created_by=people["admin"],
    )
    todays_program()


def _walk(superuser: Client, only=None) -> Walk:
    walk = Walk()
    for model, model_admin in _model_admins():
        if only is not None and model is not only:
            continue
        label = model._meta.label
        base = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
        row = model._default_manager.order_by("pk").first()
        name = model._meta.model_name

        # The add form, filled as a person would.
        added = None
        data = _filled_add_form(superuser, model, base, row)
        if data is None:
            walk.refused.append(f"{label} add")
        else:
            known = set(model._default_manager.values_list("pk", flat=True))
            walk.record(f"{label} add", superuser, superuser.post, f"{base}add/", data)
            added = model._default_manager.exclude(pk__in=known).order_by("pk").first()

        # The change form, one value changed.
        target = added or row
        if target is not None:
            page = superuser.get(f"{base}{target.pk}/change/")
            if page.status_code == 200:
                data, kinds = read_form(page.content.decode(), f"{name}_form")
                data = _one_field_changed(data, kinds)
                data["_save"] = ["Save"]
                url = f"{base}{target.pk}/change/"
                walk.record(f"{label} change", superuser, superuser.post, url, data)
            else:
                walk.refused.append(f"{label} change")

        # A person's password page (the user admin's own form beside the change form).
        if target is not None and hasattr(model_admin, "user_change_password"):
            url = f"{base}{target.pk}/password/"
            data, kinds = read_form(superuser.get(url).content.decode(), f"{name}_form")
            for key, kind in kinds.items():
                if kind == "password":
                    data[key] = ["Walk-the-password-page-4417!"]
            walk.record(f"{label} password", superuser, superuser.post, url, data)

        # The list's editable columns.
        if model_admin.list_editable and row is not None:
            page = superuser.get(base)
            data, kinds = read_form(page.content.decode(), "changelist-form")
            data = _one_field_changed(data, kinds, prefix="form-0-")
            data["_save"] = ["Save"]
            walk.record(f"{label} list edit", superuser, superuser.post, base, data)

        # The delete page, on the added row where there is one (nothing refers to it).
        if target is not None:
            url = f"{base}{target.pk}/delete/"
            walk.record(f"{label} delete", superuser, superuser.post, url, {"post": "yes"})
            still = model._default_manager.filter(pk=target.pk).first()
            if still is not None:
                bulk = {"action": "delete_selected", "_selected_action": [str(still.pk)]}
                bulk["post"] = "yes"
                walk.record(f"{label} bulk delete", superuser, superuser.post, base, bulk)
    return walk


REFERENCE = (
    "care.Disposition",
    "care.ServiceType",
    "care.SurveyQuestion",
    "dispatch.BackupReason",
    "dispatch.CallType",
    "dispatch.PoliceOnlyReason",
    "dispatch.ProgramHours",
    "dispatch.ScreeningQuestion",
    "interop.CautionMapping",
)
WRITTEN_THROUGH_COMMANDS = {
    *(f"{model} {path}" for model in REFERENCE for path in ("add", "change", "delete")),
    *(
        f"{model} {path}"
        for model in ("dispatch.Area", "dispatch.Beat", "care.DirectoryService")
        for path in ("add", "change")
    ),
    *(f"{model} list edit" for model in ("dispatch.CallType", "care.ServiceType")),
    "dispatch.Protocol change",
    "dispatch.Unit add",
    "dispatch.Unit change",
    "interop.CallTypeMapping add",
    "interop.CallTypeMapping change",
    "accounts.User add",
    "accounts.User change",
    "accounts.User password",
    "accounts.SystemClient add",
    "dispatch.RosterEntry add",
    "planner.Scenario add",
    "planner.Scenario change",
    "planner.Scenario delete",
}
READ_ONLY = {
    *(
        f"{model} {path}"
        for model in (
            "care.Encounter",
            "dispatch.Incident",
            "dispatch.Assignment",
            "accounts.Device",
            "feed.Event",
        )
        for path in ("add", "change", "delete")
    ),
    "dispatch.UnitPosition add",
    "feed.DeviceCursor add",
    "dispatch.Unit delete",
    "dispatch.Protocol delete",
}


def test_no_admin_page_writes_a_record_without_a_command(superuser, records):
    walk = _walk(superuser)

    assert walk.unaudited == []
    # The walk reached the pages that write: it is not green for having posted nothing.
    assert set(walk.audited) >= WRITTEN_THROUGH_COMMANDS, walk.wrote_nothing
    # And the records made elsewhere are refused, not merely left alone.
    assert set(walk.refused) >= READ_ONLY


def test_the_walk_catches_an_admin_that_saves_without_a_command(superuser, records, monkeypatch):
    """The walk's own check: a page saving as Django does by default is reported."""
    from server.dispatch.models import Beat

    registered = admin.site._registry[Beat]
    for name in ("save_model", "delete_model", "delete_queryset"):
        monkeypatch.setattr(registered, name, getattr(admin.ModelAdmin, name).__get__(registered))
    for name in ("has_add_permission", "has_change_permission", "has_delete_permission"):
        monkeypatch.setattr(registered, name, lambda *args, **kwargs: True)

    walk = _walk(superuser, only=Beat)

    assert "dispatch.Beat change wrote ['dispatch_beat'] with no audit row" in walk.unaudited
    assert "dispatch.Beat delete wrote ['dispatch_beat'] with no audit row" in walk.unaudited


def test_the_walk_catches_a_password_page_that_saves_without_a_command(
    superuser, records, monkeypatch
):
    """The password page as Django ships it stores the password with no audit row of ours."""
    from django.contrib.auth.forms import AdminPasswordChangeForm

    registered = admin.site._registry[User]
    monkeypatch.setattr(registered, "change_password_form", AdminPasswordChangeForm)

    walk = _walk(superuser, only=User)

    assert "accounts.User password wrote ['accounts_user'] with no audit row" in walk.unaudited
