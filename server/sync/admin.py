from django.contrib import admin

from server.sync.models import AppliedMutation


@admin.register(AppliedMutation)
class AppliedMutationAdmin(admin.ModelAdmin):
    list_display = ("id", "type", "status", "device", "occurred_at", "received_at", "clock_flagged")
    list_filter = ("status", "type", "clock_flagged")
    search_fields = ("id", "entity_id", "device__name", "device__user__username")
    date_hierarchy = "received_at"

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
