"""Settings for CARE Field, read from the environment (12-factor) with a working default for each.

The defaults serve production's behaviour (DEBUG off, so SECRET_KEY is required) on SQLite and the
in-memory channel layer. The demo (`make run`) and the tests set DEBUG=true explicitly. Production
sets DATABASE_URL (PostgreSQL), REDIS_URL, SECRET_KEY and ALLOWED_HOSTS.
"""

import os
import socket
from pathlib import Path
from urllib.parse import urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if (BASE_DIR / ".env").exists():
    environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

# Unset means production: the demo (`make run`) and the test suite ask for DEBUG themselves.
DEBUG = env.bool("DEBUG", default=False)
# Development and the tests check the declared vocabularies as they are used: audit actions
# (server/audit/actions.py). Off in production: a missing declaration is a test failure, not an
# outage.
CARE_CHECK_VOCABULARY = env.bool("CARE_CHECK_VOCABULARY", default=DEBUG)
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
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "django_otp_webauthn",
    "rest_framework",
    "drf_spectacular",
    "channels",
    "server.accounts",
    "server.dispatch",
    "server.care",
    "server.feed",
    "server.sync",
    "server.reports",
    "server.interop",
    "server.planner",
    "server.audit",
]

MIDDLEWARE = [
    "server.security.RequestLimitsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Marks a session verified by its second factor (django-otp); the gate after it asks for the
    # second factor, locks idle consoles and ends sessions past their lifetime.
    "django_otp.middleware.OTPMiddleware",
    "server.accounts.session_locks.SignInGate",
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
                "server.accounts.context_processors.sign_in",
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
# django-axes' lockout check first (server/accounts/lockout.py), then Django's password check.
AUTHENTICATION_BACKENDS = [
    "server.accounts.authentication.LockoutBackend",
    "django.contrib.auth.backends.ModelBackend",
    # The city's identity provider (OpenID Connect); answers only its own callback.
    "server.accounts.sso.CityIdentityBackend",
]

REDIS_URL = env.str("REDIS_URL", default="")
# Request counts of the rate limits (server/throttles.py): set it to a Redis URL in production so
# every process counts together; by default each process counts in its own memory.
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "throttles": env.cache_url("CARE_THROTTLE_CACHE_URL", default="locmemcache://care-throttles"),
}
# Two deployments (or two test runs) on one Redis must not share feed groups.
CHANNEL_LAYER_PREFIX = env.str("CHANNEL_LAYER_PREFIX", default="asgi")
# Which channels_redis layer carries the feed (docs/deployment.md, figures in docs/benchmarks.md):
# `pubsub` publishes a group message once and each process hands it to its own members; `core`
# keeps a queue per socket in Redis and sends a group message to each member's queue. Pub/sub
# costs a sixth of the core layer's CPU per send and a tenth per broadcast to 3,000 sockets, and
# its emergencies reached tablets in seconds where core's queues backed up for tens of seconds.
# The feed's pub/sub layer tells the sockets to catch up when Redis comes back (server.feed.layer).
CARE_CHANNEL_LAYER = env.str("CARE_CHANNEL_LAYER", default="pubsub")
# The layer's Redis connections. No socket timeout: redis-py then bounds each send with
# `asyncio.wait_for`, which on Python 3.11 drops a cancellation that lands as the send completes;
# the cancelled receive of a closing socket then pops forever and its consumer never ends (seen
# as a test run hanging at teardown). The layer's own blocking pop returns every 5 s, and TCP
# keepalive finds a Redis that vanished without closing the connection (in about 25 s). A pool
# of 1,000: a thousand sockets joining or leaving groups at once exhaust redis-py's 100, and that
# error reaches every socket of the process (4503). Figures: docs/benchmarks.md.
REDIS_HOST = {
    "address": REDIS_URL,
    "socket_timeout": None,
    "socket_keepalive": True,
    "socket_keepalive_options": {
        socket.TCP_KEEPIDLE: 10,
        socket.TCP_KEEPINTVL: 5,
        socket.TCP_KEEPCNT: 3,
    },
    "max_connections": env.int("CARE_REDIS_MAX_CONNECTIONS", default=1000),
}
if REDIS_URL and CARE_CHANNEL_LAYER == "pubsub":
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "server.feed.layer.ReconnectAwarePubSubLayer",
            "CONFIG": {"hosts": [REDIS_HOST], "prefix": CHANNEL_LAYER_PREFIX},
        }
    }
elif REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                "hosts": [REDIS_HOST],
                "capacity": 1500,
                "expiry": 30,
                "prefix": CHANNEL_LAYER_PREFIX,
            },
        }
    }
else:
    # Channels' in-memory layer without its sweep of every channel on every send (feed.layer).
    CHANNEL_LAYERS = {"default": {"BACKEND": "server.feed.layer.FeedInMemoryLayer"}}

# Acks from the sockets (server/sync/ack_stream.py): with Redis, a socket process appends each
# ack to a Redis stream and one writer (`manage.py write_acks`, started by deploy/cluster.py)
# stores them in batches, so the socket processes make no database call to receive an ack. On by
# default in the socket processes of a deployment with Redis (CARE_PROCESS_ROLE=socket); a
# process serving everything, and any process without Redis, stores its acks itself.
CARE_ACKS_THROUGH_REDIS = env.bool(
    "CARE_ACKS_THROUGH_REDIS",
    default=bool(REDIS_URL) and os.environ.get("CARE_PROCESS_ROLE", "all") == "socket",
)
CARE_ACK_STREAM = env.str("CARE_ACK_STREAM", default=f"{CHANNEL_LAYER_PREFIX}.acks")

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

# ---- Sign-in: SSO, MFA, enrolled tablets, session locks (docs/security.md) -----------------
# The city's OpenID Connect provider. Unset issuer: no SSO (local accounts only). The discovery
# document at <issuer>/.well-known/openid-configuration names every endpoint and the keys.
OIDC_ISSUER = env.str("OIDC_ISSUER", default="").rstrip("/")
OIDC_RP_CLIENT_ID = env.str("OIDC_CLIENT_ID", default="")
OIDC_RP_CLIENT_SECRET = env.str("OIDC_CLIENT_SECRET", default="")
OIDC_RP_SCOPES = env.str("OIDC_SCOPES", default="openid email profile groups")
OIDC_RP_SIGN_ALGO = env.str("OIDC_SIGN_ALGORITHM", default="RS256")
OIDC_USE_PKCE = True
OIDC_USE_NONCE = True
OIDC_STORE_ID_TOKEN = True  # the hint that ends the provider's session at sign-out
OIDC_TIMEOUT = env.float("OIDC_TIMEOUT_SECONDS", default=10)
OIDC_AUTHENTICATION_CALLBACK_URL = "sso-callback"
OIDC_REDIRECT_FIELD_NAME = "next"
# Which claim carries the person's groups, and what each group makes them here, in order (the
# first group of theirs that is listed wins): "city-group=role,other-group=role". A person none
# of whose groups is listed gets no access.
CARE_SSO_GROUPS_CLAIM = env.str("CARE_SSO_GROUPS_CLAIM", default="groups")
CARE_SSO_GROUP_ROLES = env.str("CARE_SSO_GROUP_ROLES", default="")
# A second factor (TOTP, recovery codes) for local accounts on the web sign-in and the admin.
# On by default; the demo and the tests (DEBUG) run without it unless they set it, and the
# sign-in page says so.
CARE_MFA_REQUIRED = env.bool("CARE_MFA_REQUIRED", default=not DEBUG)
OTP_TOTP_ISSUER = env.str("CARE_MFA_ISSUER", default="CARE Field")
# Wrong codes count toward the sign-in lockout (CARE_LOCKOUT_*) like wrong passwords; django-otp's
# own per-device back-off would be a second, differently-timed lock on top of it.
OTP_TOTP_THROTTLE_FACTOR = 0
OTP_STATIC_THROTTLE_FACTOR = 0
# Passkeys (WebAuthn, django-otp-webauthn) as a second factor for local accounts, never instead of
# the password. A passkey is bound to the relying party id, the site's domain (no port, no
# scheme): changing it later orphans every passkey made under the old one. The browser's origin
# must be one of CARE_PASSKEY_ORIGINS exactly (scheme, host and port); https only, except on
# localhost. The demo's defaults serve `make run` opened at http://localhost:8000.
OTP_WEBAUTHN_RP_ID = env.str("CARE_PASSKEY_RP_ID", default="localhost")
OTP_WEBAUTHN_RP_NAME = env.str("CARE_PASSKEY_RP_NAME", default="CARE Field")
OTP_WEBAUTHN_ALLOWED_ORIGINS = env.list("CARE_PASSKEY_ORIGINS", default=["http://localhost:8000"])
OTP_WEBAUTHN_ALLOW_PASSWORDLESS_LOGIN = False
# A tablet gets a device token only once a supervisor's one-time code enrolled it.
CARE_TABLET_ENROLMENT_REQUIRED = env.bool("CARE_TABLET_ENROLMENT_REQUIRED", default=not DEBUG)
CARE_ENROLMENT_CODE_MINUTES = env.int("CARE_ENROLMENT_CODE_MINUTES", default=10)
# A console session locks after this long without the person moving to a page (CJIS 5.5.5:
# at most 30 minutes) and asks for the second factor or the provider again; 0 never locks.
# The consoles' pages also lock themselves in the browser after this long without a key, a click
# or a touch, without waiting for the next request (server/static/care/idle_lock.js).
CARE_CONSOLE_IDLE_LOCK_MINUTES = env.float("CARE_CONSOLE_IDLE_LOCK_MINUTES", default=30)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "server.accounts.authentication.DeviceTokenAuthentication",
        "server.accounts.authentication.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    # Deny by default: a view answers only the roles it names.
    "DEFAULT_PERMISSION_CLASSES": ["server.accounts.permissions.RoleAllowed"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["server.parsers.BoundedJSONParser"],
    # drf-spectacular's, adding each operation's documented refusals (server/openapi.py).
    "DEFAULT_SCHEMA_CLASS": "server.openapi.CareFieldSchema",
    "EXCEPTION_HANDLER": "server.errors.api_exception_handler",
    # A view naming a `throttle_scope` is counted per person and per device (server/throttles.py).
    "DEFAULT_THROTTLE_CLASSES": [
        "server.throttles.PerPersonThrottle",
        "server.throttles.PerDeviceThrottle",
    ],
    # A tablet reports its position every few seconds at most; an address search is typed.
    "DEFAULT_THROTTLE_RATES": {
        "position.device": env.str("CARE_THROTTLE_POSITION_DEVICE", default="30/min"),
        "position.user": env.str("CARE_THROTTLE_POSITION_USER", default="60/min"),
        "geocode.device": env.str("CARE_THROTTLE_GEOCODE_DEVICE", default="30/min"),
        "geocode.user": env.str("CARE_THROTTLE_GEOCODE_USER", default="30/min"),
    },
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
        "DutyStatusEnum": "server.dispatch.models.DutyStatus",
        "AssignmentStatusEnum": "server.dispatch.models.AssignmentStatus",
    },
}

# Request limits (docs/security.md): a body over this many bytes answers 413, JSON nested deeper
# than this many arrays/objects answers 400. A tablet's push batch stays far below both. The
# body limit is applied before the body is kept: by HAProxy (deploy/haproxy.cfg.in), inside
# Daphne (deploy/serve.py) and at the ASGI edge (server/edge.py).
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("CARE_MAX_BODY_BYTES", default=2_621_440)
CARE_MAX_JSON_DEPTH = env.int("CARE_MAX_JSON_DEPTH", default=32)

# Program settings with defaults; the live values an administrator edits are in the Protocol row.
# The 911 CAD link (docs/cad-integration.md): the largest EIDO document taken, how long raw
# documents are kept with their incident, and where (and with which secret) updates are sent.
CARE_EIDO_MAX_BYTES = env.int("CARE_EIDO_MAX_BYTES", default=256 * 1024)
CARE_EIDO_RETENTION_DAYS = env.int("CARE_EIDO_RETENTION_DAYS", default=365)
CARE_CAD_ENDPOINT_URL = env.str("CARE_CAD_ENDPOINT_URL", default="")
CARE_CAD_SIGNING_SECRET = env.str("CARE_CAD_SIGNING_SECRET", default="")
CARE_EIDO_ISSUER = env.str("CARE_EIDO_ISSUER", default="care-field.seattle.gov")
CARE_CAD_TIMEOUT_SECONDS = env.float("CARE_CAD_TIMEOUT_SECONDS", default=10)
CARE_DISPATCH_MODEL = env.str("CARE_DISPATCH_MODEL", default="911_led")
CARE_HOTLINE_NAME = env.str("CARE_HOTLINE_NAME", default="988 Suicide & Crisis Lifeline")
CARE_TOKEN_TTL_HOURS = env.int("CARE_TOKEN_TTL_HOURS", default=24 * 14)
# Failed sign-ins (every login path) that lock, and for how long (server/accounts/lockout.py):
# a username from one client address; a username from anywhere, counted over the last
# CARE_LOCKOUT_USERNAME_MINUTES, which backs off (BACKOFF_SECONDS for the first lock, doubling per
# further failure, at most MAX_MINUTES; a tablet with a valid device token is not held by it);
# one client address across usernames (spraying).
CARE_LOCKOUT_FAILURES = env.int("CARE_LOCKOUT_FAILURES", default=5)
CARE_LOCKOUT_MINUTES = env.int("CARE_LOCKOUT_MINUTES", default=10)
CARE_LOCKOUT_USERNAME_FAILURES = env.int("CARE_LOCKOUT_USERNAME_FAILURES", default=20)
CARE_LOCKOUT_USERNAME_MINUTES = env.int("CARE_LOCKOUT_USERNAME_MINUTES", default=60)
CARE_LOCKOUT_USERNAME_BACKOFF_SECONDS = env.int("CARE_LOCKOUT_USERNAME_BACKOFF_SECONDS", default=30)
CARE_LOCKOUT_USERNAME_MAX_MINUTES = env.int("CARE_LOCKOUT_USERNAME_MAX_MINUTES", default=5)
CARE_LOCKOUT_ADDRESS_FAILURES = env.int("CARE_LOCKOUT_ADDRESS_FAILURES", default=20)
CARE_LOCKOUT_ADDRESS_MINUTES = env.int("CARE_LOCKOUT_ADDRESS_MINUTES", default=10)
# django-axes records the failures; the rules above decide (CareLockoutHandler). Axes' own
# middleware is not used: the token endpoint answers a JSON 429 and the sign-in forms say why.
AXES_HANDLER = "server.accounts.lockout.CareLockoutHandler"
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]  # what a successful sign-in resets
AXES_FAILURE_LIMIT = CARE_LOCKOUT_FAILURES
AXES_COOLOFF_TIME = "server.accounts.lockout.longest_window"
AXES_RESET_ON_SUCCESS = True
# Guessing on during a lock neither counts nor extends it: a lock can't be kept up for ever.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_DISABLE_ACCESS_LOG = True  # sign-ins are in the audit trail
AXES_VERBOSE = False
# The client's address is REMOTE_ADDR and nothing else: server/edge.py sets it from the proxy's
# X-Forwarded-For only when the connection comes from the proxy (CARE_TRUSTED_PROXIES).
AXES_IPWARE_META_PRECEDENCE_ORDER = ("REMOTE_ADDR",)
SILENCED_SYSTEM_CHECKS = ["axes.W002"]
# Addresses or networks of the proxy in front (deploy/haproxy.cfg.in); only connections from
# them may say, in X-Forwarded-For and X-Forwarded-Proto, who the client is and whether it came
# over TLS. Empty (the default, and `make run`): nobody may. Production behind a TLS proxy must
# set it (deploy/cluster.py does), or every request looks like plain HTTP and is redirected.
CARE_TRUSTED_PROXIES = env.list("CARE_TRUSTED_PROXIES", default=[])
CARE_SKEW_FLAG_SECONDS = env.int("CARE_SKEW_FLAG_SECONDS", default=120)
# How far a recorded time may run ahead of the server, or before the record it follows (two
# tablets of one unit never agree to the second). Further is refused on every door.
CARE_CLOCK_TOLERANCE_SECONDS = env.int("CARE_CLOCK_TOLERANCE_SECONDS", default=120)
# No recorded time is older than this (the program's records begin here): an emergency, a fix, a
# duty status or a CAD's call start dated year 1 is refused on every door (server/commands.py).
CARE_EARLIEST_TIME = env.str("CARE_EARLIEST_TIME", default="2020-01-01T00:00:00-08:00")
# A tablet's clock may be off (its skew is measured and corrected), but not by more than this:
# a push whose device_time is further from the server's is refused as a whole.
CARE_MAX_DEVICE_SKEW_DAYS = env.int("CARE_MAX_DEVICE_SKEW_DAYS", default=366)
CARE_ACK_TIMEOUT_SECONDS = env.int("CARE_ACK_TIMEOUT_SECONDS", default=30)
# A closed month, quarter or year is published this many days after its last day (Seattle time),
# so records a tablet kept while offline are in it; its figures are then kept as first published.
CARE_PUBLIC_FIGURES_DELAY_DAYS = env.int("CARE_PUBLIC_FIGURES_DELAY_DAYS", default=7)
# Feed events older than this are pruned (`manage.py prune_events`); a device offline longer
# resyncs from a snapshot.
CARE_EVENT_RETENTION_DAYS = env.int("CARE_EVENT_RETENTION_DAYS", default=14)
# The live feed: server ping interval (a socket silent for 2.5 of them is reaped), frames a
# socket may send per second, and how often each Daphne process looks for overdue acks.
CARE_FEED_HEARTBEAT_SECONDS = env.float("CARE_FEED_HEARTBEAT_SECONDS", default=20)
# The token is read again every this many heartbeats: the bound on closing a revoked token's
# socket should the revocation's close message be lost (docs/live-feed.md).
CARE_FEED_TOKEN_CHECK_BEATS = env.int("CARE_FEED_TOKEN_CHECK_BEATS", default=3)
CARE_FEED_FRAMES_PER_SECOND = env.float("CARE_FEED_FRAMES_PER_SECOND", default=50)
CARE_ACK_WATCH_SECONDS = env.float("CARE_ACK_WATCH_SECONDS", default=5)

# The map (README "The map"): unit positions, nearest-unit dispatch, address search and tiles.
# A fix further than this outside the pilot area's and beats' bounds, or implying a speed above
# this since the unit's last fix, is refused with a reason and counted.
CARE_POSITION_AREA_MARGIN_KM = env.float("CARE_POSITION_AREA_MARGIN_KM", default=50)
CARE_POSITION_MAX_SPEED_KMH = env.float("CARE_POSITION_MAX_SPEED_KMH", default=200)
# A unit's last fix counts for nearest-unit dispatch while younger than this; older, its beat.
CARE_POSITION_FRESH_SECONDS = env.int("CARE_POSITION_FRESH_SECONDS", default=300)
# Breadcrumb tracks (and refused fixes) are kept this long (`manage.py prune_positions`).
CARE_POSITION_RETENTION_DAYS = env.int("CARE_POSITION_RETENTION_DAYS", default=7)
# The average speed a drive time is estimated from (straight-line distance / speed).
CARE_AVERAGE_SPEED_KMH = env.float("CARE_AVERAGE_SPEED_KMH", default=30)
# A Nominatim-compatible geocoder whose candidates join the gazetteer's; unset, none is asked.
GEOCODER_URL = env.str("GEOCODER_URL", default="")
GEOCODER_TIMEOUT_SECONDS = env.float("GEOCODER_TIMEOUT_SECONDS", default=3)
# Map tiles, e.g. https://tile.openstreetmap.org/{z}/{x}/{y}.png; unset, the map draws the pilot
# area and beats on a plain background and needs no network.
MAP_TILE_URL = env.str("MAP_TILE_URL", default="")
MAP_TILE_ATTRIBUTION = env.str("MAP_TILE_ATTRIBUTION", default="&copy; OpenStreetMap contributors")

# Web hardening (docs/security.md). These headers cost nothing over plain HTTP, so the demo sends
# them too; HSTS, secure cookies and the HTTPS redirect only make sense behind TLS (production).
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
# A console session lasts one shift, not Django's two weeks, counted from the sign-in however
# busy the console is (server/accounts/session_locks.py).
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=12 * 60 * 60)
# Scripts and styles only from this site (server/security.py); frames never. The pages' own
# inline <style> (the server-drawn SVG charts) is why styles allow 'unsafe-inline'; scripts don't.
# Map tiles, when configured, are the one outside origin, and only as images.
# Signing out of a provider's session is a form whose answer redirects to the provider's
# end-session endpoint, and browsers hold a form's redirects to form-action too.
_IDP_ORIGIN = "{0.scheme}://{0.netloc}".format(urlsplit(OIDC_ISSUER)) if OIDC_ISSUER else ""
_TILE_ORIGIN = (
    "{0.scheme}://{0.netloc}".format(urlsplit(MAP_TILE_URL.replace("{s}", "*")))
    if MAP_TILE_URL
    else ""
)
CARE_CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    f"img-src 'self' data:{' ' + _TILE_ORIGIN if _TILE_ORIGIN else ''}; connect-src 'self'; "
    "font-src 'self'; object-src 'none'; base-uri 'self'; "
    f"form-action 'self'{' ' + _IDP_ORIGIN if _IDP_ORIGIN else ''}; "
    "frame-ancestors 'none'"
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

# NEMSIS 3.5.1 export (docs/standards.md): the agency and software a state repository knows
# the file by. The agency values come from the state EMS office; the export refuses to write a
# file without them.
CARE_NEMSIS_AGENCY_STATE_ID = env.str("CARE_NEMSIS_AGENCY_STATE_ID", default="")  # dAgency.01
CARE_NEMSIS_AGENCY_NUMBER = env.str("CARE_NEMSIS_AGENCY_NUMBER", default="")  # dAgency.02
CARE_NEMSIS_AGENCY_STATE = env.str("CARE_NEMSIS_AGENCY_STATE", default="53")  # dAgency.04, WA
CARE_NEMSIS_SOFTWARE_CREATOR = env.str("CARE_NEMSIS_SOFTWARE_CREATOR", default="CARE Field")
CARE_NEMSIS_SOFTWARE_NAME = env.str("CARE_NEMSIS_SOFTWARE_NAME", default="CARE Field")
CARE_NEMSIS_SOFTWARE_VERSION = env.str("CARE_NEMSIS_SOFTWARE_VERSION", default="0.1.0")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # django-axes narrates every sign-in at INFO; its warnings (failures, lockouts) are kept.
    "loggers": {"axes": {"level": "WARNING"}},
}
