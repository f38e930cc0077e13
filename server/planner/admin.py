"""Scenarios are edited here (through the same service as the planner page); histories and runs
are read-only records of what was imported and what was run."""

from __future__ import annotations

from django.contrib import admin, messages

from server.errors import CareFieldError
from server.planner import services
from server.planner.models import CallHistory, HistoricalCall, PlanRun, Scenario


@admin.register(Scenario)
class ScenarioAdmin(admin.ModelAdmin):
    list_display = ("name", "live", "city_wide", "wait_limit_minutes", "updated_at")
    list_filter = ("live", "city_wide", "travel_source", "scene_source")
    search_fields = ("name", "description")
    actions = ["refresh_todays_program"]

    def get_readonly_fields(self, request, obj=None):
        # Today's program follows the live protocol: its areas, hours and types are not typed.
        if obj is not None and obj.live:
            return ("name", "city_wide", "areas", "hours", "call_types")
        return ()

    def save_model(self, request, obj, form, change) -> None:
        # The form has run the model's checks already; the service checks again and audits.
        values = {name: getattr(obj, name) for name in form.changed_data}
        existing = Scenario.objects.get(pk=obj.pk) if change else None
        try:
            saved = services.save_scenario(actor=request.user, scenario=existing, **values)
        except CareFieldError as refused:
            self.message_user(request, refused.detail, messages.ERROR)
            return
        obj.pk = saved.pk

    def delete_model(self, request, obj) -> None:
        services.delete_scenario(actor=request.user, scenario=obj)

    def delete_queryset(self, request, queryset) -> None:
        for scenario in queryset:
            services.delete_scenario(actor=request.user, scenario=scenario)

    @admin.action(description="Rebuild today's program from the live protocol")
    def refresh_todays_program(self, request, queryset) -> None:
        services.todays_program()
        self.message_user(request, "Today's program was rebuilt.", messages.SUCCESS)


@admin.register(CallHistory)
class CallHistoryAdmin(admin.ModelAdmin):
    list_display = ("name", "source", "calls", "rows_bad", "first_call_at", "last_call_at")
    list_filter = ("source",)
    search_fields = ("name", "file_name")
    readonly_fields = [f.name for f in CallHistory._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False  # imported by `manage.py import_call_history`

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(HistoricalCall)
class HistoricalCallAdmin(admin.ModelAdmin):
    """The imported calls as they were read (a time, a type, a blurred place): read-only."""

    list_display = ("received_at", "call_type", "area", "beat", "history")
    list_filter = ("history",)
    search_fields = ("call_type", "area")
    show_full_result_count = False  # a year of a city's calls: no count of every row
    readonly_fields = [f.name for f in HistoricalCall._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(PlanRun)
class PlanRunAdmin(admin.ModelAdmin):
    list_display = ("scenario_name", "history_name", "started_at", "seconds", "code_version")
    list_filter = ("scenario_name",)
    search_fields = ("scenario_name", "history_name")
    readonly_fields = [f.name for f in PlanRun._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
