"""Production: every secret and address comes from the environment.

A missing required variable stops start-up with one line naming it.
`manage.py check --deploy --fail-level WARNING` reports nothing.
"""

import sys

from .base import *  # noqa: F403
from .base import env

REQUIRED_VARIABLES = ["DJANGO_SECRET_KEY", "DATABASE_URL", "REDIS_URL", "DJANGO_ALLOWED_HOSTS", "PORTAL_BASE_URL"]
_missing = [name for name in REQUIRED_VARIABLES if not env.str(name, default="")]
if _missing:
    sys.stderr.write(f"Missing required environment variable: {', '.join(_missing)}\n")
    raise SystemExit(1)

SECRET_KEY = env.str("DJANGO_SECRET_KEY")
DEBUG = False
MFA_REQUIRED_FOR_PATIENT_DATA = True

SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
# The health check is polled over plain HTTP by the load balancer.
SECURE_REDIRECT_EXEMPT = [r"^health/$"]
