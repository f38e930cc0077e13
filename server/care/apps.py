from django.apps import AppConfig


class CareConfig(AppConfig):
    name = "server.care"
    label = "care"
    verbose_name = "Field care records"
