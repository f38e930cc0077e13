from django.apps import AppConfig


class DispatchConfig(AppConfig):
    name = "server.dispatch"
    label = "dispatch"
    verbose_name = "Dispatch"
