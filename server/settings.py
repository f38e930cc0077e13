"""Settings for CARE Field, read from the environment (12-factor) with a working default for each.

The defaults serve the local demo: SQLite, the in-memory channel layer, DEBUG on. Production sets
DATABASE_URL (PostgreSQL), REDIS_URL, SECRET_KEY, ALLOWED_HOSTS and DEBUG=false.
"""

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if (BASE_DIR / ".env").exists():
    environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=True)
# The demo key only exists so `make run` works on a fresh machine (DEBUG on); production must set
# its own, and is refused both without one and with the demo key copied in.
DEMO_SECRET_KEY = "care-field-demo-key-not-for-production-use-0123456789"
SECRET_KEY = env.str("SECRET_KEY", default="")
if not DEBUG and SECRET_KEY in ("", DEMO_SECRET_KEY):
    raise ImproperlyConfigured("Set SECRET_KEY: production never runs on the demo key.")
SECRET_KEY = SECRET_KEY or DEMO_SECRET_KEY
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "channels",
    "server.accounts",
    "server.dispatch",
    "server.care",
    "server.sync",
    "server.reports",
    "server.audit",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "server.security.ContentSecurityPolicyMiddleware",
]

ROOT_URLCONF = "server.urls"
ASGI_APPLICATION = "server.asgi.application"
WSGI_APPLICATION = None

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "server" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": env.db(
        "DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'var' / 'care-field.sqlite3'}"
    )
}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and env.bool(
    "DATABASE_POOL", default=True
):
    # A new PostgreSQL connection costs a backend process and a cold catalog cache; under ASGI
    # every request runs on a fresh thread, so Django's persistent connections don't apply and
    # psycopg's pool does. Each connection is checked on the way out of the pool: a restarted or
    # terminated server leaves dead ones behind (CONN_HEALTH_CHECKS).
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": env.int("DATABASE_POOL_MIN", default=2),
        "max_size": env.int("DATABASE_POOL_MAX", default=20),
        "timeout": 10,
    }
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    (BASE_DIR / "var").mkdir(exist_ok=True)
    # WAL and a busy timeout let the demo's several threads write without "database is locked".
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 20,
            # IMMEDIATE takes the write lock at BEGIN, so two writers queue instead of one failing
            # on lock upgrade: SQLite's stand-in for PostgreSQL's row locks.
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )

if env.str("TEST_DATABASE_NAME", default=""):
    # Lets several test runs share one machine without sharing a test database.
    DATABASES["default"].setdefault("TEST", {})["NAME"] = env.str("TEST_DATABASE_NAME")

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"
# Django's password check behind the failed-login lockout (server/accounts/authentication.py).
AUTHENTICATION_BACKENDS = ["server.accounts.authentication.LockoutBackend"]

REDIS_URL = env.str("REDIS_URL", default="")
CHANNEL_LAYER_PREFIX = env.str("CHANNEL_LAYER_PREFIX", default="asgi")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                "hosts": [REDIS_URL],
                "capacity": 1500,
                "expiry": 30,
                # Two deployments (or two test runs) on one Redis must not share feed groups.
                "prefix": CHANNEL_LAYER_PREFIX,
            },
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="America/Los_Angeles")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# The web consoles' stylesheet and scripts (plain files, nothing from a CDN).
STATICFILES_DIRS = [BASE_DIR / "server" / "static"]
# In development Whitenoise serves straight from the apps' static folders (Daphne serves none).
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

LOGIN_URL = "/admin/login/"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "server.accounts.authentication.DeviceTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    # Deny by default: a view answers only the roles it names.
    "DEFAULT_PERMISSION_CLASSES": ["server.accounts.permissions.RoleAllowed"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    # drf-spectacular's, adding each operation's documented refusals (server/openapi.py).
    "DEFAULT_SCHEMA_CLASS": "server.openapi.CareFieldSchema",
    "EXCEPTION_HANDLER": "server.errors.api_exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
if DEBUG:
    REST_FRAMEWORK["DEFAULT_RENDERER_CLASSES"].append(
        "rest_framework.renderers.BrowsableAPIRenderer"
    )

SPECTACULAR_SETTINGS = {
    "TITLE": "CARE Field API",
    "DESCRIPTION": "Screening, dual dispatch, assignment lifecycle, field care records and sync "
    "for a community-responder program.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "NaloxoneResponseEnum": "server.care.models.NaloxoneResponse",
        "ResponseSentEnum": "server.dispatch.models.ResponseSent",
    },
}

# Program settings with defaults; the live values an administrator edits are in the Protocol row.
CARE_DISPATCH_MODEL = env.str("CARE_DISPATCH_MODEL", default="911_led")
CARE_HOTLINE_NAME = env.str("CARE_HOTLINE_NAME", default="988 Suicide & Crisis Lifeline")
CARE_TOKEN_TTL_HOURS = env.int("CARE_TOKEN_TTL_HOURS", default=24 * 14)
# Failed sign-ins (token endpoint and admin login) that lock a username, and for how long.
CARE_LOCKOUT_FAILURES = env.int("CARE_LOCKOUT_FAILURES", default=5)
CARE_LOCKOUT_MINUTES = env.int("CARE_LOCKOUT_MINUTES", default=10)
CARE_SKEW_FLAG_SECONDS = env.int("CARE_SKEW_FLAG_SECONDS", default=120)
CARE_ACK_TIMEOUT_SECONDS = env.int("CARE_ACK_TIMEOUT_SECONDS", default=30)
# Feed events older than this are pruned (`manage.py prune_events`); a device offline longer
# resyncs from a snapshot.
CARE_EVENT_RETENTION_DAYS = env.int("CARE_EVENT_RETENTION_DAYS", default=14)
# The live feed: server ping interval (a socket silent for 2.5 of them is reaped), frames a
# socket may send per second, and how often each Daphne process looks for overdue acks.
CARE_FEED_HEARTBEAT_SECONDS = env.float("CARE_FEED_HEARTBEAT_SECONDS", default=20)
CARE_FEED_FRAMES_PER_SECOND = env.float("CARE_FEED_FRAMES_PER_SECOND", default=50)
CARE_ACK_WATCH_SECONDS = env.float("CARE_ACK_WATCH_SECONDS", default=5)

# Web hardening (docs/security.md). These headers cost nothing over plain HTTP, so the demo sends
# them too; HSTS, secure cookies and the HTTPS redirect only make sense behind TLS (production).
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
# A console session lasts one shift, not Django's two weeks.
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=12 * 60 * 60)
# Scripts and styles only from this site (server/security.py); frames never. The pages' own
# inline <style> (the server-drawn SVG charts) is why styles allow 'unsafe-inline'; scripts don't.
CARE_CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; "
    "base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)

if not DEBUG:
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    # TLS ends at the proxy in front of Daphne, which says so in X-Forwarded-Proto.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
}
