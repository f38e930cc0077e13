from django.contrib import admin

from server.interop import commands
from server.interop.models import (
    CadDelivery,
    CadDocument,
    CadIncident,
    CallTypeMapping,
    CautionMapping,
)
from server.reference_edits import ThroughCommands


@admin.register(CallTypeMapping)
class CallTypeMappingAdmin(ThroughCommands, admin.ModelAdmin):
    save_command = commands.save_call_type_mapping
    delete_command = commands.delete_call_type_mapping

    list_display = ("cad_code", "source", "call_type")
    list_filter = ("source", "call_type__eligible")
    search_fields = ("cad_code", "call_type__code")
    autocomplete_fields = ()


@admin.register(CautionMapping)
class CautionMappingAdmin(ThroughCommands, admin.ModelAdmin):
    save_command = commands.save_caution_mapping
    delete_command = commands.delete_caution_mapping

    list_display = ("caution_text", "question")
    search_fields = ("caution_text",)


@admin.register(CadIncident)
class CadIncidentAdmin(admin.ModelAdmin):
    list_display = ("cad_key", "incident", "client", "cad_status")
    search_fields = ("cad_key", "incident__cad_number")
    readonly_fields = ("cad_key", "incident", "client", "cad_status")

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # the CAD's later documents find their call through it


@admin.register(CadDocument)
class CadDocumentAdmin(admin.ModelAdmin):
    """The CAD's documents as sent: read-only, kept until their retention runs out."""

    list_display = ("received_at", "incident", "client", "outcome", "expires_at")
    list_filter = ("outcome", "client")
    search_fields = ("incident__cad_number",)

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # retention removes them


@admin.register(CadDelivery)
class CadDeliveryAdmin(admin.ModelAdmin):
    list_display = ("id", "incident", "event_seq", "attempts", "next_attempt_at", "delivered_at")
    list_filter = (("delivered_at", admin.EmptyFieldListFilter),)
    search_fields = ("id", "incident__cad_number")

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # the delivery loop moves it on

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
