from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "server.reports"
    label = "reports"
    verbose_name = "Program reports"

    def ready(self) -> None:
        from server.reports.changes import watch_counted_records

        watch_counted_records()

        from server.dispatch.views import BOARD_PANELS
        from server.reports.peer_figures import dispatcher_outcomes

        # The board's outcome panel: the peer programs' figures for the dispatcher's own calls.
        if dispatcher_outcomes not in BOARD_PANELS:
            BOARD_PANELS.append(dispatcher_outcomes)
