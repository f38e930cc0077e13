from django.contrib import admin, messages
from django.http import HttpResponse, HttpResponseRedirect
from django.utils import timezone

from server import csv_output
from server.dispatch.incidents import commands
from server.dispatch.models import (
    Area,
    Assignment,
    AssignmentTransition,
    Beat,
    CallType,
    Incident,
    PoliceOnlyReason,
    PositionRefusal,
    Protocol,
    RosterEntry,
    ScreeningQuestion,
    SignOnRequest,
    Unit,
    UnitPosition,
)
from server.dispatch.safety import commands as safety_commands
from server.dispatch.units import commands as unit_commands
from server.errors import CareFieldError
from server.reference_edits import ThroughCommands


@admin.register(PoliceOnlyReason)
class PoliceOnlyReasonAdmin(ThroughCommands, admin.ModelAdmin):
    """The list dispatchers choose from; its codes and their counts are public. A code in use
    can't be deleted (the calls keep it): make it inactive instead."""

    save_command = commands.save_police_only_reason
    delete_command = commands.delete_police_only_reason

    list_display = ("code", "label", "active", "order")
    list_editable = ("label", "active", "order")
    list_filter = ("active",)
    search_fields = ("code", "label")


@admin.register(Protocol)
class ProtocolAdmin(ThroughCommands, admin.ModelAdmin):
    save_command = commands.save_protocol

    list_display = (
        "__str__",
        "dispatch_model",
        "pilot_start",
        "pilot_end",
        "timezone",
        "hotline_name",
        "updated_at",
    )

    def has_add_permission(self, request) -> bool:
        return not Protocol.objects.exists()  # one protocol row


@admin.register(CallType)
class CallTypeAdmin(ThroughCommands, admin.ModelAdmin):
    save_command = commands.save_call_type
    delete_command = commands.delete_call_type

    list_display = ("code", "eligible", "active")
    list_filter = ("eligible", "active")
    list_editable = ("eligible", "active")
    search_fields = ("code",)


@admin.register(ScreeningQuestion)
class ScreeningQuestionAdmin(ThroughCommands, admin.ModelAdmin):
    save_command = commands.save_screening_question
    delete_command = commands.delete_screening_question

    list_display = ("key", "text", "effect", "required", "active", "order")
    list_filter = ("effect", "required", "active")
    list_editable = ("order", "active")


@admin.register(Area)
class AreaAdmin(ThroughCommands, admin.ModelAdmin):
    save_command = commands.save_area
    delete_command = commands.delete_area

    list_display = ("name", "precinct", "in_pilot", "updated_at")
    list_filter = ("in_pilot", "precinct")
    list_editable = ("in_pilot",)
    search_fields = ("name",)


@admin.register(Beat)
class BeatAdmin(ThroughCommands, admin.ModelAdmin):
    save_command = commands.save_beat
    delete_command = commands.delete_beat

    list_display = ("name", "updated_at")
    search_fields = ("name",)


@admin.register(Unit)
class UnitAdmin(ThroughCommands, admin.ModelAdmin):
    save_command = unit_commands.save_unit

    list_display = ("call_sign", "kind", "in_service", "home_beat")
    list_filter = ("kind", "in_service")
    search_fields = ("call_sign",)


class AssignmentInline(admin.TabularInline):
    model = Assignment
    fields = (
        "unit",
        "kind",
        "status",
        "dispatched_at",
        "delivered_at",
        "scene_safe_at",
        "cleared_at",
    )
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


# A cell a spreadsheet would run as a formula (OWASP "CSV injection"): free text such as an
# override reason is typed by people, so it is written with a leading apostrophe instead.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _as_text(value: object) -> object:
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


@admin.register(Incident)
class IncidentAdmin(admin.ModelAdmin):
    list_display = (
        "cad_number",
        "call_type",
        "received_at",
        "area",
        "beat",
        "eligible",
        "recommendation",
        "response",
        "status",
        "dispatch_model",
    )
    list_filter = (
        "status",
        "eligible",
        "recommendation",
        "response",
        "dispatch_model",
        "in_pilot_area",
        ("received_at", admin.DateFieldListFilter),
    )
    search_fields = ("cad_number", "address", "narrative")
    date_hierarchy = "received_at"
    list_select_related = ("call_type",)
    readonly_fields = [f.name for f in Incident._meta.fields]
    inlines = [AssignmentInline]
    actions = ["export_csv", "cancel"]

    def has_add_permission(self, request) -> bool:
        return False  # calls come through screening, never typed in here

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # changed by the dispatch commands only (the actions below call them)

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.action(description="Export the selected incidents as CSV")
    def export_csv(self, request, queryset):
        response = HttpResponse(content_type="text/csv")
        stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
        response["Content-Disposition"] = f'attachment; filename="incidents-{stamp}.csv"'
        columns = [
            "cad_number",
            "received_at",
            "call_type__code",
            "priority",
            "area",
            "beat",
            "eligible",
            "recommendation",
            "response",
            "status",
            "police_only_code",
            "police_only_note",
            "override_reason",
            "dispatch_model",
        ]
        writer = csv_output.writer(response)
        writer.writerow(columns)
        for row in queryset.values_list(*columns):
            writer.writerow([_as_text(value) for value in row])
        return response

    @admin.action(description="Cancel the selected calls (frees their units)")
    def cancel(self, request, queryset):
        done = 0
        for incident in queryset:
            try:
                commands.cancel_incident.execute(
                    actor=request.user,
                    data={"reason": "cancelled by a supervisor in admin"},
                    incident_id=incident.pk,
                )
                done += 1
            except CareFieldError as exc:
                self.message_user(request, f"{incident.cad_number}: {exc.detail}", messages.WARNING)
        self.message_user(request, f"Cancelled {done} call(s).", messages.SUCCESS)


class TransitionInline(admin.TabularInline):
    model = AssignmentTransition
    fields = ("from_status", "to_status", "actor", "device", "occurred_at", "recorded_at", "note")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Assignment)
class AssignmentAdmin(admin.ModelAdmin):
    list_display = (
        "incident",
        "unit",
        "kind",
        "status",
        "dispatched_at",
        "delivered_at",
        "scene_safe_at",
        "cleared_at",
    )
    list_filter = ("kind", "status", "unit")
    search_fields = ("incident__cad_number", "unit__call_sign")
    list_select_related = ("incident", "unit")
    readonly_fields = [f.name for f in Assignment._meta.fields]
    inlines = [TransitionInline]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # moved through its lifecycle by the field and dispatch only

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(AssignmentTransition)
class AssignmentTransitionAdmin(admin.ModelAdmin):
    list_display = ("assignment", "from_status", "to_status", "actor", "occurred_at", "recorded_at")
    list_filter = ("to_status",)
    search_fields = ("assignment__incident__cad_number", "actor__username")
    list_select_related = ("assignment__incident", "assignment__unit", "actor")

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class ReadOnlyTrack(admin.ModelAdmin):
    """Positions are written by the tablets only; review reads them, retention deletes them."""

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


# ---- shifts, program hours and responder safety ----------------------------------------------

from server.dispatch.models import (  # noqa: E402 - kept beside the admins that use them
    BackupReason,
    BackupRequest,
    CheckIn,
    CheckInLapse,
    Emergency,
    ProgramHours,
    Shift,
)


@admin.register(ProgramHours)
class ProgramHoursAdmin(ThroughCommands, admin.ModelAdmin):
    save_command = commands.save_program_hours
    delete_command = commands.delete_program_hours

    list_display = ["weekday", "start", "end"]
    ordering = ["weekday", "start"]


@admin.register(BackupReason)
class BackupReasonAdmin(ThroughCommands, admin.ModelAdmin):
    save_command = safety_commands.save_backup_reason
    delete_command = safety_commands.delete_backup_reason

    list_display = ["code", "label", "active"]
    list_filter = ["active"]
    search_fields = ["code", "label"]


class ReadOnlyAdmin(admin.ModelAdmin):
    """Written by the field and dispatch through their commands only: read here, never edited."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


def _run_each(modeladmin, request, queryset, command, id_arg: str, data: dict, done: str) -> None:
    """An admin action as the command's door: each row through the command, refusals shown."""
    ran = 0
    for row in queryset:
        try:
            command.execute(actor=request.user, data=data, **{id_arg: row.pk})
            ran += 1
        except CareFieldError as exc:
            modeladmin.message_user(request, f"{row}: {exc.detail}", messages.ERROR)
    if ran:
        modeladmin.message_user(request, f"{done} {ran}.", messages.SUCCESS)


@admin.register(Shift)
class ShiftAdmin(ReadOnlyAdmin):
    """Shifts open by signing on (the tablet, or a supervisor through the API) and end by
    signing off: the admin reads them and signs people off through the command."""

    list_display = ["unit", "user", "partner", "vehicle", "started_at", "ended_at"]
    list_filter = ["unit", ("ended_at", admin.EmptyFieldListFilter)]
    search_fields = ["user__username", "unit__call_sign", "vehicle"]
    actions = ["sign_off"]

    @admin.action(description="Sign the selected people off")
    def sign_off(self, request, queryset):
        _run_each(self, request, queryset, unit_commands.sign_off, "shift_id", {}, "Signed off")


@admin.register(RosterEntry)
class RosterEntryAdmin(admin.ModelAdmin):
    """A supervisor's roster: added through the roster command (audited, published to the
    board and the person's tablet); an entry is never edited, only cancelled and added again."""

    list_display = ["unit", "user", "first_day", "last_day", "cancelled_at", "created_by"]
    list_filter = ["unit", ("cancelled_at", admin.EmptyFieldListFilter)]
    search_fields = ["user__username", "unit__call_sign"]
    date_hierarchy = "first_day"
    fields = ["unit", "user", "first_day", "last_day", "note"]
    actions = ["cancel"]

    def has_change_permission(self, request, obj=None) -> bool:
        return obj is None and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def save_model(self, request, obj, form, change) -> None:
        entry = unit_commands.add_to_roster.execute(
            actor=request.user,
            data={
                "unit": obj.unit_id,
                "user": obj.user_id,
                "first_day": obj.first_day,
                "last_day": obj.last_day,
                "note": obj.note,
            },
        )
        obj.pk, obj.created_by = entry.pk, entry.created_by

    def changeform_view(self, request, *args, **kwargs):
        try:
            return super().changeform_view(request, *args, **kwargs)
        except CareFieldError as exc:  # the command's refusal, in words, nothing written
            self.message_user(request, exc.detail, messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    @admin.action(description="Cancel the selected roster entries")
    def cancel(self, request, queryset):
        _run_each(
            self, request, queryset, unit_commands.cancel_roster_entry, "entry_id", {}, "Cancelled"
        )


@admin.register(SignOnRequest)
class SignOnRequestAdmin(ReadOnlyAdmin):
    list_display = ["user", "unit", "day", "status", "requested_at", "decided_by"]
    list_filter = ["status", "unit", "day"]
    search_fields = ["user__username", "unit__call_sign"]
    actions = ["approve", "decline"]

    @admin.action(description="Approve (rosters them on the unit for that day)")
    def approve(self, request, queryset):
        command = unit_commands.decide_sign_on_request
        _run_each(self, request, queryset, command, "request_id", {"approve": True}, "Approved")

    @admin.action(description="Decline")
    def decline(self, request, queryset):
        command = unit_commands.decide_sign_on_request
        _run_each(self, request, queryset, command, "request_id", {"approve": False}, "Declined")


@admin.register(UnitPosition)
class UnitPositionAdmin(ReadOnlyTrack):
    list_display = ("unit", "latitude", "longitude", "accuracy_m", "recorded_at", "received_at")
    list_filter = ("unit",)
    list_select_related = ("unit",)
    date_hierarchy = "recorded_at"


@admin.register(PositionRefusal)
class PositionRefusalAdmin(ReadOnlyTrack):
    """Refused fixes, counted per unit and reason (a faulty GPS, a spoofed device)."""

    list_display = ("unit", "reason", "latitude", "longitude", "recorded_at", "received_at")
    list_filter = ("reason", "unit")
    list_select_related = ("unit",)


@admin.register(Emergency)
class EmergencyAdmin(ReadOnlyAdmin):
    list_display = ["unit", "started_at", "acknowledged_at", "ended_at", "incident"]
    list_filter = ["unit"]
    date_hierarchy = "started_at"


@admin.register(BackupRequest)
class BackupRequestAdmin(ReadOnlyAdmin):
    list_display = ["assignment", "urgent", "reason", "requested_at", "answered_at"]
    list_filter = ["urgent", "reason"]


@admin.register(CheckIn)
class CheckInAdmin(ReadOnlyAdmin):
    list_display = ["assignment", "at", "recorded_at"]


@admin.register(CheckInLapse)
class CheckInLapseAdmin(ReadOnlyAdmin):
    list_display = ["assignment", "due_at", "raised_at", "cleared_at"]
