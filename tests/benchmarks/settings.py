"""Benchmark settings: production's settings against a throw-away PostgreSQL database.

``run.py`` sets every variable below before Django starts; the defaults only
make this module usable on its own (e.g. ``DJANGO_SETTINGS_MODULE=
tests.benchmarks.settings manage.py shell`` against the bench database).
Differences from production, all needed to run on plain HTTP on 127.0.0.1:

- ``DJANGO_SECURE_SSL_REDIRECT=false`` (no TLS in front of gunicorn);
- plain ``StaticFilesStorage`` (no collectstatic / manifest; pages only render
  static URLs, the benchmark never fetches static files);
- Celery tasks inline and e-mail kept in memory (no worker runs; seeding
  notifications would otherwise queue tasks that nobody consumes). The
  referrals suite's gunicorn sets ``BENCH_CELERY_EAGER=false``: a request then
  queues its notification on the bench's Redis db as production does, in a
  queue of the run's own (``BENCH_CELERY_QUEUE``) that the runner deletes;
- the bench URLconf adds ``/__bench__/trivial/`` and ``/__bench__/insert/`` in
  front of ``portal.urls``.
"""

import os

_BENCH_DEFAULTS = {
    "DJANGO_SECRET_KEY": "bench-only-key-not-a-secret-0123456789abcdefghijklmnop",
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/portal_bench",
    "REDIS_URL": "redis://127.0.0.1:6379/5",
    "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
    "PORTAL_BASE_URL": "http://127.0.0.1",
    "DJANGO_SECURE_SSL_REDIRECT": "false",
    "CACHE_KEY_PREFIX": "portal_bench",
}
for _name, _value in _BENCH_DEFAULTS.items():
    os.environ.setdefault(_name, _value)

from portal.settings.production import *  # noqa: E402, F403
from portal.settings.production import STORAGES  # noqa: E402

ROOT_URLCONF = "tests.benchmarks.urls"
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
CELERY_TASK_ALWAYS_EAGER = os.environ.get("BENCH_CELERY_EAGER", "true").lower() != "false"
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("BENCH_CELERY_QUEUE", "celery")
