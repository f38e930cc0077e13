from django.apps import AppConfig


class PlannerConfig(AppConfig):
    name = "server.planner"
    label = "planner"
    verbose_name = "Planner: scenarios for the program's growth"
    default_auto_field = "django.db.models.BigAutoField"
