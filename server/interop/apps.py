from django.apps import AppConfig


class InteropConfig(AppConfig):
    name = "server.interop"
    label = "interop"
    verbose_name = "Standards: CAD (NENA EIDO)"
    default_auto_field = "django.db.models.BigAutoField"
