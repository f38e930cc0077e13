from django.contrib import admin

from server.audit.models import AuditEntry


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    """Read-only: the trail is append-only, for everyone."""

    list_display = ("at", "action", "actor_label", "device", "object_type", "object_id")
    list_filter = (
        "action",
        "object_type",
        ("system_client", admin.RelatedOnlyFieldListFilter),
        ("at", admin.DateFieldListFilter),
    )
    search_fields = ("object_id", "actor__username", "actor_label", "action")
    date_hierarchy = "at"
    list_select_related = ("actor", "device")

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
