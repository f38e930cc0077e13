"""Tells drf-spectacular how device tokens are sent, so the OpenAPI schema documents them."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class DeviceTokenScheme(OpenApiAuthenticationExtension):
    target_class = "server.accounts.authentication.DeviceTokenAuthentication"
    name = "deviceToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Token <key>` from POST /api/v1/auth/token; bound to one device.",
        }


class SystemClientKeyScheme(OpenApiAuthenticationExtension):
    target_class = "server.accounts.authentication.ApiKeyAuthentication"
    name = "systemClientKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Api-Key <key>` from manage.py create_system_client (a CAD or a "
            "partner); opens only its own endpoint family.",
        }
