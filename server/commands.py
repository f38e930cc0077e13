"""One definition per write.

A `Command` is a state change as the program knows it: the input it takes (a DRF serializer
whose field `source`s are the service's keyword arguments), who may send it, the service that
checks and stores it, and the shape of its answer. Every door calls the same command — the REST
view, the offline push (whose mutation type is the command's name), the console form, an admin
action, an inbound CAD or partner document — so an input refused on one door is refused, with
the same code and fields, on all of them.

The service is the last word: it validates what it stores (`full_clean()`, times, the record it
hangs off) whatever its caller checked first. The schema is for the caller's sake: it turns
text into values and names the field that was wrong.
"""

from __future__ import annotations

import datetime
import functools
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.utils import timezone

from server.errors import InvalidInput, RoleRefused, _flatten, summarize_fields


@dataclass(frozen=True)
class Command:
    name: str  # "naloxone.create": also the offline push's mutation type
    schema: type  # a rest_framework Serializer class
    service: Callable[..., Any]  # keyword arguments: actor, device, mutation_id, the input
    present: Callable[[Any], dict[str, Any]]
    # Who may run it, through any door: roles, and `system:cad` / `system:partner` for the
    # system clients (names in `server.accounts.policies`). The runner refuses everyone else
    # before the input is even read; the service then checks which record (the policy of its
    # app), so a door can neither forget the role nor widen it.
    roles: tuple[str, ...] = ()
    on: str = ""  # which records, in words (the service's policy check); docs/security.md
    # How an offline mutation fills the input: the service argument its entity id goes to
    # (as a REST URL's id does), or else the schema field it goes to (a create's own id); the
    # field its device time goes to (creates: the record's own time), its base version's field.
    entity_arg: str | None = None
    entity_field: str | None = None
    time_field: str | None = None
    time_if_missing: bool = False  # the device time only fills a time the mutation left out
    version_field: str | None = None
    # Fills what an offline mutation may leave out (e.g. the assignment of an encounter edit).
    complete: Callable[[dict[str, Any], Any], dict[str, Any]] | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def parse(self, data: Mapping[str, Any], **context: Any) -> dict[str, Any]:
        """The input as the service's keyword arguments, or `InvalidInput` naming each field."""
        from rest_framework import serializers

        checker = _checker(self.schema, tuple(sorted(context)))
        if context:
            checker = self.schema(context=context)
        try:
            return dict(checker.run_validation(dict(data) if isinstance(data, Mapping) else data))
        except serializers.ValidationError as exc:
            fields = _flatten(exc.detail)
            raise InvalidInput(summarize_fields(fields), fields=fields) from exc

    def execute(
        self,
        *,
        actor: Any,
        data: Mapping[str, Any],
        device: Any = None,
        mutation_id: uuid.UUID | None = None,
        **fixed: Any,
    ) -> Any:
        """Check the actor's role, parse, then run the service; `fixed` are arguments the door
        supplies itself (the record id from the URL), never taken from the body."""
        self.check_actor(actor)
        values = self.parse(data)
        values.update(fixed)
        if mutation_id is not None:
            values["mutation_id"] = mutation_id
        return self.service(actor=actor, device=device, **values)

    def may_run(self, actor: Any) -> bool:
        # Imported here: this module sits beside the layers and names no app at import time.
        from server.accounts.policies import principal

        return principal(actor) in self.roles

    def check_actor(self, actor: Any) -> None:
        if not self.may_run(actor):
            raise RoleRefused("Your role may not do this.")

    def __call__(self, **kwargs: Any) -> dict[str, Any]:
        return self.present(self.execute(**kwargs))

    def mutation_input(
        self, *, entity_id: uuid.UUID, occurred_at: datetime.datetime, base_version, data
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """The input an offline mutation stands for: its body, and the arguments a REST door
        would take from the URL."""
        body = dict(data)
        fixed = {self.entity_arg: entity_id} if self.entity_arg else {}
        if self.entity_field:
            body[self.entity_field] = entity_id
        if self.time_field and not (self.time_if_missing and body.get(self.time_field)):
            body[self.time_field] = occurred_at
        if self.version_field and base_version is not None:
            body[self.version_field] = base_version
        if self.complete is not None:
            body = self.complete(body, entity_id)
        return body, fixed


@functools.cache
def _checker(schema: type, _context: tuple = ()) -> Any:
    """One serializer per schema, reused: building one copies every field (a large share of an
    offline mutation's cost), while validating with it keeps no state."""
    return schema()


# ---- checks every service applies to the times it stores ----------------------------------


def clock_tolerance() -> datetime.timedelta:
    """How far a device's time may run ahead of the server's, or behind the record it follows:
    two tablets of one unit never agree to the second."""
    return datetime.timedelta(seconds=settings.CARE_CLOCK_TOLERANCE_SECONDS)


def earliest_time() -> datetime.datetime:
    """The configured epoch (`CARE_EARLIEST_TIME`, the program's start): no record is older."""
    value = settings.CARE_EARLIEST_TIME
    if isinstance(value, str):
        value = datetime.datetime.fromisoformat(value)
    return value


def check_time_bounds(value: datetime.datetime, *, field_name: str) -> None:
    """Refuse a time without an offset, before the epoch, or ahead of the server's clock by more
    than the tolerance. Year 1 or 9999 (the edges of what Python can hold, where any sum
    overflows) is a clear refusal here rather than an OverflowError further on."""
    if timezone.is_naive(value):
        raise InvalidInput(
            f"{field_name} needs a time zone offset.",
            fields={field_name: ["Give the time with its offset, e.g. 2026-11-20T14:05:00-08:00."]},
        )
    earliest = earliest_time()
    if value < earliest:
        raise InvalidInput(
            f"{field_name} is before the program's records begin.",
            fields={field_name: [f"This time is before {earliest.isoformat()}."]},
        )
    if value > timezone.now() + clock_tolerance():
        raise InvalidInput(
            f"{field_name} is in the future.",
            fields={field_name: ["This time is in the future."]},
        )


def check_time(
    value: datetime.datetime,
    *,
    field_name: str,
    not_before: datetime.datetime | None = None,
    after_what: str = "",
) -> None:
    """Refuse a time outside the bounds (above) or before the record it follows.

    Public figures (medians, police time freed) are computed from these times: one wrong year
    is a wrong number on the dashboard."""
    if value is None:
        return
    check_time_bounds(value, field_name=field_name)
    tolerance = clock_tolerance()
    if not_before is not None and value < not_before - tolerance:
        raise InvalidInput(
            f"{field_name} is before {after_what}.",
            fields={field_name: [f"This time is before {after_what} ({not_before.isoformat()})."]},
        )


def full_clean(record: Any, *, exclude: list[str] | None = None) -> None:
    """The model's own checks (lengths, formats, choices, validators) before it is stored, as
    `InvalidInput` naming each field. Relations the service already loaded are left out: they
    need no query to prove they exist."""
    from django.core.exceptions import ValidationError as DjangoValidationError

    loaded = [f.name for f in record._meta.concrete_fields if f.is_relation and f.is_cached(record)]
    try:
        record.full_clean(
            exclude=[*loaded, *(exclude or [])], validate_unique=False, validate_constraints=False
        )
    except DjangoValidationError as exc:
        raise InvalidInput(summarize_fields(exc.message_dict), fields=exc.message_dict) from exc


def registered_commands() -> list[Command]:
    """Every command of every app, by name (docs/security.md's table is made from these)."""
    import importlib

    found: dict[str, Command] = {}
    for where in (
        "dispatch.incidents",
        "dispatch.units",
        "dispatch.safety",
        "care",
        "interop",
    ):
        module = importlib.import_module(f"server.{where}.commands")
        for value in vars(module).values():
            if isinstance(value, Command):
                found[value.name] = value
    return [found[name] for name in sorted(found)]
