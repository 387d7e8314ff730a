"""The batch writer of notifications: the set-based INSERT … SELECT (PostgreSQL) and the portable bulk path.

Each behaviour runs on both writers where the database has them, so SQLite and
PostgreSQL notify the same people with the same e-mail choices.
"""

from __future__ import annotations

import math

import pytest
from celery.signals import task_prerun
from django.core import mail
from django.db import connection

from portal import services
from portal.models import Notification
from portal.notification_kinds import NotificationKind

pytestmark = pytest.mark.django_db

KIND = NotificationKind.UPDATE_PUBLISHED


@pytest.fixture(params=["insert_select", "bulk"])
def writer(request, monkeypatch):
    """Force one batch writer for the test (the INSERT … SELECT exists only on PostgreSQL)."""
    if request.param == "insert_select" and connection.vendor != "postgresql":
        pytest.skip("INSERT … SELECT with ON CONFLICT and = ANY is the PostgreSQL path")
    chosen = {"insert_select": services._notification_insert_select, "bulk": services._notification_insert_bulk}[
        request.param
    ]
    monkeypatch.setattr(services, "_notification_insert", lambda: chosen)
    return request.param


@pytest.fixture
def email_tasks():
    """The id lists of every e-mail task run while the test runs."""
    seen = []

    def record(sender=None, args=None, **kwargs):
        if sender.name == "portal.tasks.email_notifications":
            seen.append(list(args[0]))

    task_prerun.connect(record, weak=False)
    yield seen
    task_prerun.disconnect(record)


def _send(recipients, *, event_key="update:7:published", **kwargs):
    return services.notification_send(
        kind=KIND,
        event_key=event_key,
        recipient_ids=[r.pk for r in recipients],
        verb="Program update: New turnaround targets",
        link="/updates/new-turnaround-targets/",
        **kwargs,
    )


def _delivery(person, event_key="update:7:published"):
    return Notification.objects.get(recipient=person, event_key=event_key).email_delivery


def test_each_persons_preference_decides_the_email(writer, make_user, django_capture_on_commit_callbacks):
    unset, immediate, digest, off = (make_user() for _ in range(4))
    services.notification_preferences_set(user=immediate, deliveries={KIND: "immediate"})
    services.notification_preferences_set(user=digest, deliveries={KIND: "digest"})
    services.notification_preferences_set(user=off, deliveries={KIND: "off"})

    with django_capture_on_commit_callbacks(execute=True):
        assert _send([unset, immediate, digest, off]) == 4

    assert [_delivery(p) for p in (unset, immediate, digest, off)] == ["immediate", "immediate", "digest", "none"]
    assert sorted(m.to[0] for m in mail.outbox) == sorted([unset.email, immediate.email])


def test_a_preference_for_another_kind_does_not_count(writer, make_user, django_capture_on_commit_callbacks):
    person = make_user()
    services.notification_preferences_set(user=person, deliveries={NotificationKind.REFERRAL_PROGRESS: "off"})

    with django_capture_on_commit_callbacks(execute=True):
        _send([person])

    assert _delivery(person) == "immediate"
    assert [m.to for m in mail.outbox] == [[person.email]]


def test_critical_is_emailed_at_once_whatever_the_preference(writer, make_user, django_capture_on_commit_callbacks):
    digest, off = make_user(), make_user()
    services.notification_preferences_set(user=digest, deliveries={KIND: "digest"})
    services.notification_preferences_set(user=off, deliveries={KIND: "off"})

    with django_capture_on_commit_callbacks(execute=True):
        _send([digest, off], force_email=True, level=Notification.LEVELS.warning)

    assert [_delivery(digest), _delivery(off)] == ["immediate", "immediate"]
    assert sorted(m.to[0] for m in mail.outbox) == sorted([digest.email, off.email])


def test_a_second_run_inserts_nothing_and_emails_nobody_twice(
    writer, make_user, django_capture_on_commit_callbacks, email_tasks
):
    people = [make_user() for _ in range(3)]
    with django_capture_on_commit_callbacks(execute=True):
        assert _send(people) == 3

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert _send(people) == 0

    assert callbacks == []
    assert Notification.objects.count() == 3
    assert len(mail.outbox) == 3
    assert len(email_tasks) == 1


def test_a_rerun_with_newcomers_emails_only_the_newcomers(
    writer, make_user, django_capture_on_commit_callbacks, email_tasks
):
    first = [make_user() for _ in range(2)]
    newcomer = make_user()
    with django_capture_on_commit_callbacks(execute=True):
        _send(first)
    mail.outbox.clear()
    email_tasks.clear()

    with django_capture_on_commit_callbacks(execute=True):
        assert _send([*first, newcomer]) == 1

    assert [m.to for m in mail.outbox] == [[newcomer.email]]
    assert email_tasks == [[Notification.objects.get(recipient=newcomer).pk]]


def test_the_row_names_the_actor_kind_link_and_level(writer, make_user, django_capture_on_commit_callbacks):
    actor, reader, other = make_user(), make_user(), make_user()

    with django_capture_on_commit_callbacks(execute=True):
        _send([reader], actor=actor, level=Notification.LEVELS.warning)
        _send([other], event_key="update:8:published")

    row = Notification.objects.get(recipient=reader)
    assert (row.actor_object_id, row.kind, row.link, row.level, row.verb) == (
        str(actor.pk),
        KIND,
        "/updates/new-turnaround-targets/",
        "warning",
        "Program update: New turnaround targets",
    )
    assert (row.unread, row.public, row.deleted, row.emailed) == (True, True, False, True)
    assert row.actor_content_type.model == "user"
    # Without an actor the system acts as the recipient (django-notifications requires one).
    assert Notification.objects.get(recipient=other).actor_object_id == str(other.pk)


def test_each_batch_is_one_insert_and_at_most_one_email_task_of_ids(
    writer, make_user, django_capture_on_commit_callbacks, email_tasks
):
    people = [make_user() for _ in range(7)]
    seen = []

    def wrapper(execute, sql, params, many, context):
        seen.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(wrapper), django_capture_on_commit_callbacks(execute=True):
        assert _send(people, batch_size=3) == 7

    inserts = [sql for sql in seen if sql.startswith("INSERT") and 'INTO "portal_notification"' in sql]
    assert len(inserts) == math.ceil(7 / 3)
    assert [len(ids) for ids in email_tasks] == [3, 3, 1]
    assert all(isinstance(i, int) for ids in email_tasks for i in ids)
    assert sorted(i for ids in email_tasks for i in ids) == sorted(Notification.objects.values_list("id", flat=True))


def test_each_batch_queues_its_email_when_that_batch_commits(writer, make_user, django_capture_on_commit_callbacks):
    people = [make_user() for _ in range(4)]

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        _send(people, batch_size=2)

    assert len(callbacks) == 2
    assert mail.outbox == []


def test_on_postgresql_a_batch_is_a_single_statement(make_user, django_capture_on_commit_callbacks):
    if connection.vendor != "postgresql":
        pytest.skip("the set-based writer is PostgreSQL's")
    people = [make_user() for _ in range(5)]
    services.notification_preferences_set(user=people[0], deliveries={KIND: "off"})
    seen = []

    def wrapper(execute, sql, params, many, context):
        seen.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(wrapper), django_capture_on_commit_callbacks(execute=False):
        _send(people)

    touching = [sql for sql in seen if "portal_notification" in sql]
    assert len(touching) == 1
    assert "INSERT INTO" in touching[0] and "SELECT" in touching[0] and "ON CONFLICT" in touching[0]


def test_a_batch_larger_than_an_email_task_splits_its_email_into_tasks_of_ids(
    writer, make_user, django_capture_on_commit_callbacks, email_tasks, monkeypatch
):
    monkeypatch.setattr(services, "NOTIFICATION_EMAIL_TASK_SIZE", 2)
    people = [make_user() for _ in range(5)]

    with django_capture_on_commit_callbacks(execute=True):
        assert _send(people, batch_size=5) == 5

    assert [len(ids) for ids in email_tasks] == [2, 2, 1]
    assert len(mail.outbox) == 5
