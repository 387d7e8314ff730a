"""Delivery through a real Celery worker process on Redis and PostgreSQL."""

from __future__ import annotations

import time

import pytest

from portal import services
from portal.celery import app
from portal.models import Notification
from portal.notification_kinds import NotificationKind
from portal.tasks import email_notifications

pytestmark = [pytest.mark.worker, pytest.mark.postgres, pytest.mark.redis]


def _wait_for(condition, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return False


def test_celery_is_configured_for_at_least_once_delivery():
    conf = app.conf
    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1
    assert conf.task_time_limit < conf.broker_transport_options["visibility_timeout"]
    assert conf.task_soft_time_limit < conf.task_time_limit


def test_notification_email_is_delivered_by_the_worker_after_commit(real_worker, make_user):
    person = make_user()

    services.notification_send(
        kind=NotificationKind.GENERAL,
        event_key="welcome:worker-test",
        recipient_ids=[person.pk],
        verb="Welcome to the second opinion program portal",
    )

    assert _wait_for(lambda: Notification.objects.filter(recipient=person, emailed=True).exists()), (
        real_worker.log_path.read_text()[-2000:]
    )
    mails = real_worker.mails()
    assert len(mails) == 1
    assert person.email in mails[0]


def test_a_task_delivered_twice_sends_one_email(real_worker, make_user):
    person = make_user()
    services.notification_send(
        kind=NotificationKind.GENERAL, event_key="dup:1", recipient_ids=[person.pk], verb="Duplicate delivery check"
    )
    notification_id = Notification.objects.get(recipient=person).pk
    # As if the broker redelivered the message to the worker.
    email_notifications.delay([notification_id])
    email_notifications.delay([notification_id])

    assert _wait_for(lambda: Notification.objects.filter(pk=notification_id, emailed=True).exists())
    time.sleep(2)  # let the duplicates run
    assert len(real_worker.mails()) == 1


def test_health_reports_the_worker_reachable(real_worker, client):
    response = client.get("/health/")

    report = response.json()
    assert response.status_code == 200
    assert report["checks"]["workers"]["status"] == "ok"
    assert report["checks"]["workers"]["detail"].endswith("worker(s)")
    assert report["checks"]["broker"]["status"] == "ok"
    assert report["checks"]["database"]["detail"] == "postgresql"
