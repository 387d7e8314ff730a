"""Publishing a program update notifies its audience once, in batches, after the publish commits."""

from __future__ import annotations

import math

import pytest
from celery.signals import task_prerun
from django.core import mail

from cms import services as cms_services
from cms.tasks import update_notify_audience
from portal import services
from portal.models import Notification
from portal.notification_kinds import NotificationKind
from portal.roles import Role
from tests.factories import DepartmentFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def tasks_run():
    """The names and arguments of every Celery task run while the test runs."""
    seen = []

    def record(sender=None, args=None, **kwargs):
        seen.append((sender.name, tuple(args or ())))

    task_prerun.connect(record, weak=False)
    yield seen
    task_prerun.disconnect(record)


@pytest.fixture
def oncology():
    return DepartmentFactory(name="Oncology", code="onc")


def _notified(update) -> set[int]:
    return set(Notification.objects.filter(event_key=update.event_key).values_list("recipient_id", flat=True))


def test_publishing_enqueues_the_audience_job_only_after_commit(
    make_user, add_update, django_capture_on_commit_callbacks, tasks_run
):
    person = make_user(Role.CLINICIAN)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        update = add_update()
    assert Notification.objects.count() == 0
    assert tasks_run == []

    for callback in callbacks:
        callback()
    assert ("cms.tasks.update_notify_audience", (update.pk,)) in tasks_run
    assert person.pk in _notified(update)


def test_a_department_update_notifies_its_department_and_nobody_else(
    make_user, add_update, oncology, django_capture_on_commit_callbacks
):
    member = make_user(Role.CLINICIAN, department=oncology)
    outsider = make_user(Role.CLINICIAN)

    with django_capture_on_commit_callbacks(execute=True):
        update = add_update(departments=[oncology])

    assert _notified(update) == {member.pk}
    assert [m.to for m in mail.outbox] == [[member.email]]
    assert outsider.email not in str([m.to for m in mail.outbox])


def test_publishing_again_notifies_nobody_twice(make_user, add_update, django_capture_on_commit_callbacks):
    people = [make_user(Role.CLINICIAN) for _ in range(3)]
    with django_capture_on_commit_callbacks(execute=True):
        update = add_update()

    with django_capture_on_commit_callbacks(execute=True):
        update.title = "New turnaround targets (corrected)"
        update.save_revision().publish()

    assert Notification.objects.filter(event_key=update.event_key).count() == len(people)
    assert len(mail.outbox) == len(people)


def test_running_the_job_twice_notifies_nobody_twice(make_user, add_update, django_capture_on_commit_callbacks):
    make_user(Role.CLINICIAN)
    make_user(Role.REVIEWER)
    update = add_update()

    with django_capture_on_commit_callbacks(execute=True):
        first = update_notify_audience(update.pk)
    with django_capture_on_commit_callbacks(execute=True):
        second = update_notify_audience(update.pk)

    assert (first, second) == (2, 0)
    assert len(mail.outbox) == 2


def test_republishing_after_widening_the_audience_reaches_only_the_newcomers(
    make_user, add_update, oncology, django_capture_on_commit_callbacks
):
    member = make_user(Role.CLINICIAN, department=oncology)
    other = make_user(Role.CLINICIAN)
    with django_capture_on_commit_callbacks(execute=True):
        update = add_update(departments=[oncology])

    with django_capture_on_commit_callbacks(execute=True):
        update.audience_everyone = True
        update.audience_departments.set([])
        update.save_revision().publish()

    assert _notified(update) == {member.pk, other.pk}
    assert sorted(m.to[0] for m in mail.outbox) == sorted([member.email, other.email])


def test_email_preference_off_keeps_the_in_app_notification_only(
    make_user, add_update, django_capture_on_commit_callbacks
):
    off = make_user(Role.CLINICIAN)
    digest = make_user(Role.CLINICIAN)
    services.notification_preferences_set(user=off, deliveries={NotificationKind.UPDATE_PUBLISHED: "off"})
    services.notification_preferences_set(user=digest, deliveries={NotificationKind.UPDATE_PUBLISHED: "digest"})

    with django_capture_on_commit_callbacks(execute=True):
        update = add_update()

    assert _notified(update) == {off.pk, digest.pk}
    assert mail.outbox == []
    assert Notification.objects.get(recipient=digest).email_delivery == Notification.EmailDelivery.DIGEST


def test_a_critical_update_is_emailed_even_to_people_who_turned_the_email_off(
    make_user, add_update, django_capture_on_commit_callbacks
):
    off = make_user(Role.CLINICIAN)
    services.notification_preferences_set(user=off, deliveries={NotificationKind.UPDATE_PUBLISHED: "off"})

    with django_capture_on_commit_callbacks(execute=True):
        add_update(title="Downtime tonight: use the paper referral form", critical=True)

    assert [m.to for m in mail.outbox] == [[off.email]]
    assert "Critical update: Downtime tonight" in mail.outbox[0].subject


def test_an_expired_update_notifies_nobody(make_user, add_update, django_capture_on_commit_callbacks):
    import datetime

    make_user(Role.CLINICIAN)
    with django_capture_on_commit_callbacks(execute=True):
        update = add_update(expires_on=datetime.date(2020, 1, 1))

    assert _notified(update) == set()


def _bulk_people(n: int, department) -> None:
    """Many people at once (the factory's one-by-one path would take minutes)."""
    from portal.models import Profile, User

    users = User.objects.bulk_create(
        [User(email=f"bulk{i}@riverside.example.org", first_name="Bulk", last_name=str(i)) for i in range(n)]
    )
    Profile.objects.bulk_create([Profile(user=user, department=department) for user in users])


def test_audience_is_notified_in_bulk_batches_with_few_tasks(
    add_update, oncology, django_capture_on_commit_callbacks, tasks_run, monkeypatch, count_queries
):
    monkeypatch.setattr(cms_services, "UPDATE_BATCH_SIZE", 10)
    people = 25
    _bulk_people(people, oncology)

    with count_queries() as queries, django_capture_on_commit_callbacks(execute=True):
        update = add_update(departments=[oncology])

    inserts = [sql for sql in queries if sql.startswith("INSERT") and 'INTO "portal_notification"' in sql]
    assert len(inserts) == math.ceil(people / 10)
    assert len(_notified(update)) == people
    assert len(tasks_run) <= math.ceil(people / 10) + 2
    assert [name for name, _ in tasks_run].count("cms.tasks.update_notify_audience") == 1
    assert len(mail.outbox) == people
