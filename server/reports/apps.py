from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "server.reports"
    label = "reports"
    verbose_name = "Program reports"

    def ready(self) -> None:
        from server.reports.changes import watch_counted_records

        watch_counted_records()
