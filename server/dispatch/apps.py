from django.apps import AppConfig


class DispatchConfig(AppConfig):
    name = "server.dispatch"
    label = "dispatch"
    verbose_name = "Dispatch"

    def ready(self) -> None:
        from server.dispatch.events import EVENT_KINDS, PRIORITY_KINDS
        from server.dispatch.incidents.delivery import mark_covered_dispatches_delivered
        from server.feed.cursors import acks_recorded
        from server.feed.services import declare_event_kinds

        declare_event_kinds(EVENT_KINDS, priority=PRIORITY_KINDS)
        acks_recorded.connect(mark_covered_dispatches_delivered, dispatch_uid="dispatch-delivered")
