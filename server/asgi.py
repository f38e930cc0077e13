"""ASGI entry point for Daphne: HTTP goes to Django, websockets to the change-feed consumer."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "server.settings")
# Build the Django app before importing anything that touches models (the routing does).
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from server.sync.routing import guarded, websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": guarded(URLRouter(websocket_urlpatterns)),
    }
)
