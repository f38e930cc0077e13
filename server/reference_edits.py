"""Reference data edited by a supervisor: call types, units, protocol, catalogs, the directory.

Each model has two commands, made here (`reference_commands`) and declared in its app's
`commands.py`: `<model>.save` adds or changes one row, `<model>.delete` removes one. Both are the
supervisor's only (`SUPERVISORS`), run the model's own checks (unique values included), write
an audit row with the row before and after, and publish what the feed's readers need (the app
says what, e.g. the directory stream for a directory service). The admin's pages for these
models call them (`ThroughCommands`): the admin is one more door, not a second write path.

Like `server.commands`, this module sits beside the layers and names no app at import time.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.db import models
from django.http import HttpResponseRedirect

from server.commands import Command
from server.errors import CareFieldError, Conflict, InvalidInput, NotFound, summarize_fields


def _schemas():
    from rest_framework import serializers

    class SaveSchema(serializers.Serializer):
        # None adds a row; the values are the model's fields by name (relations by their ids),
        # checked by the model itself in the service.
        record_id = serializers.CharField(required=False, allow_null=True, default=None)
        values = serializers.DictField()

    class DeleteSchema(serializers.Serializer):
        record_id = serializers.CharField()

    return SaveSchema, DeleteSchema


def _model_name(model: type[models.Model]) -> str:
    return model._meta.model_name


def _as_value(value: Any) -> Any:
    if isinstance(value, models.Model):
        return value.pk
    if isinstance(value, models.QuerySet):
        return [row.pk for row in value]
    return value


def form_values(form, names) -> dict[str, Any]:
    """An admin form's cleaned values as a command's input (rows by their ids)."""
    return {name: _as_value(form.cleaned_data[name]) for name in names if name in form.cleaned_data}


def save_reference(
    *,
    actor: Any,
    device: Any = None,
    model: type[models.Model],
    publish: Callable[[models.Model], None] | None,
    record_id: str | None,
    values: dict[str, Any],
    mutation_id: Any = None,
) -> models.Model:
    from django.core.exceptions import ValidationError as DjangoValidationError

    from server.audit.services import record_audit, snapshot
    from server.feed.services import change_transaction

    fields = {f.name: f for f in model._meta.get_fields() if getattr(f, "concrete", False)}
    many = {f.name for f in model._meta.many_to_many}
    unknown = sorted(set(values) - set(fields) - many)
    if unknown:
        raise InvalidInput(
            f"{model._meta.verbose_name} has no field {', '.join(unknown)}.",
            fields={name: ["No such field."] for name in unknown},
        )
    with change_transaction():
        if record_id is None:
            record, before = model(), None
        else:
            record = model._default_manager.select_for_update().filter(pk=record_id).first()
            if record is None:
                raise NotFound(f"No {model._meta.verbose_name} {record_id}.")
            before = snapshot(record)
        for name, value in values.items():
            if name in many:
                continue
            field = fields[name]
            setattr(record, field.attname if field.is_relation else name, value)
        try:
            record.full_clean()
        except DjangoValidationError as exc:
            raise InvalidInput(summarize_fields(exc.message_dict), fields=exc.message_dict) from exc
        record.save()
        for name in many & set(values):
            getattr(record, name).set(values[name])
        record_audit(
            actor=actor,
            device=device,
            action=f"{_model_name(model)}.{'created' if before is None else 'changed'}",
            obj=record,
            before=before,
            after=snapshot(record),
        )
        if publish is not None:
            publish(record)
    return record


def delete_reference(
    *,
    actor: Any,
    device: Any = None,
    model: type[models.Model],
    publish: Callable[[models.Model], None] | None,
    record_id: str,
    mutation_id: Any = None,
) -> models.Model:
    from server.audit.services import record_audit, snapshot
    from server.feed.services import change_transaction

    with change_transaction():
        record = model._default_manager.select_for_update().filter(pk=record_id).first()
        if record is None:
            raise NotFound(f"No {model._meta.verbose_name} {record_id}.")
        before = snapshot(record)
        record_audit(actor=actor, device=device, action=f"{_model_name(model)}.deleted",
                     obj=record, before=before)  # fmt: skip
        try:
            record.delete()
        except (models.ProtectedError, models.RestrictedError) as exc:
            raise Conflict(
                f"{record} is in use by other records: make it inactive instead."
            ) from exc
        if publish is not None:
            publish(record)
    return record


def _present(record: models.Model) -> dict[str, Any]:
    return {"id": str(record.pk), "record": str(record)}


def reference_commands(
    model: type[models.Model],
    *,
    name: str,
    on: str,
    publish: Callable[[models.Model], None] | None = None,
    deletable: bool = True,
) -> tuple[Command, Command | None]:
    """The save and delete commands of one reference model, the supervisor's only (no delete
    for a model whose rows are never deleted)."""
    from server.accounts.policies import SUPERVISORS

    save_schema, delete_schema = _schemas()

    def save(**kwargs):
        return save_reference(model=model, publish=publish, **kwargs)

    def delete(**kwargs):
        return delete_reference(model=model, publish=publish, **kwargs)

    return (
        Command(name=f"{name}.save", schema=save_schema, service=save, present=_present,
                roles=SUPERVISORS, on=on),
        Command(name=f"{name}.delete", schema=delete_schema, service=delete, present=_present,
                roles=SUPERVISORS, on=on) if deletable else None,
    )  # fmt: skip


class ThroughCommands:
    """An admin whose add, change, list edits and deletes run its model's commands: the same
    checks, audit row and feed event as any other door. Refusals are shown on the page."""

    save_command: Command
    delete_command: Command | None = None

    def save_model(self, request, obj, form, change) -> None:
        names = form.changed_data if change else list(form.cleaned_data)
        saved = self.save_command.execute(
            actor=request.user,
            data={"record_id": str(obj.pk) if change else None, "values": form_values(form, names)},
        )
        obj.pk = saved.pk
        obj._state.adding = False

    def save_related(self, request, form, formsets, change) -> None:
        for formset in formsets:  # no reference admin has inlines; the form's own are saved
            self.save_formset(request, form, formset, change=change)

    def has_delete_permission(self, request, obj=None) -> bool:
        return self.delete_command is not None and super().has_delete_permission(request, obj)

    def delete_model(self, request, obj) -> None:
        self.delete_command.execute(actor=request.user, data={"record_id": str(obj.pk)})

    def delete_queryset(self, request, queryset) -> None:
        for row in queryset:
            self.delete_model(request, row)

    def _refusal_shown(self, request, view, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except CareFieldError as exc:  # the command's refusal, in words; nothing written
            self.message_user(request, exc.detail, messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def changeform_view(self, request, *args, **kwargs):
        return self._refusal_shown(request, super().changeform_view, *args, **kwargs)

    def changelist_view(self, request, *args, **kwargs):
        return self._refusal_shown(request, super().changelist_view, *args, **kwargs)

    def delete_view(self, request, *args, **kwargs):
        return self._refusal_shown(request, super().delete_view, *args, **kwargs)
