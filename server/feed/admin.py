from django.contrib import admin

from server.feed.models import DeviceCursor, Event, Stream


@admin.register(Stream)
class StreamAdmin(admin.ModelAdmin):
    list_display = ("name", "last_seq")
    search_fields = ("name",)

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # its events are numbered from it


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    list_display = ("stream", "seq", "kind", "mutation_id", "created_at")
    list_filter = ("kind", "stream")
    search_fields = ("stream__name", "kind")

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(DeviceCursor)
class DeviceCursorAdmin(admin.ModelAdmin):
    list_display = ("device", "stream", "acked_seq", "updated_at")
    search_fields = ("device__name", "device__user__username", "stream__name")
    readonly_fields = ("device", "stream", "acked_seq", "updated_at")

    def has_add_permission(self, request) -> bool:
        return False  # moved by the device's acks only

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
