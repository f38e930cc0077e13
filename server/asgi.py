"""ASGI entry point (Daphne by default, uvicorn works too): HTTP goes to Django, websockets to
the change-feed consumer. `CARE_PROCESS_ROLE` (server/health.py) narrows a process to the API or
to the sockets; every role answers `/healthz`.

Before either, the edge (server/edge.py): forwarded headers are believed only from the proxy's
address (`CARE_TRUSTED_PROXIES`), and an HTTP body over the limit answers 413 before it is kept.
Serve it with deploy/serve.py, which applies the same body limit inside Daphne."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "server.settings")
# Build the Django app before importing anything that touches models (the routing does).
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from server.edge import BodyLimit, TrustedProxyHeaders  # noqa: E402
from server.health import HealthCheck, process_role  # noqa: E402
from server.sync.routing import guarded, websocket_urlpatterns  # noqa: E402

role = process_role()
application = TrustedProxyHeaders(
    ProtocolTypeRouter(
        {
            "http": BodyLimit(HealthCheck(django_asgi_app, role)),
            "websocket": guarded(URLRouter(websocket_urlpatterns)),
        }
    )
)
