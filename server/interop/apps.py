from django.apps import AppConfig


class InteropConfig(AppConfig):
    name = "server.interop"
    label = "interop"
    verbose_name = "Standards: CAD (NENA EIDO), NEMSIS, research extract, HSDS, FHIR"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # The care admin sits below interop and can't import it: interop adds its exports as
        # actions on the care admin pages.
        from server.interop.admin_actions import install_admin_actions

        install_admin_actions()

        from server.care.reference_data import DIRECTORY_IMPORTERS
        from server.interop.hsds import load_demo_directory

        if load_demo_directory not in DIRECTORY_IMPORTERS:
            DIRECTORY_IMPORTERS.append(load_demo_directory)
