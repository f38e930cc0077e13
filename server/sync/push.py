"""Offline push: a tablet's queued changes, answered one by one.

Each mutation runs in its own transaction (so one that fails, or one that waits on a lock, never
holds or sinks the rest of the batch), and inside it:

1. it claims its id by inserting its `AppliedMutation` row. The primary key is the arbiter: when
   the same batch is retried on two connections at once, the second insert waits for the first
   transaction and then fails, and that copy is answered from the stored row (`duplicate`);
2. it calls the same service function the REST API calls (no second copy of any write), in a
   savepoint, and maps the domain error, if any, to `conflict` or `rejected`;
3. it stores the answer on the claimed row, so a retry gets the same answer again.

Mutations are applied in the order sent, so changes to one entity apply in the order they were
made. Device time is data, never the order.

A run of new records that only accumulate (services, naloxone, referrals, surveys: the bulk of
a long offline shift) is checked mutation by mutation exactly as above, but written in one
transaction with one insert per table (`server/feed/write_batch.py`). If any of it can't be
written that way (a copy of the run committed first on another connection, a fault on our side),
the run is rolled back whole and applied one mutation at a time instead.
"""

from __future__ import annotations

import contextlib
import datetime
import functools
import hashlib
import json
import logging
import uuid
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import DatabaseError, IntegrityError, transaction
from django.utils import timezone
from rest_framework import serializers

from server.accounts.models import Device, Role, User
from server.accounts.permissions import role_of
from server.accounts.policies import FIELD, SUPERVISORS
from server.accounts.services import record_clock_skew
from server.care import commands as care_commands
from server.commands import Command, earliest_time
from server.dispatch.incidents import commands as dispatch_commands
from server.dispatch.incidents import presenters as dispatch_presenters
from server.dispatch.models import Assignment, AssignmentStatus
from server.dispatch.safety import commands as safety_commands
from server.dispatch.units import commands as unit_commands
from server.errors import (
    CareFieldError,
    Conflict,
    IdReused,
    InvalidInput,
    TransitionNotAllowed,
    VersionConflict,
    _flatten,
    summarize_fields,
)
from server.feed.write_batch import open_write_batch, write_batch
from server.sync.models import AppliedMutation, MutationStatus

logger = logging.getLogger(__name__)

MAX_BATCH = 1000
# A device time this far past the device's own clock (as measured on this batch) is still
# believed: the batch took a moment to build and send.
CLOCK_SLACK = datetime.timedelta(seconds=5)

# Who may use the push door at all; each mutation is then its command's own policy.
PUSH_ROLES = (*FIELD, *SUPERVISORS)


@dataclass(frozen=True)
class Mutation:
    id: uuid.UUID
    type: str
    entity_id: uuid.UUID
    base_version: int | None
    occurred_at: datetime.datetime  # device time, clamped when it ran ahead of the device clock
    data: dict[str, Any]


@dataclass(frozen=True)
class BatchClock:
    """The server's time when the batch arrived, and the device's clock minus it."""

    received_at: datetime.datetime
    skew: datetime.timedelta

    def latest_believable(self) -> datetime.datetime:
        return self.received_at + self.skew + CLOCK_SLACK

    def device_now(self) -> datetime.datetime:
        return self.received_at + self.skew

    def server_time(self, device_time: datetime.datetime) -> datetime.datetime:
        """A time by a clock known to be off (beyond the flag limit), as the server's clock
        would have read it; a clock within the limit is taken at its word. A time before the
        program's epoch is passed on as sent, for the command to refuse (moving year 1 back by
        the skew would fall off the calendar)."""
        if (
            abs(self.skew.total_seconds()) > settings.CARE_SKEW_FLAG_SECONDS
            and device_time >= earliest_time()
        ):
            return device_time - self.skew
        return device_time


class _Unstored(Exception):
    """An answer that must not be kept (the server failed, not the change): roll back the claim."""

    def __init__(self, answer: dict):
        super().__init__(answer.get("reason", ""))
        self.answer = answer


# ---- the batch -----------------------------------------------------------------------------


def push_batch(
    *,
    actor: User,
    device: Device,
    device_time: datetime.datetime,
    mutations: list[dict[str, Any]],
) -> dict[str, Any]:
    """Apply a tablet's batch in order; answer each mutation; measure the device's clock."""
    now = timezone.now()
    clock = BatchClock(received_at=now, skew=device_time - now)
    record_clock_skew(actor=actor, device=device, skew_seconds=clock.skew.total_seconds())
    # One query finds what a retried batch already sent; the rest are claimed one by one.
    seen = AppliedMutation.objects.select_related("device").in_bulk(
        [uuid.UUID(str(raw["id"])) for raw in mutations]
    )
    results: list[dict[str, Any]] = []
    for run in _runs(_emergencies_first(mutations), seen):
        if len(run) > 1:
            results.extend(_apply_run(actor=actor, device=device, raws=run, clock=clock))
            continue
        [raw] = run
        stored = seen.get(uuid.UUID(str(raw["id"])))
        results.append(
            apply_mutation(actor=actor, device=device, raw=raw, clock=clock, stored=stored)
        )
    # Answered in the order sent, whatever order they were applied in.
    position = {str(raw["id"]): i for i, raw in enumerate(mutations)}
    results.sort(key=lambda answer: position.get(str(answer.get("id")), len(position)))
    return {
        "results": results,
        "server_time": timezone.now().isoformat(),
        "clock_skew_seconds": round(clock.skew.total_seconds(), 3),
    }


FIRST = frozenset({"emergency.start"})


def _emergencies_first(mutations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """An emergency queued behind an offline shift's records is applied (and alerts the board)
    before any of them, whatever order the tablet sent them in."""
    return [m for m in mutations if m.get("type") in FIRST] + [
        m for m in mutations if m.get("type") not in FIRST
    ]


# Records that are only ever created, each under its own new id: nothing in a run of them reads
# what another wrote, so they can be checked one by one and written together.
ACCUMULATING = frozenset({"service.create", "naloxone.create", "referral.create", "survey.create"})


def _runs(mutations: list[dict[str, Any]], seen: dict) -> list[list[dict[str, Any]]]:
    """The batch cut into runs of new accumulating records; every other mutation alone."""
    runs: list[list[dict[str, Any]]] = []
    joinable = False
    for raw in mutations:
        fits = raw.get("type") in ACCUMULATING and uuid.UUID(str(raw["id"])) not in seen
        if fits and joinable:
            runs[-1].append(raw)
        else:
            runs.append([raw])
        joinable = fits
    return runs


def _apply_run(
    *, actor: User, device: Device, raws: list[dict[str, Any]], clock: BatchClock
) -> list[dict[str, Any]]:
    """Check each as `apply_mutation` would; write them all in one transaction."""
    try:
        with transaction.atomic(), write_batch() as batch:
            answers = []
            for raw in raws:
                mutation_id = uuid.UUID(str(raw["id"]))
                claim, occurred_at = _claim(device, raw, mutation_id, payload_hash(raw), clock)
                answer = _decide(actor, device, raw, mutation_id, occurred_at)
                _settle(claim, answer, occurred_at)
                batch.claims.append(claim)
                answers.append(answer)
            batch.flush()
        return answers
    except (DatabaseError, _Unstored):
        # Nothing of the run was kept: take its mutations one at a time, as every other.
        return [apply_mutation(actor=actor, device=device, raw=raw, clock=clock) for raw in raws]


def payload_hash(raw: dict[str, Any]) -> str:
    """What makes a retry a retry: the same type, entity and data under the same id."""
    body = {"type": raw.get("type"), "entity_id": raw.get("entity_id"), "data": raw.get("data")}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def apply_mutation(
    *,
    actor: User,
    device: Device,
    raw: dict[str, Any],
    clock: BatchClock,
    stored: AppliedMutation | None = None,
) -> dict[str, Any]:
    """One mutation, answered once and the same way ever after. `stored` is its row when the
    caller already looked; a miss is settled by the claim's insert either way."""
    mutation_id = uuid.UUID(str(raw["id"]))
    fingerprint = payload_hash(raw)
    if stored is not None:
        return _replay(stored, fingerprint, actor)
    try:
        with transaction.atomic():
            return _claim_and_apply(actor, device, raw, mutation_id, fingerprint, clock)
    except IntegrityError:
        # Only the claim's insert lets an IntegrityError out: a copy of this mutation on another
        # connection committed first. Answer as that copy did.
        stored = AppliedMutation.objects.filter(pk=mutation_id).select_related("device").first()
        if stored is None:
            logger.exception("push: integrity error without a stored mutation %s", mutation_id)
            return _server_failed(mutation_id)
        return _replay(stored, fingerprint, actor)
    except _Unstored as unstored:
        return unstored.answer


def _claim_and_apply(actor, device, raw, mutation_id, fingerprint, clock) -> dict[str, Any]:
    claim, occurred_at = _claim(device, raw, mutation_id, fingerprint, clock)
    # The first statement of this mutation's transaction: a losing copy stops (and waits) here.
    claim.save(force_insert=True)
    answer = _decide(actor, device, raw, mutation_id, occurred_at)
    _settle(claim, answer, occurred_at)
    claim.save(update_fields=["status", "answer"])
    return answer


def _claim(device, raw, mutation_id, fingerprint, clock) -> tuple[AppliedMutation, Any]:
    """The mutation's row, unsaved (it keeps the device's time as sent), and the time the change
    is recorded at: the device's time, in the server's terms when its clock is known to be off,
    and never past the moment the batch arrived when it ran ahead of its own clock."""
    sent_at = _device_time(raw.get("occurred_at"))
    clamped = sent_at is not None and sent_at > clock.latest_believable()
    claim = AppliedMutation(
        id=mutation_id,
        device=device,
        type=str(raw.get("type", ""))[:40],
        entity_id=_uuid_or_none(raw.get("entity_id")),
        payload_hash=fingerprint,
        status=MutationStatus.REJECTED,  # replaced by `_settle`, in this same transaction
        answer={},
        occurred_at=sent_at,
        clock_flagged=clamped,
    )
    if sent_at is None:
        return claim, None
    return claim, clock.received_at if clamped else clock.server_time(sent_at)


def _settle(claim: AppliedMutation, answer: dict[str, Any], occurred_at) -> None:
    """Keep the answer on the claim, so a retry gets it again."""
    if claim.clock_flagged:
        answer["clock_flagged"] = True
        answer["occurred_at"] = occurred_at.isoformat()
    claim.status = answer.get("original_status", answer["status"])
    claim.answer = answer


def _replay(stored: AppliedMutation, fingerprint: str, actor: User) -> dict[str, Any]:
    mutation_id = str(stored.pk)
    if stored.device.user_id != actor.pk:
        # Don't tell one account what another's change was.
        return _rejected(
            mutation_id,
            "This change's id was already used by another account; it was not applied. "
            "Record it again.",
            code="id_reused",
        )
    if stored.payload_hash != fingerprint:
        return _rejected(
            mutation_id,
            "This change's id was already used for different data; it was not applied. "
            "Record it again as a new change.",
            code="id_reused",
        )
    return {**stored.answer, "status": "duplicate", "original_status": stored.status}


# ---- one mutation: validate, call the service, map its answer -----------------------------


def _decide(actor, device, raw, mutation_id, occurred_at) -> dict[str, Any]:
    mid = str(mutation_id)
    try:
        mutation = _parse(raw, mutation_id, occurred_at)
        command = COMMANDS[mutation.type]
        if not command.may_run(actor):
            return _rejected(mid, _role_refusal(actor, mutation.type), code="forbidden")
        with transaction.atomic() if open_write_batch() is None else contextlib.nullcontext():
            server = _run(command, actor, device, mutation)
        if server.get("status") == "refused":  # an absurd position fix: counted, not kept
            return _rejected(mid, server["reason"], code="position_refused", server=server)
        if server.get("status") == "stale":  # an older fix than the unit's: nothing to apply
            return {"id": mid, "status": "duplicate", "original_status": "applied"} | {
                "server": server
            }
        return {"id": mid, "status": MutationStatus.APPLIED.value, "server": server}
    except VersionConflict as exc:
        return _conflict(mid, exc)
    except TransitionNotAllowed as exc:
        return _rejected(
            mid, _transition_reason(raw, exc), code=exc.code, server=_assignment_copy(raw)
        )
    except IdReused as exc:
        return _rejected(mid, exc.detail, code=exc.code)
    except Conflict as exc:
        if "server" in exc.extra:
            return _conflict(mid, exc)
        return _rejected(mid, exc.detail, code=exc.code, fields=exc.fields or None)
    except CareFieldError as exc:
        return _rejected(mid, exc.detail, code=exc.code, fields=exc.fields or None)
    except Exception as exc:  # a fault of ours: say so, keep nothing, let the tablet retry
        logger.exception("push: mutation %s failed", mid)
        raise _Unstored(_server_failed(mutation_id)) from exc


class MutationSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    type = serializers.CharField(max_length=40)
    entity_id = serializers.UUIDField()
    base_version = serializers.IntegerField(required=False, allow_null=True, min_value=1)
    occurred_at = serializers.DateTimeField()
    data = serializers.DictField(required=False, default=dict)

    def validate_type(self, value: str) -> str:
        if value not in COMMANDS:
            raise serializers.ValidationError(
                f"'{value}' is not a kind of change this server takes "
                f"(one of {', '.join(MUTATION_TYPES)})."
            )
        return value


def _parse(raw, mutation_id, occurred_at) -> Mutation:
    try:
        values = dict(_checker(MutationSerializer).run_validation(raw))
    except serializers.ValidationError as exc:
        fields = _flatten(exc.detail)
        raise InvalidInput(summarize_fields(fields), fields=fields) from exc
    return Mutation(
        id=mutation_id,
        type=values["type"],
        entity_id=values["entity_id"],
        base_version=values.get("base_version"),
        occurred_at=occurred_at or values["occurred_at"],
        data=dict(values["data"]),
    )


@functools.cache
def _checker(serializer_class) -> serializers.Serializer:
    """One serializer, reused: validating with it keeps no state."""
    return serializer_class()


def _run(command: Command, actor: User, device: Device, m: Mutation) -> dict:
    """The command the mutation stands for, exactly as its REST door would run it."""
    body, fixed = command.mutation_input(
        entity_id=m.entity_id, occurred_at=m.occurred_at, base_version=m.base_version, data=m.data
    )
    return command(actor=actor, device=device, data=body, mutation_id=m.id, **fixed)


# Every change a tablet may push, by mutation type: the same commands the REST API runs.
COMMANDS: dict[str, Command] = {
    command.name: command
    for command in (
        dispatch_commands.transition_assignment,
        unit_commands.report_position,
        safety_commands.start_emergency,
        safety_commands.end_emergency,
        safety_commands.request_backup,
        safety_commands.record_check_in,
        care_commands.upsert_encounter,
        care_commands.record_service_given,
        care_commands.remove_service_given,
        care_commands.record_naloxone,
        care_commands.update_naloxone,
        care_commands.remove_naloxone,
        care_commands.create_referral,
        care_commands.update_referral,
        care_commands.record_survey,
    )
}
MUTATION_TYPES = tuple(sorted(COMMANDS))


# ---- answers -------------------------------------------------------------------------------


def _rejected(mutation_id: str, reason: str, **extra: Any) -> dict[str, Any]:
    answer = {"id": mutation_id, "status": MutationStatus.REJECTED.value, "reason": reason}
    answer.update({k: v for k, v in extra.items() if v is not None})
    return answer


def _conflict(mutation_id: str, exc: CareFieldError) -> dict[str, Any]:
    return {
        "id": mutation_id,
        "status": MutationStatus.CONFLICT.value,
        "reason": exc.detail,
        "code": exc.code,
        "server": exc.extra.get("server"),
    }


def _server_failed(mutation_id: uuid.UUID) -> dict[str, Any]:
    # Not stored: the same id is tried afresh next time, so the tablet keeps it queued.
    return _rejected(
        str(mutation_id),
        "The server could not apply this change because of a fault on its side; nothing was "
        "saved. It will be sent again.",
        code="server_error",
        retryable=True,
    )


def _role_refusal(actor: User, mutation_type: str) -> str:
    if role_of(actor) == Role.SPD_OFFICER:
        return "SPD officers don't record CARE's care records; this change was not saved."
    return f"Your role may not send '{mutation_type}' changes; this change was not saved."


def _transition_reason(raw: dict, exc: TransitionNotAllowed) -> str:
    current, requested = exc.extra.get("current"), exc.extra.get("requested")
    if current == AssignmentStatus.CANCELLED:
        assignment = _assignment_record(raw)
        why = assignment.incident.cancel_reason if assignment else ""
        return (
            "The call was cancelled while you were offline"
            + (f" ({why})" if why else "")
            + f"; '{requested}' was not recorded."
        )
    if current == requested:
        return f"This assignment is already {current}; nothing to change."
    return exc.detail


def _assignment_record(raw: dict) -> Assignment | None:
    entity = _uuid_or_none(raw.get("entity_id"))
    if entity is None:
        return None
    return Assignment.objects.select_related("incident", "unit").filter(pk=entity).first()


def _assignment_copy(raw: dict) -> dict | None:
    assignment = _assignment_record(raw)
    return dispatch_presenters.assignments_with_partners([assignment])[0] if assignment else None


def _device_time(value: Any) -> datetime.datetime | None:
    try:
        return serializers.DateTimeField().to_internal_value(value) if value else None
    except serializers.ValidationError:
        return None


def _uuid_or_none(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except (TypeError, ValueError, AttributeError):
        return None
