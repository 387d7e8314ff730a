"""Shared fixtures: people in every role, service switches, a clean cache.

Tests that need PostgreSQL, Redis, a Celery worker or Chromium skip with a
reason when the service is absent; with CI=true (or REQUIRE_SERVICES=1) the
same absence fails the test instead, so CI cannot pass by skipping.
"""

from __future__ import annotations

import logging
import os
import shutil

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import connection

from referrals import clocks
from tests.factories import UserFactory

SERVICES_REQUIRED = os.environ.get("CI", "").lower() == "true" or os.environ.get("REQUIRE_SERVICES") == "1"
CHROMIUM_PATH = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")


def service_missing(reason: str):
    """Skip for a missing service, or fail when services are required (CI)."""
    if SERVICES_REQUIRED:
        pytest.fail(f"required service missing: {reason}", pytrace=False)
    pytest.skip(reason)


def pytest_runtest_setup(item):
    wants_postgres = item.get_closest_marker("postgres") or item.get_closest_marker("worker")
    if wants_postgres and not settings.DATABASES["default"]["ENGINE"].endswith("postgresql"):
        service_missing("PostgreSQL not configured: set DATABASE_URL=postgres://…")
    if (item.get_closest_marker("redis") or item.get_closest_marker("worker")) and not os.environ.get("REDIS_URL"):
        service_missing("Redis not configured: set REDIS_URL=redis://…")
    if item.get_closest_marker("browser") and not shutil.which(CHROMIUM_PATH) and not os.path.exists(CHROMIUM_PATH):
        service_missing(f"Chromium not found at {CHROMIUM_PATH} (apt-get install chromium)")


@pytest.fixture(autouse=True)
def _clean_cache(request):
    # allauth's rate limits live in the cache: one test's failed sign-ins must
    # not lock out the next test. (Without Redis the cache is a database table,
    # so only tests with database access can touch it.)
    db_fixture = _uses_db(request)
    if not db_fixture:
        yield
        return
    request.getfixturevalue(db_fixture)
    cache.clear()
    clocks.calendar_forget()  # the process memo of holidays and targets: each test's own rows
    yield
    cache.clear()
    clocks.calendar_forget()


@pytest.fixture
def on_postgres():
    return connection.vendor == "postgresql"


@pytest.fixture
def make_user(db):
    """Build a person with roles through the same service the portal uses."""

    def _make(*roles, **kwargs):
        return UserFactory(roles=roles, **kwargs)

    return _make


@pytest.fixture
def clinician(make_user):
    from portal.roles import Role

    return make_user(Role.CLINICIAN)


@pytest.fixture
def leader(make_user):
    from portal.roles import Role

    return make_user(Role.LEADERSHIP)


@pytest.fixture
def home_page(db):
    from portal.demo import seed_demo_home_page

    seed_demo_home_page()
    from cms.models import HomePage

    return HomePage.objects.get()


@pytest.fixture
def two_factor_ready(client):
    """A client helper that signs a person in as if two-factor was completed."""
    from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret

    def _sign_in(user, with_totp: bool = True):
        if with_totp:
            TOTP.activate(user, generate_totp_secret())
        client.force_login(user)
        return client

    return _sign_in


@pytest.fixture(scope="session")
def celery_worker_process(django_db_setup, django_db_blocker, tmp_path_factory):
    """A real `celery worker` process on Redis, reading and writing the test database."""
    from tests.worker import WorkerProcess

    if not settings.DATABASES["default"]["ENGINE"].endswith("postgresql") or not os.environ.get("REDIS_URL"):
        service_missing("a real Celery worker needs PostgreSQL and Redis (DATABASE_URL, REDIS_URL)")
    worker = WorkerProcess(tmp_path_factory.mktemp("worker-mail"))
    with django_db_blocker.unblock():
        worker.start()
    yield worker
    worker.stop()


@pytest.fixture
def real_worker(celery_worker_process, transactional_db):
    """Send tasks to the worker process instead of running them inline."""
    from portal.celery import app

    app.conf.task_always_eager = False
    for path in celery_worker_process.mail_dir.glob("*"):
        path.unlink()
    yield celery_worker_process
    app.conf.task_always_eager = True


@pytest.fixture(scope="session")
def _phi_recorders():
    from tests.phi_sentinel import RecordingHandler, TaskMessageRecorder

    handler = RecordingHandler()
    logging.getLogger().addHandler(handler)
    tasks = TaskMessageRecorder()
    tasks.install()
    yield handler, tasks
    tasks.uninstall()
    logging.getLogger().removeHandler(handler)


def _uses_db(request) -> str | None:
    marker = request.node.get_closest_marker("django_db")
    names = set(request.fixturenames)
    if "transactional_db" in names or "live_server" in names or (marker and marker.kwargs.get("transaction")):
        return "transactional_db"
    if marker or "db" in names:
        return "db"
    return None


@pytest.fixture(autouse=True)
def _patient_data_stays_in_the_referral_table(request, _phi_recorders):
    """After every test: the planted patient marker is nowhere but the referral table."""
    from django.core import mail

    from tests.factories import PATIENT_MARKER
    from tests.phi_sentinel import tables_containing_marker

    db_fixture = _uses_db(request)
    if db_fixture:
        # Set the database up inside this fixture so the scan below runs
        # before the test's data is rolled back or flushed.
        request.getfixturevalue(db_fixture)
    handler, tasks = _phi_recorders
    handler.lines.clear()
    tasks.messages.clear()
    sent: list[str] = []
    original_send = mail.EmailMessage.send

    def recording_send(message, *args, **kwargs):
        sent.append(f"{message.subject}\n{message.body}")
        return original_send(message, *args, **kwargs)

    mail.EmailMessage.send = recording_send
    yield
    mail.EmailMessage.send = original_send
    leaks = []
    if any(PATIENT_MARKER in line for line in handler.lines):
        leaks.append("log records")
    if any(PATIENT_MARKER in body for body in sent):
        leaks.append("e-mails")
    if any(PATIENT_MARKER in message for message in tasks.messages):
        leaks.append("Celery task messages")
    if db_fixture:
        leaks.extend(f"table {table}" for table in tables_containing_marker())
    assert not leaks, f"patient marker found outside the referral table: {', '.join(leaks)}"
