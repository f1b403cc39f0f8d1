"""ChatSpheres settings.

Every value comes from the environment and has an embedded default that suits
one machine: SQLite under ``var/``, the in-process hub and matcher, email to
the console. Production sets ``DATABASE_URL``, ``SECRET_KEY``, ``ALLOWED_HOSTS``
and the TURN settings (see docs/operator-guide.md).
"""

from __future__ import annotations

import os
import secrets
from email.utils import parseaddr
from pathlib import Path

import dj_database_url

# Every variable is read through these: a value that does not fit stops the
# process with one line naming it (common/config.py).
from chatspheres.common.config import (
    InvalidSetting,
    create_private_file,
    env_addresses,
    env_bool,
    env_choice,
    env_hosts,
    env_ice_servers,
    env_int,
    env_origins,
    env_port,
    env_positive_number,
    env_rate_limits,
    env_seconds,
    env_site_url,
    env_str,
    env_turn,
    env_url,
    refuse_renamed,
)
from chatspheres.common.logs import SECURITY_LOGGERS

BASE_DIR = Path(__file__).resolve().parent.parent
# Everything the running site writes (database, secret key, collected static
# files) lives under one ignored folder, so a clone stays clean.
VAR_DIR = Path(env_str("CHATSPHERES_VAR_DIR", str(BASE_DIR / "var")))
try:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
except OSError as error:
    raise InvalidSetting(
        "CHATSPHERES_VAR_DIR", str(VAR_DIR), f"it cannot be created ({error.strerror})"
    ) from None


def _local_secret_key() -> str:
    # A key generated once per checkout keeps sessions valid across restarts
    # without anyone committing a secret; production passes SECRET_KEY.
    # Readable by its owner only from the start, and complete when it appears:
    # written aside, then linked into place, which fails if another process
    # starting at the same moment was first (its key is then the one used).
    key_file = VAR_DIR / "secret_key"
    if not key_file.exists():
        aside = VAR_DIR / f".secret_key.{os.getpid()}"
        descriptor = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as opened:
            opened.write(secrets.token_urlsafe(50))
        try:
            os.link(aside, key_file)
        except FileExistsError:
            pass
        finally:
            aside.unlink()
    return key_file.read_text().strip()


# Off unless asked for: a forgotten debug flag leaks tracebacks to strangers.
DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_str("SECRET_KEY", "") or _local_secret_key()
# Hosts the site answers to; the WebSocket gateway checks Origin against these too.
ALLOWED_HOSTS = env_hosts("ALLOWED_HOSTS", "127.0.0.1,localhost")
# What the site calls itself in emails and pages, and its public address
# (links in emails point there).
SITE_NAME = env_str("SITE_NAME", "ChatSpheres")
SITE_URL = env_site_url("SITE_URL", "http://127.0.0.1:8000")
# Origins trusted for CSRF, e.g. "https://chatspheres.example" behind a proxy.
CSRF_TRUSTED_ORIGINS = env_origins("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "allauth",
    "allauth.account",
    "django_tasks",
    "django_tasks_db",
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
    "chatspheres.messaging",
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
    # A limit reached in a view (RateLimited) is a 429 page or JSON answer.
    "chatspheres.common.middleware.RateLimitedMiddleware",
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
        env_url(
            "DATABASE_URL",
            f"sqlite:///{VAR_DIR / 'chatspheres.sqlite3'}",
            schemes=("sqlite", "postgres", "postgresql"),
            what="database",
        ),
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60, minimum=0),
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
    # Members' data: readable by the site's own user only. SQLite gives its
    # -wal and -shm files the database file's permissions.
    create_private_file(Path(DATABASES["default"]["NAME"]))

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

# Sessions in the database, as Django keeps them; the read every request makes
# is compiled to SQL once per process (chatspheres/common/sessions.py).
SESSION_ENGINE = "chatspheres.common.sessions"

# Django's and allauth's backends, each refusing suspended and banned members
# (chatspheres/moderation/backends.py), so a decision ends their sessions.
AUTHENTICATION_BACKENDS = [
    "chatspheres.moderation.backends.ModerationAwareModelBackend",
    "chatspheres.moderation.backends.ModerationAwareAllauthBackend",
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
ACCOUNT_EMAIL_VERIFICATION = env_choice(
    "ACCOUNT_EMAIL_VERIFICATION", "optional", ("none", "optional", "mandatory")
)
ACCOUNT_ADAPTER = "chatspheres.accounts.adapter.AccountAdapter"
ACCOUNT_SIGNUP_FORM_CLASS = "chatspheres.accounts.forms.SignupDetailsForm"
ACCOUNT_LOGOUT_ON_GET = False
# allauth's limits (its defaults, written here so that an upgrade cannot
# loosen them unnoticed; docs/operator-guide.md, "Limits"): five wrong
# passwords for one email address lock its login for five minutes, ten
# failed logins lock an address for a minute. Counted in Django's cache.
ACCOUNT_RATE_LIMITS = {
    "login": "30/m/ip",
    "login_failed": "10/m/ip,5/300s/key",
    "signup": "20/m/ip",
    "reset_password": "20/m/ip,5/m/key",
    "reset_password_from_key": "20/m/ip",
}
# Sign-up never says whether an address is registered, with any verification
# setting: our form sends a taken address down allauth's "account already
# exists" email, and every sign-up ends on "Check your email" (decision 0006).
ACCOUNT_PREVENT_ENUMERATION = True
ACCOUNT_FORMS = {"signup": "chatspheres.accounts.signup.SignupForm"}
# The link in that email, opened in the browser that signed up, signs the new member in.
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
# One address per member; a new one replaces the old once its link is opened.
ACCOUNT_CHANGE_EMAIL = True
LOGIN_REDIRECT_URL = "/spheres/"
# A new member goes through the short welcome (profile, spheres, a first call).
ACCOUNT_SIGNUP_REDIRECT_URL = "/welcome/"
LOGIN_URL = "/accounts/login/"

# Email: printed to the console unless an SMTP server is configured.
# Background work (django-tasks, the backport of Django 6's task framework):
# tasks are saved in the database and run by `manage.py db_worker`, which
# `make run` starts beside the server. Tests run them at once.
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}

# Planned calls: reminders this long before the agreed time (a day ahead by
# email; shortly before in the site and by email), and "Join" shows from
# PLAN_JOIN_EARLY_SECONDS before the time until PLAN_JOIN_LATE_SECONDS after.
PLAN_REMINDER_DAY_SECONDS = env_seconds("PLAN_REMINDER_DAY_SECONDS", 24 * 3600)
PLAN_REMINDER_SOON_SECONDS = env_seconds("PLAN_REMINDER_SOON_SECONDS", 10 * 60)
PLAN_JOIN_EARLY_SECONDS = env_seconds("PLAN_JOIN_EARLY_SECONDS", 5 * 60)
PLAN_JOIN_LATE_SECONDS = env_seconds("PLAN_JOIN_LATE_SECONDS", 30 * 60)

EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_port("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "ChatSpheres <no-reply@localhost>")
# How long one SMTP conversation may take before the send counts as failed
# (and is retried later): a slow mail server must not hold the worker.
EMAIL_TIMEOUT = env_seconds("EMAIL_TIMEOUT", 20)
# `python -m chatspheres.server` (make run) starts the task worker beside the
# server and stops it with itself; set false where the worker runs as a
# service of its own (docs/operator-guide.md, "The task worker").
TASK_WORKER_WITH_SERVER = env_bool("TASK_WORKER_WITH_SERVER", True)
# How many task worker processes the server command starts (each takes one
# task at a time; bench/worker measures what one and two sustain).
TASK_WORKERS = env_int("TASK_WORKERS", 1, minimum=1, maximum=32)
# The task worker's niceness (0-19): the higher, the more it leaves the CPU
# to the pages when both want it.
TASK_WORKER_NICE = env_int("TASK_WORKER_NICE", 10, minimum=0, maximum=19)
# The task worker's batches, upkeep and keeping times (chatspheres/taskworker.py,
# docs/operator-guide.md "The task worker"):
# - ready tasks claimed in one transaction (1 works one task at a time, as
#   db_worker does; tasks not started within 10 s go back to the queue);
TASK_WORKER_CLAIM = env_int("TASK_WORKER_CLAIM", 20, minimum=1, maximum=1000)
# - how often each worker process puts back lost work and prunes records;
TASK_UPKEEP_SECONDS = env_seconds("TASK_UPKEEP_SECONDS", 300)
# - an email claimed for sending this long ago, or a task running this long,
#   was left by a worker that was killed or crashed: the email is sent again
#   (that attempt counted), the task recorded as failed. Far above the
#   longest SMTP conversation (EMAIL_TIMEOUT per exchange);
TASK_STALE_SECONDS = env_seconds("TASK_STALE_SECONDS", 600)
# - finished task rows are deleted this many days after they finished
#   (failed ones kept longer, to look into);
TASK_RESULTS_KEEP_DAYS = env_int("TASK_RESULTS_KEEP_DAYS", 7, minimum=1)
TASK_FAILED_RESULTS_KEEP_DAYS = env_int("TASK_FAILED_RESULTS_KEEP_DAYS", 30, minimum=1)
# - sent and given-up emails (their words, address and idempotency key) are
#   deleted this many days after their last change: a key asked for again
#   after that would send again, and every retry comes within hours.
EMAIL_RECORDS_KEEP_DAYS = env_int("EMAIL_RECORDS_KEEP_DAYS", 30, minimum=1)
# New-message emails are batched: at most one per member per window, sent
# the delay after the first unread message (or when the window allows), and
# not at all if the messages were read in the meantime.
EMAIL_BATCH_WINDOW_SECONDS = env_seconds("EMAIL_BATCH_WINDOW_SECONDS", 3600)
EMAIL_BATCH_DELAY_SECONDS = env_seconds("EMAIL_BATCH_DELAY_SECONDS", 900, positive=False)
# Where the Contact page sends people (questions, data requests, legal
# notices; safety reports go through "Report"). Defaults to the address in
# DEFAULT_FROM_EMAIL; set a mailbox someone reads.
CONTACT_EMAIL = env_str("CONTACT_EMAIL", parseaddr(DEFAULT_FROM_EMAIL)[1] or "no-reply@localhost")

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
    # Collected files get their content's hash in their name and a gzip copy;
    # WhiteNoise serves hashed names as cacheable for ten years (immutable).
    "staticfiles": {"BACKEND": "chatspheres.common.static.StaticFilesStorage"},
}
# Serve straight from the source folders when collectstatic has not run
# (tests, a quick start): pages then name files without a hash. `make run`
# collects them first.
WHITENOISE_USE_FINDERS = True
WHITENOISE_MANIFEST_STRICT = False

SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG and env_bool("HTTPS", False))
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SESSION_COOKIE_SAMESITE = "Lax"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("BEHIND_HTTPS_PROXY", False) else None
)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0, minimum=0)
# Only once every subdomain serves HTTPS: browsers remember these for months.
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
X_FRAME_OPTIONS = "DENY"

# Real time -----------------------------------------------------------------
# Largest WebSocket frame accepted; bigger ones close the socket with 1009.
REALTIME_MAX_FRAME_BYTES = env_int("REALTIME_MAX_FRAME_BYTES", 64 * 1024, minimum=1024)
# Sustained frames per second per socket before throttling, and the burst allowed.
# Our own limits per member ("count/period", period s, m, h or d), checked in
# the services (common/ratelimit.py); allauth limits login, sign-up and
# password reset itself. Each can be set as RATE_LIMIT_<ACTION>.
RATE_LIMITS = env_rate_limits(
    {
        "queue_join": "60/m",
        "ring": "10/m",
        "report": "10/h",
        "follow": "60/h",
        "talk_again": "60/h",
        "block": "30/h",
        "message": "30/m",
        # Each link in a message counts here too: a flood of links is spam's shape.
        "message_link": "20/h",
    }
)

REALTIME_RATE_PER_SECOND = env_positive_number("REALTIME_RATE_PER_SECOND", 50)
REALTIME_RATE_BURST = env_int("REALTIME_RATE_BURST", 100, minimum=1)
# Frames dropped within REALTIME_FLOOD_WINDOW seconds before the socket is closed (1008).
REALTIME_FLOOD_LIMIT = env_int("REALTIME_FLOOD_LIMIT", 100, minimum=1)
REALTIME_FLOOD_WINDOW = env_seconds("REALTIME_FLOOD_WINDOW", 2)
# Server pings detect a vanished partner (closed laptop, lost Wi-Fi) quickly.
REALTIME_PING_INTERVAL = env_seconds("REALTIME_PING_INTERVAL", 4)
REALTIME_PING_TIMEOUT = env_seconds("REALTIME_PING_TIMEOUT", 4)
# Open sockets (tabs) one member may have at once; more are refused with a reason.
REALTIME_MAX_TABS_PER_MEMBER = env_int("REALTIME_MAX_TABS_PER_MEMBER", 8, minimum=1)
# WebSocket handshakes one address may make per minute.
REALTIME_HANDSHAKES_PER_MINUTE = env_int("REALTIME_HANDSHAKES_PER_MINUTE", 60, minimum=1)
# How long a tab whose socket dropped may take to come back before its call
# ends as "disconnected" (seconds).
REALTIME_RECONNECT_GRACE_SECONDS = env_seconds("REALTIME_RECONNECT_GRACE_SECONDS", 20)
# Events kept per member for tabs that reconnect: how many, and for how long (seconds).
REALTIME_EVENT_LOG_SIZE = env_int("REALTIME_EVENT_LOG_SIZE", 200, minimum=1)
REALTIME_EVENT_LOG_SECONDS = env_seconds("REALTIME_EVENT_LOG_SECONDS", 300)
# How often each process looks for tabs that did not come back in time (seconds).
REALTIME_SWEEP_SECONDS = env_seconds("REALTIME_SWEEP_SECONDS", 1)
# The synchronous relay lane for signals (docs/decisions/0001-realtime-gateway.md);
# off, every frame takes the ordinary ASGI route.
REALTIME_FAST_LANE = env_bool("REALTIME_FAST_LANE", True)

# Redis: unset, everything real-time lives in this one process (make run).
# Set (e.g. redis://127.0.0.1:6379/0), the hub, the matching queue and presence
# are shared through Redis by every process on every machine.
REDIS_URL = env_url("REDIS_URL", "", schemes=("redis", "rediss", "unix"), what="Redis")
# Every key ChatSpheres writes starts with this, so one Redis can serve several sites.
REDIS_KEY_PREFIX = env_str("REDIS_KEY_PREFIX", "chatspheres:")
# A process that stops refreshing its liveness key this long (seconds) is
# taken for dead: its tabs vanish from presence and its calls wait for them.
REALTIME_PROCESS_TTL = env_seconds("REALTIME_PROCESS_TTL", 10)

# Who may read /metrics (Prometheus format): comma-separated addresses or
# networks (e.g. 10.0.0.0/8). Loopback only by default; everyone else gets 404.
# Behind a proxy listed in TRUSTED_PROXIES the address is the forwarded one.
METRICS_ALLOWED_ADDRESSES = env_addresses("METRICS_ALLOWED_ADDRESSES", "127.0.0.1,::1")

# Reverse proxies whose X-Forwarded-For and X-Forwarded-Proto headers are
# believed (comma-separated addresses or networks). Empty by default, even for
# loopback: anyone could otherwise claim any address and escape the
# per-address limits (login, WebSocket handshakes). Set it to the proxy's
# address. uvicorn (chatspheres/server.py) applies it before Django runs, so
# REMOTE_ADDR is already the client's and allauth must not read the header again.
TRUSTED_PROXIES = env_addresses("TRUSTED_PROXIES", "", strict=True)
refuse_renamed("FORWARDED_ALLOW_IPS", "TRUSTED_PROXIES")
ALLAUTH_TRUSTED_PROXY_COUNT = 0

# Django's cache holds the limits' counts (ours in common/ratelimit.py and
# allauth's). In this process's memory by default; with REDIS_URL in Redis
# (Django's own backend), so that every process counts against one limit.
# While Redis does not answer, nothing is counted and nobody is refused
# (common/cache.py); the short timeouts keep a request from hanging on it.
CACHES = {
    "default": (
        {
            "BACKEND": "chatspheres.common.cache.LimitsRedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": f"{REDIS_KEY_PREFIX}cache",
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
        if REDIS_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

# Matching: how long two people who just parted are kept apart (seconds).
MATCHING_RECENT_PARTNER_SECONDS = env_seconds(
    "MATCHING_RECENT_PARTNER_SECONDS", 600, positive=False
)

# Soft start: how long (seconds) a first meeting's video stays blurred when
# nobody presses "Reveal".
SOFT_START_SECONDS = env_int("SOFT_START_SECONDS", 60, minimum=1)

# WebRTC: ICE servers handed to browsers. None by default (host candidates
# only, enough on one network). STUN/TURN as a JSON list of RTCIceServer, e.g.
# [{"urls": ["stun:stun.example.org:3478"]}].
ICE_SERVERS = env_ice_servers("ICE_SERVERS")
# coturn's TURN REST API (docs/coturn.md): with a shared secret (coturn's
# static-auth-secret, at least 32 characters), each member in a call gets
# short-lived credentials for these TURN URLs (comma-separated, e.g.
# turn:turn.example.org:3478,turns:turn.example.org:443?transport=tcp). Both or
# neither. Without them, "Hide my IP address" cannot be turned on.
TURN_URLS, TURN_SECRET = env_turn("TURN_URLS", "TURN_SECRET")
# At most an hour: a leaked credential must not outlive the call by much.
TURN_CREDENTIAL_TTL = env_int("TURN_CREDENTIAL_TTL", 3600, minimum=60, maximum=3600)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "filters": {
        # What a client can trigger at will (a wrong Host header, an oversized
        # or malformed request) is one WARNING line, never an ERROR traceback.
        "client_fault": {"()": "chatspheres.common.logs.ClientFaultFilter"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {
        "handlers": ["console"],
        "level": env_choice("LOG_LEVEL", "INFO", ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")),
    },
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        **{name: {"filters": ["client_fault"]} for name in SECURITY_LOGGERS},
        "django.request": {"filters": ["client_fault"]},
    },
}
