"""The Content-Security-Policy and Permissions-Policy headers (Django 5.2 sends neither itself).

Django's SecurityMiddleware sends HSTS, nosniff, Referrer-Policy and COOP, and the clickjacking
middleware X-Frame-Options; this adds the rest to every answer, pages and API alike.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.deprecation import MiddlewareMixin

# The browsable API docs page is drf-spectacular's Swagger UI: its script and stylesheet come
# from jsDelivr and it starts itself with an inline script. It shows only the public schema,
# so it alone gets a looser policy instead of loosening every page's.
API_DOCS_PATH = "/api/v1/docs/"
SWAGGER_HOST = "https://cdn.jsdelivr.net"
API_DOCS_POLICY = (
    f"default-src 'self'; script-src 'self' 'unsafe-inline' {SWAGGER_HOST}; "
    f"style-src 'self' 'unsafe-inline' {SWAGGER_HOST}; img-src 'self' data: {SWAGGER_HOST}; "
    "connect-src 'self'; object-src 'none'; base-uri 'self'; frame-ancestors 'none'"
)
# Nothing in the consoles uses the camera, microphone, location or payments.
PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=()"


# API answers anyone may keep: the public figures and the schema. Every other /api/v1/ answer may
# carry a person's name, a location or a clinical record, and no browser or proxy may store it.
API_PREFIX = "/api/v1/"
CACHEABLE_API_PATHS = ("/api/v1/metrics", "/api/v1/schema/", API_DOCS_PATH)
# The consoles' pages and their data (the board and its fragment, calls, the map's state, the
# referral queue and its pages) and the console token: calls, locations, people and a token,
# none of it for a browser's or a proxy's cache either.
CONSOLE_PREFIXES = ("/dispatch/", "/coordinator/")


def too_large() -> JsonResponse:
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    return JsonResponse(
        {
            "code": "too_large",
            "detail": f"The request body is over the limit of {limit:,} bytes; send less at "
            "once (a tablet splits its push into smaller batches).",
        },
        status=413,
    )


class RequestLimitsMiddleware(MiddlewareMixin):
    """A body declared over the limit is refused before anything reads it (Django would raise
    RequestDataTooBig from whichever part read it first, a 500); a body that turns out larger
    than declared is caught by the API's error handler (server/errors.py)."""

    def process_request(self, request: HttpRequest) -> HttpResponse | None:
        refused = _nul_refusal(request)
        if refused is not None:  # first, before any middleware reads the session cookie
            return refused
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if limit is not None and length > limit:
            return too_large()
        return None

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        path = request.path
        private_api = path.startswith(API_PREFIX) and not path.startswith(CACHEABLE_API_PATHS)
        if private_api or path.startswith(CONSOLE_PREFIXES):
            response.headers["Cache-Control"] = "no-store"
        return response


def _nul_refusal(request: HttpRequest) -> HttpResponse | None:
    # PostgreSQL can neither store nor compare a NUL character, so a filter holding one would
    # fail inside the database (a 500). No form sends one: refuse it before any view runs.
    # A cookie holding one would reach the session table the same way.
    query = request.META.get("QUERY_STRING", "")
    if "%00" in query or "\x00" in query or "\x00" in request.META.get("HTTP_COOKIE", ""):
        return JsonResponse(
            {
                "code": "invalid",
                "detail": "The address or a cookie holds a NUL character; remove it.",
                "fields": {"query": ["NUL characters are not allowed."]},
            },
            status=400,
        )
    return None


class ContentSecurityPolicyMiddleware(MiddlewareMixin):
    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        policy = (
            API_DOCS_POLICY
            if request.path == API_DOCS_PATH
            else settings.CARE_CONTENT_SECURITY_POLICY
        )
        response.headers.setdefault("Content-Security-Policy", policy)
        response.headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        return response
