"""Every setting of the portal, read from the environment with a safe default.

With nothing set, the portal runs on an SQLite file with Celery tasks inline and
e-mail printed to the console, so a newcomer starts with one command.
``DATABASE_URL`` and ``REDIS_URL`` switch to PostgreSQL and Redis with a real
Celery worker. Production-only requirements live in ``production.py``.
"""

from datetime import timedelta
from pathlib import Path

import environ
from celery.schedules import crontab

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
# A developer may keep local overrides in .env; it is never required.
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

# --- Core -------------------------------------------------------------------

# Development key: production.py refuses to start without DJANGO_SECRET_KEY.
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="dev-only-insecure-key-never-use-in-production")
DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

SITE_ID = 1
PORTAL_NAME = env.str("PORTAL_NAME", default="Second Opinion Program")
HOSPITAL_NAME = env.str("HOSPITAL_NAME", default="Riverside General Hospital")
# Absolute base URL used in e-mails (links back into the portal).
PORTAL_BASE_URL = env.str("PORTAL_BASE_URL", default="http://127.0.0.1:8000")

INSTALLED_APPS = [
    "portal",
    "cms",
    "referrals",
    "education",
    # Wagtail
    "wagtail.contrib.forms",
    "wagtail.contrib.redirects",
    "wagtail.contrib.settings",
    "wagtail.embeds",
    "wagtail.sites",
    "wagtail.users",
    "wagtail.snippets",
    "wagtail.documents",
    "wagtail.images",
    "wagtail.search",
    "wagtail.admin",
    "wagtail",
    "modelcluster",
    "taggit",
    # Accounts
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "allauth.socialaccount",
    "allauth.usersessions",
    # Supporting
    "notifications",
    "django_htmx",
    "csp",
    "crispy_forms",
    "crispy_bootstrap5",
    "django_celery_beat",
    # Django
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.sites",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
]

# OpenID Connect single sign-on: switched on by settings (see SSO below).
OIDC_ENABLED = env.bool("OIDC_ENABLED", default=False)
if OIDC_ENABLED:
    INSTALLED_APPS.append("allauth.socialaccount.providers.openid_connect")

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Ends idle and over-age sessions before anything else sees the user.
    "portal.middleware.SessionTimeoutMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "allauth.usersessions.middleware.UserSessionsMiddleware",
    # Sends people who can see patient data to set up two-factor first.
    "portal.middleware.RequireTwoFactorMiddleware",
    "wagtail.contrib.redirects.middleware.RedirectMiddleware",
]

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "csp.context_processors.nonce",
                "portal.context_processors.portal",
            ],
        },
    },
]

# --- Data -------------------------------------------------------------------

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and env.bool(
    "DATABASE_PREPARED_STATEMENTS", default=True
):
    # Bind parameters on the server and let psycopg prepare a statement once a
    # connection has run it five times (psycopg's own default): PostgreSQL then
    # plans each repeated query once per connection instead of on every request
    # (a referral submit's database CPU halves). Django turns this off by
    # default for connection poolers; PgBouncer before 1.21, or in transaction
    # mode without max_prepared_statements, needs DATABASE_PREPARED_STATEMENTS=false.
    DATABASES["default"].setdefault("OPTIONS", {}).update(server_side_binding=True, prepare_threshold=5)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # SQLite serialises writers; wait instead of failing under a second request.
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 20
    DATABASES["default"]["CONN_MAX_AGE"] = 0
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env.str("REDIS_URL", default="")

if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="portal"),
        }
    }
else:
    # The database cache is shared by every process, so allauth's sign-in rate
    # limits hold even without Redis (LocMem would count per process).
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "portal_cache",
        }
    }

# --- People and sign-in -------------------------------------------------------

AUTH_USER_MODEL = "portal.User"
# allauth's backend (a ModelBackend: Django's permissions too), with the profile joined.
AUTHENTICATION_BACKENDS = ["portal.auth_backends.AuthenticationBackend"]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "account_login"

# Only people with an address at one of these domains may sign up.
HOSPITAL_EMAIL_DOMAINS = [d.lower() for d in env.list("HOSPITAL_EMAIL_DOMAINS", default=["riverside.example.org"])]

ACCOUNT_ADAPTER = "portal.adapters.HospitalAccountAdapter"
SOCIALACCOUNT_ADAPTER = "portal.adapters.HospitalSocialAccountAdapter"
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_PREVENT_ENUMERATION = True
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = False
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = True
ACCOUNT_SESSION_REMEMBER = False
ACCOUNT_EMAIL_SUBJECT_PREFIX = f"[{PORTAL_NAME}] "
ACCOUNT_RATE_LIMITS = {
    # allauth's defaults, stated here so the hospital can read and tune them.
    "login_failed": env.str("RATE_LIMIT_LOGIN_FAILED", default="10/m/ip,5/5m/key"),
    "login": env.str("RATE_LIMIT_LOGIN", default="30/m/ip"),
    "signup": env.str("RATE_LIMIT_SIGNUP", default="20/m/ip"),
    "reset_password": env.str("RATE_LIMIT_RESET_PASSWORD", default="20/m/ip,5/m/key"),
    "reset_password_from_key": "20/m/ip",
    "confirm_email": "1/3m/key",
    "change_password": "5/m/user",
    "manage_email": "10/m/user",
}
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = PORTAL_NAME
MFA_RECOVERY_CODE_COUNT = 10

# Two-factor is required for every role that can see patient data. The demo
# may relax it (DEMO_RELAX_TWO_FACTOR); the header then says so on every page.
MFA_REQUIRED_FOR_PATIENT_DATA = env.bool("MFA_REQUIRED_FOR_PATIENT_DATA", default=True)

# Single sign-on through OpenID Connect. When on, sign-up and password sign-in
# are closed and every sign-in path goes through the identity provider.
SOCIALACCOUNT_ONLY = OIDC_ENABLED
SOCIALACCOUNT_EMAIL_AUTHENTICATION = False
SOCIALACCOUNT_STORE_TOKENS = False
SOCIALACCOUNT_PROVIDERS = {}
if OIDC_ENABLED:
    SOCIALACCOUNT_PROVIDERS["openid_connect"] = {
        "OAUTH_PKCE_ENABLED": True,
        "APPS": [
            {
                "provider_id": env.str("OIDC_PROVIDER_ID", default="hospital"),
                "name": env.str("OIDC_PROVIDER_NAME", default="Hospital sign-in"),
                "client_id": env.str("OIDC_CLIENT_ID"),
                "secret": env.str("OIDC_CLIENT_SECRET"),
                "settings": {"server_url": env.str("OIDC_SERVER_URL")},
            }
        ],
    }
    ACCOUNT_EMAIL_VERIFICATION = "none"  # the identity provider vouches for the address

# --- Sessions -----------------------------------------------------------------

SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
# Idle sign-out (sliding) and absolute lifetime are enforced by
# portal.middleware.SessionTimeoutMiddleware; the cookie lives no longer than
# the absolute lifetime and dies with the browser.
SESSION_IDLE_TIMEOUT = timedelta(minutes=env.int("SESSION_IDLE_MINUTES", default=15))
SESSION_ABSOLUTE_LIFETIME = timedelta(hours=env.int("SESSION_ABSOLUTE_HOURS", default=12))
SESSION_COOKIE_AGE = int(SESSION_ABSOLUTE_LIFETIME.total_seconds())
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_SAVE_EVERY_REQUEST = False
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True

# --- Security headers -----------------------------------------------------------

SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# The portal's own pages send a strict policy: no inline script or style.
# Wagtail's and Django's admin need inline script, so their prefixes are excluded.
WAGTAIL_ADMIN_PREFIX = "cms-admin/"
DJANGO_ADMIN_PREFIX = "django-admin/"
CONTENT_SECURITY_POLICY = {
    "EXCLUDE_URL_PREFIXES": [f"/{WAGTAIL_ADMIN_PREFIX}", f"/{DJANGO_ADMIN_PREFIX}"],
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
        "base-uri": ["'self'"],
        "object-src": ["'none'"],
    },
}

# --- Static and media -----------------------------------------------------------

STATIC_URL = "/static/"
STATIC_ROOT = env.str("STATIC_ROOT", default=str(BASE_DIR / "staticfiles"))
MEDIA_URL = "/media/"
MEDIA_ROOT = env.str("MEDIA_ROOT", default=str(BASE_DIR / "media"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
# Media (images, documents) is served only through a view that checks sign-in.
# Behind nginx, set MEDIA_X_ACCEL_REDIRECT_PREFIX to hand the bytes to nginx.
MEDIA_X_ACCEL_REDIRECT_PREFIX = env.str("MEDIA_X_ACCEL_REDIRECT_PREFIX", default="")

# --- Internationalisation ---------------------------------------------------------

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("PORTAL_TIME_ZONE", default="America/New_York")
USE_I18N = True
USE_TZ = True

# --- Wagtail ----------------------------------------------------------------------

WAGTAIL_SITE_NAME = PORTAL_NAME
WAGTAILADMIN_BASE_URL = PORTAL_BASE_URL
WAGTAILADMIN_LOGIN_URL = "account_login"
WAGTAIL_FRONTEND_LOGIN_URL = "account_login"
# Closed hospital network: no update check, no e-mail hashes sent to gravatar.
WAGTAIL_ENABLE_UPDATE_CHECK = False
WAGTAIL_GRAVATAR_PROVIDER_URL = None
# Everything is behind sign-in already; shared-password privacy would be a hole.
WAGTAIL_PRIVATE_PAGE_OPTIONS = {"SHARED_PASSWORD": False}
WAGTAILDOCS_PRIVATE_COLLECTION_OPTIONS = {"SHARED_PASSWORD": False}
WAGTAILDOCS_SERVE_METHOD = "serve_view"
WAGTAIL_PASSWORD_MANAGEMENT_ENABLED = False  # allauth owns passwords
WAGTAIL_PASSWORD_RESET_ENABLED = False
WAGTAILSEARCH_BACKENDS = {"default": {"BACKEND": "wagtail.search.backends.database"}}

# --- Notifications ----------------------------------------------------------------

NOTIFICATIONS_NOTIFICATION_MODEL = "portal.Notification"
DJANGO_NOTIFICATIONS_CONFIG = {"USE_JSONFIELD": True, "PAGINATE_BY": 25}
# How often an open page asks for the unread count (seconds).
NOTIFICATION_POLL_SECONDS = env.int("NOTIFICATION_POLL_SECONDS", default=30)

# --- E-mail -----------------------------------------------------------------------

EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
if env.str("EMAIL_URL", default=""):
    vars().update(env.email_url("EMAIL_URL"))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="second-opinions@riverside.example.org")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- Celery -----------------------------------------------------------------------

# Without REDIS_URL, tasks run inline in the web process (first-run default).
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL or "memory://")
if CELERY_BROKER_URL.startswith("redis://"):
    # kombu's Redis transport, sharing one client per channel instead of
    # building one for every command (portal/broker.py says why).
    CELERY_BROKER_TRANSPORT = "portal.broker:Transport"
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=not REDIS_URL)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
# At-least-once delivery: a task is acknowledged only after it finishes, and a
# task whose worker died is handed to another worker. Tasks are idempotent.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = 240
CELERY_TASK_TIME_LIMIT = 300
# Redis redelivers an unacknowledged task after this; it must exceed every time
# limit and countdown or a slow task would run twice at once.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_BEAT_SCHEDULE = {
    "notifications-daily-digest": {
        "task": "portal.tasks.send_daily_digests",
        "schedule": crontab(hour=env.int("DIGEST_HOUR", default=7), minute=0),
    },
    "notifications-email-sweep": {
        # Picks up any immediate e-mail whose task was lost before it was queued.
        "task": "portal.tasks.sweep_unsent_emails",
        "schedule": timedelta(minutes=10),
    },
}

# --- Forms ------------------------------------------------------------------------

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

# --- Logging ----------------------------------------------------------------------

# One JSON object per line. Log calls name reference numbers and ids only; the
# formatter never serialises request bodies or query strings.
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "portal.logging.JsonFormatter"}},
    "filters": {"scrub": {"()": "portal.logging.ScrubQueryStringFilter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "json", "filters": ["scrub"]}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "django_tasks": {"level": "WARNING"},
        "django.server": {"level": "INFO", "handlers": ["console"], "propagate": False},
    },
}

# Behind a reverse proxy, the number of proxies whose X-Forwarded-For entries
# are trusted for the client address (rate limits and the access log use it).
ALLAUTH_TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)

CELERY_BEAT_SCHEDULE["referrals-clock-breaches"] = {
    # Service-level reminders: each breach is recorded and announced once.
    "task": "referrals.tasks.find_clock_breaches",
    "schedule": timedelta(minutes=15),
}

CELERY_BEAT_SCHEDULE["referrals-dashboard-rollup"] = {
    # The dashboard's per-referral rollup follows the referrals within a minute (referrals.rollups).
    "task": "referrals.tasks.refresh_dashboard_rollup",
    "schedule": timedelta(minutes=1),
}

CELERY_BEAT_SCHEDULE["intranet-publish-scheduled"] = {
    # Wagtail's scheduled publishing: an update approved with a go-live date goes live within a minute of it.
    "task": "cms.tasks.publish_scheduled_pages",
    "schedule": timedelta(minutes=1),
}

CELERY_BEAT_SCHEDULE["education-training-reminders"] = {
    # Required training: a reminder before the due date, once overdue, and before expiry; each sent once.
    "task": "education.tasks.send_training_reminders",
    "schedule": crontab(hour=env.int("TRAINING_REMINDER_HOUR", default=6), minute=30),
}

CELERY_BEAT_SCHEDULE["intranet-update-reminders"] = {
    # Reminds people who have not acknowledged a required, unexpired program update (once per period).
    "task": "cms.tasks.remind_unacknowledged_updates",
    "schedule": crontab(hour=env.int("UPDATE_REMINDER_HOUR", default=9), minute=0),
}
