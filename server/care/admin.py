from django.contrib import admin

from server.audit.services import record_audit
from server.care import commands
from server.care.models import (
    DirectoryService,
    Disposition,
    Encounter,
    NaloxoneAdministration,
    Referral,
    ReferralUpdate,
    ServiceGiven,
    ServiceType,
    SurveyQuestion,
    SurveyResponse,
)
from server.reference_edits import ThroughCommands


@admin.register(ServiceType)
class ServiceTypeAdmin(ThroughCommands, admin.ModelAdmin):
    save_command = commands.save_service_type
    delete_command = commands.delete_service_type

    list_display = ("label", "code", "active", "order")
    list_filter = ("active",)
    list_editable = ("active", "order")
    search_fields = ("label", "code")


@admin.register(Disposition)
class DispositionAdmin(ThroughCommands, admin.ModelAdmin):
    save_command = commands.save_disposition
    delete_command = commands.delete_disposition

    list_display = ("label", "code", "active", "order")
    list_filter = ("active",)
    list_editable = ("active", "order")
    search_fields = ("label", "code")


@admin.register(SurveyQuestion)
class SurveyQuestionAdmin(ThroughCommands, admin.ModelAdmin):
    save_command = commands.save_survey_question
    delete_command = commands.delete_survey_question

    list_display = ("key", "text", "active", "order")
    list_filter = ("active",)


@admin.register(DirectoryService)
class DirectoryServiceAdmin(ThroughCommands, admin.ModelAdmin):
    save_command = commands.save_directory_service
    delete_command = commands.delete_directory_service

    list_display = ("name", "organization", "category", "phone", "active", "updated_at")
    list_filter = ("category", "active", "organization")
    search_fields = ("name", "organization", "description")
    actions = ["move_to_organization"]
    OWNER_FIELDS = ("organization", "organization_hsds_id", "hsds_id", "source")

    def get_readonly_fields(self, request, obj=None):
        # Whose service it is changes only through the audited move below.
        return self.OWNER_FIELDS if obj else ()

    @admin.action(
        description="Move the selected services to another organization (audited)",
        permissions=["change"],
    )
    def move_to_organization(self, request, queryset):
        return move_services_view(self, request, queryset)


def move_services_view(model_admin, request, queryset):
    """The move's own page: the new organization and why; referrals already made stay with the
    organization the person consented to."""
    from django.contrib.admin import helpers
    from django.template.response import TemplateResponse

    from server.care.services import move_directory_service
    from server.errors import CareFieldError

    problem = None
    if request.POST.get("confirm") == "move":
        try:
            for service in queryset:
                move_directory_service(
                    actor=request.user,
                    service_id=service.pk,
                    organization_hsds_id=request.POST.get("organization_hsds_id", ""),
                    organization=request.POST.get("organization", ""),
                    reason=request.POST.get("reason", ""),
                )
        except CareFieldError as exc:
            problem = exc.detail
        else:
            model_admin.message_user(request, f"Moved {queryset.count()} service(s).")
            return None
    context = {
        **admin.site.each_context(request),
        "title": "Move services to another organization",
        "services": queryset,
        "problem": problem,
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
    }
    return TemplateResponse(request, "care/move_services.html", context)


class ClinicalRecordAdmin(admin.ModelAdmin):
    """Clinical records: read-only in admin (they are made in the field), each view audited."""

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # the page shows the record; only the field's commands change it

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def change_view(self, request, object_id, form_url="", extra_context=None):
        record_audit(
            actor=request.user,
            action=f"{self.model._meta.model_name}.viewed",
            object_type=self.model._meta.label_lower,
            object_id=str(object_id),
        )
        return super().change_view(request, object_id, form_url, extra_context)


class ServiceGivenInline(admin.TabularInline):
    model = ServiceGiven
    fields = ("service", "occurred_at", "before_scene_safe")
    readonly_fields = fields
    extra = 0
    can_delete = False


class NaloxoneInline(admin.TabularInline):
    model = NaloxoneAdministration
    fields = ("administered_at", "doses", "dose_mg", "route", "response", "ems_called")
    readonly_fields = fields
    extra = 0
    can_delete = False


@admin.register(Encounter)
class EncounterAdmin(ClinicalRecordAdmin):
    list_display = (
        "id",
        "assignment",
        "started_at",
        "people_contacted",
        "disposition",
        "before_scene_safe",
        "recorded_by",
    )
    list_filter = ("disposition", "before_scene_safe", "assignment__unit")
    search_fields = ("id", "assignment__incident__cad_number")
    list_select_related = ("assignment__incident", "assignment__unit", "disposition", "recorded_by")
    inlines = [ServiceGivenInline, NaloxoneInline]


@admin.register(ServiceGiven)
class ServiceGivenAdmin(ClinicalRecordAdmin):
    list_display = ("service", "encounter", "occurred_at", "before_scene_safe", "recorded_by")
    list_filter = ("service", "before_scene_safe")
    list_select_related = ("service", "recorded_by")


@admin.register(NaloxoneAdministration)
class NaloxoneAdministrationAdmin(ClinicalRecordAdmin):
    list_display = (
        "administered_at",
        "doses",
        "dose_mg",
        "route",
        "response",
        "ems_called",
        "before_scene_safe",
    )
    list_filter = ("route", "response", "ems_called", "before_scene_safe")
    date_hierarchy = "administered_at"


class ReferralUpdateInline(admin.TabularInline):
    model = ReferralUpdate
    fields = ("created_at", "author", "from_status", "to_status", "note", "follow_up_due")
    readonly_fields = fields
    extra = 0
    can_delete = False


@admin.register(Referral)
class ReferralAdmin(ClinicalRecordAdmin):
    list_display = ("service", "status", "consent", "made_at", "follow_up_due", "before_scene_safe")
    list_filter = ("status", "consent", "service")
    search_fields = ("service__name", "encounter__assignment__incident__cad_number")
    list_select_related = ("service",)
    inlines = [ReferralUpdateInline]


@admin.register(SurveyResponse)
class SurveyResponseAdmin(ClinicalRecordAdmin):
    list_display = ("encounter", "answered_at", "consent")
    list_filter = ("consent",)
