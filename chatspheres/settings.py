"""ChatSpheres settings.

Every value comes from the environment and has an embedded default that suits
one machine: SQLite under ``var/``, the in-process hub and matcher, email to
the console. Production sets ``DATABASE_URL``, ``SECRET_KEY``, ``ALLOWED_HOSTS``
and the TURN settings (see docs/operator-guide.md).
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent
# Everything the running site writes (database, secret key, collected static
# files) lives under one ignored folder, so a clone stays clean.
VAR_DIR = Path(os.environ.get("CHATSPHERES_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def _local_secret_key() -> str:
    # A key generated once per checkout keeps sessions valid across restarts
    # without anyone committing a secret; production passes SECRET_KEY.
    key_file = VAR_DIR / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


# Off unless asked for: a forgotten debug flag leaks tracebacks to strangers.
DEBUG = env_bool("DEBUG", False)
SECRET_KEY = os.environ.get("SECRET_KEY") or _local_secret_key()
# Hosts the site answers to; the WebSocket gateway checks Origin against these too.
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost")
# What the site calls itself in emails and pages, and its public address
# (links in emails point there).
SITE_NAME = os.environ.get("SITE_NAME", "ChatSpheres")
SITE_URL = os.environ.get("SITE_URL", "http://127.0.0.1:8000").rstrip("/")
# Origins trusted for CSRF, e.g. "https://chatspheres.example" behind a proxy.
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "allauth",
    "allauth.account",
    "chatspheres.common",
    "chatspheres.accounts",
    "chatspheres.spheres",
    "chatspheres.matching",
    "chatspheres.calls",
    "chatspheres.connections",
    "chatspheres.presence",
    "chatspheres.notifications",
    "chatspheres.prompts",
    "chatspheres.safety",
    "chatspheres.moderation",
    "chatspheres.realtime",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "chatspheres.common.middleware.RefuseControlCharactersMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "chatspheres.common.middleware.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "chatspheres.accounts.middleware.TimezoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
]

ROOT_URLCONF = "chatspheres.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "chatspheres" / "templates"],
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

ASGI_APPLICATION = "chatspheres.asgi.application"

# SQLite in WAL mode under var/ by default; DATABASE_URL (e.g.
# postgres://user@host/db) when the site grows beyond one machine.
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{VAR_DIR / 'chatspheres.sqlite3'}"),
        conn_max_age=int(os.environ.get("DATABASE_CONN_MAX_AGE", "60")),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        # WAL lets pages read while the gateway writes; IMMEDIATE avoids the
        # "database is locked" upgrade race between two writers.
        "init_command": (
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=5000;"
        ),
        "transaction_mode": "IMMEDIATE",
    }
    # A file, not memory: the test server's threads must share the database.
    # One per test run, so two runs on one machine never share it.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-{os.getpid()}.sqlite3")}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Accounts (django-allauth): email and password, no username.
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_UNIQUE_EMAIL = True
# "optional": a new member can talk straight away; the address is confirmed by
# the link sent. Set "mandatory" to require it before the first login.
ACCOUNT_EMAIL_VERIFICATION = os.environ.get("ACCOUNT_EMAIL_VERIFICATION", "optional")
ACCOUNT_ADAPTER = "chatspheres.accounts.adapter.AccountAdapter"
ACCOUNT_SIGNUP_FORM_CLASS = "chatspheres.accounts.forms.SignupDetailsForm"
ACCOUNT_LOGOUT_ON_GET = False
LOGIN_REDIRECT_URL = "/spheres/"
# A new member goes through the short welcome (profile, spheres, a first call).
ACCOUNT_SIGNUP_REDIRECT_URL = "/welcome/"
LOGIN_URL = "/accounts/login/"

# Email: printed to the console unless an SMTP server is configured.
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "ChatSpheres <no-reply@localhost>")

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "chatspheres" / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Serve straight from the source folders when collectstatic has not run
# (tests, a quick start); `make run` collects them first.
WHITENOISE_USE_FINDERS = True

SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG and env_bool("HTTPS", False))
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SESSION_COOKIE_SAMESITE = "Lax"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("BEHIND_HTTPS_PROXY", False) else None
)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "0"))
# Only once every subdomain serves HTTPS: browsers remember these for months.
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
X_FRAME_OPTIONS = "DENY"

# Real time -----------------------------------------------------------------
# Largest WebSocket frame accepted; bigger ones close the socket with 1009.
REALTIME_MAX_FRAME_BYTES = int(os.environ.get("REALTIME_MAX_FRAME_BYTES", str(64 * 1024)))
# Sustained frames per second per socket before throttling, and the burst allowed.
# Our own limits per member ("count/period", period s, m, h or d), checked in
# the services (common/ratelimit.py); allauth limits login, sign-up and
# password reset itself. Each can be set as RATE_LIMIT_<ACTION>.
RATE_LIMITS = {
    action: os.environ.get(f"RATE_LIMIT_{action.upper()}", default)
    for action, default in {
        "queue_join": "60/m",
        "ring": "10/m",
        "report": "10/h",
        "follow": "60/h",
        "talk_again": "60/h",
        "block": "30/h",
        "message": "30/m",
    }.items()
}

REALTIME_RATE_PER_SECOND = float(os.environ.get("REALTIME_RATE_PER_SECOND", "50"))
REALTIME_RATE_BURST = int(os.environ.get("REALTIME_RATE_BURST", "100"))
# Frames dropped within REALTIME_FLOOD_WINDOW seconds before the socket is closed (1008).
REALTIME_FLOOD_LIMIT = int(os.environ.get("REALTIME_FLOOD_LIMIT", "100"))
REALTIME_FLOOD_WINDOW = float(os.environ.get("REALTIME_FLOOD_WINDOW", "2"))
# Server pings detect a vanished partner (closed laptop, lost Wi-Fi) quickly.
REALTIME_PING_INTERVAL = float(os.environ.get("REALTIME_PING_INTERVAL", "4"))
REALTIME_PING_TIMEOUT = float(os.environ.get("REALTIME_PING_TIMEOUT", "4"))
# Open sockets (tabs) one member may have at once; more are refused with a reason.
REALTIME_MAX_TABS_PER_MEMBER = int(os.environ.get("REALTIME_MAX_TABS_PER_MEMBER", "8"))
# WebSocket handshakes one address may make per minute.
REALTIME_HANDSHAKES_PER_MINUTE = int(os.environ.get("REALTIME_HANDSHAKES_PER_MINUTE", "60"))
# How long a tab whose socket dropped may take to come back before its call
# ends as "disconnected" (seconds).
REALTIME_RECONNECT_GRACE_SECONDS = float(os.environ.get("REALTIME_RECONNECT_GRACE_SECONDS", "20"))
# Events kept per member for tabs that reconnect: how many, and for how long (seconds).
REALTIME_EVENT_LOG_SIZE = int(os.environ.get("REALTIME_EVENT_LOG_SIZE", "200"))
REALTIME_EVENT_LOG_SECONDS = float(os.environ.get("REALTIME_EVENT_LOG_SECONDS", "300"))
# How often each process looks for tabs that did not come back in time (seconds).
REALTIME_SWEEP_SECONDS = float(os.environ.get("REALTIME_SWEEP_SECONDS", "1"))
# The synchronous relay lane for signals (docs/decisions/0001-realtime-gateway.md);
# off, every frame takes the ordinary ASGI route.
REALTIME_FAST_LANE = env_bool("REALTIME_FAST_LANE", True)

# Redis: unset, everything real-time lives in this one process (make run).
# Set (e.g. redis://127.0.0.1:6379/0), the hub, the matching queue and presence
# are shared through Redis by every process on every machine.
REDIS_URL = os.environ.get("REDIS_URL", "")
# Every key ChatSpheres writes starts with this, so one Redis can serve several sites.
REDIS_KEY_PREFIX = os.environ.get("REDIS_KEY_PREFIX", "chatspheres:")
# A process that stops refreshing its liveness key this long (seconds) is
# taken for dead: its tabs vanish from presence and its calls wait for them.
REALTIME_PROCESS_TTL = float(os.environ.get("REALTIME_PROCESS_TTL", "10"))

# Who may read /metrics (Prometheus format): comma-separated addresses or
# networks (e.g. 10.0.0.0/8). Loopback only by default; everyone else gets 404.
# Behind a proxy the address is the forwarded one (uvicorn's FORWARDED_ALLOW_IPS).
METRICS_ALLOWED_ADDRESSES = env_list("METRICS_ALLOWED_ADDRESSES", "127.0.0.1,::1")

# Matching: how long two people who just parted are kept apart (seconds).
MATCHING_RECENT_PARTNER_SECONDS = float(os.environ.get("MATCHING_RECENT_PARTNER_SECONDS", "600"))

# Soft start: how long (seconds) a first meeting's video stays blurred when
# nobody presses "Reveal".
SOFT_START_SECONDS = int(os.environ.get("SOFT_START_SECONDS", "60"))

# WebRTC: ICE servers handed to browsers. None by default (host candidates
# only, enough on one network). STUN/TURN as a JSON list of RTCIceServer, e.g.
# [{"urls": ["stun:stun.example.org:3478"]}].
ICE_SERVERS = json.loads(os.environ.get("ICE_SERVERS", "[]"))
# coturn's TURN REST API: with a shared secret, each member gets short-lived
# credentials for these TURN URLs (comma-separated, e.g. turn:turn.example.org:3478).
TURN_URLS = env_list("TURN_URLS", "")
TURN_SECRET = os.environ.get("TURN_SECRET", "")
TURN_CREDENTIAL_TTL = int(os.environ.get("TURN_CREDENTIAL_TTL", "3600"))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}
