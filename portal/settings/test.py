"""Test settings: the same stack, fast hashing, predictable e-mail.

PostgreSQL and Redis are used when DATABASE_URL / REDIS_URL are set (CI sets
them); otherwise an SQLite file, so the suite still runs on a bare machine.
"""

import os

from .base import *  # noqa: F403
from .base import BASE_DIR, DATABASES, REDIS_URL, env

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# The worker process started by tests/portal/test_worker.py writes e-mail to files.
EMAIL_BACKEND = env.str("TEST_EMAIL_BACKEND", default="django.core.mail.backends.locmem.EmailBackend")
EMAIL_FILE_PATH = env.str("TEST_EMAIL_FILE_PATH", default=str(BASE_DIR / ".test-mail"))
STORAGES["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}  # noqa: F405
MEDIA_ROOT = str(BASE_DIR / ".test-media")
# Tests run tasks inline unless a test starts the real worker (see tests/conftest.py).
CELERY_TASK_ALWAYS_EAGER = True
if REDIS_URL:
    # Tests clear the cache between tests (FLUSHDB): keep the broker's queues in
    # another Redis database so clearing the cache never drops a queued task.
    CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL.rsplit("/", 1)[0] + "/15")
MFA_REQUIRED_FOR_PATIENT_DATA = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not memory: live-server browser tests share it across threads.
    # One file per test run, so two runs on one machine never share it.
    DATABASES["default"]["TEST"] = {"NAME": str(BASE_DIR / f".test-db-{os.getpid()}.sqlite3")}
LOG_LEVEL = env.str("LOG_LEVEL", default="WARNING")
LOGGING["root"]["level"] = LOG_LEVEL  # noqa: F405
