from django.contrib import admin

from server.reports.models import PublishedMonth
from server.reports.publication import withdraw_published


@admin.register(PublishedMonth)
class PublishedMonthAdmin(admin.ModelAdmin):
    """The months whose public figures are fixed. Deleting one publishes it again, from the
    calls as they are now, at its next ask: readers who kept both answers can subtract them, so
    do it only to correct a serious error, and say so publicly."""

    list_display = ("month", "published_at")
    date_hierarchy = "month"
    readonly_fields = ("month", "figures", "durations", "published_at")

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def delete_model(self, request, obj) -> None:
        withdraw_published(actor=request.user, month=obj)

    def delete_queryset(self, request, queryset) -> None:
        for month in queryset:
            withdraw_published(actor=request.user, month=month)
