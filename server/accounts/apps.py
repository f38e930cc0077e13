from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "server.accounts"
    label = "accounts"
    verbose_name = "People, devices and tokens"

    def ready(self) -> None:
        from server.accounts import schema  # noqa: F401  (registers the OpenAPI extension)
