from django.apps import AppConfig


class CareConfig(AppConfig):
    name = "server.care"
    label = "care"
    verbose_name = "Field care records"

    def ready(self) -> None:
        from server.care.selectors import outcomes_panel
        from server.dispatch.views import BOARD_PANELS

        # The dispatch board shows how the dispatcher's CARE calls ended; dispatch sits below
        # care and can't read care records, so care adds the panel.
        if outcomes_panel not in BOARD_PANELS:
            BOARD_PANELS.append(outcomes_panel)
