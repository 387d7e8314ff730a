"""Notification centre, unread badge, e-mail per preference, daily digest."""

from __future__ import annotations

import pytest
from django.core import mail
from django.urls import reverse

from portal import services
from portal.models import Notification, NotificationPreference
from portal.notification_kinds import NotificationKind
from portal.tasks import email_notifications, send_daily_digests, sweep_unsent_emails

pytestmark = pytest.mark.django_db


def _send(recipients, *, event_key="referral:1:claimed", kind=NotificationKind.REFERRAL_PROGRESS, **kwargs):
    return services.notification_send(
        kind=kind,
        event_key=event_key,
        recipient_ids=[r.pk for r in recipients],
        verb="Referral SO-2026-000001 was claimed by a reviewer",
        link="/referrals/1/",
        **kwargs,
    )


def test_sending_the_same_event_twice_notifies_each_person_once(make_user, django_capture_on_commit_callbacks):
    people = [make_user() for _ in range(3)]

    with django_capture_on_commit_callbacks(execute=True):
        assert _send(people) == 3
    with django_capture_on_commit_callbacks(execute=True):
        assert _send(people) == 0

    assert Notification.objects.count() == 3
    assert len(mail.outbox) == 3


def test_email_is_sent_only_after_the_transaction_commits(make_user, django_capture_on_commit_callbacks):
    person = make_user()

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        _send([person])
    assert mail.outbox == []
    assert len(callbacks) == 1

    callbacks[0]()
    assert len(mail.outbox) == 1


def test_preferences_decide_immediate_digest_or_no_email(make_user, django_capture_on_commit_callbacks):
    immediate, digest, off = make_user(), make_user(), make_user()
    services.notification_preferences_set(user=digest, deliveries={NotificationKind.REFERRAL_PROGRESS: "digest"})
    services.notification_preferences_set(user=off, deliveries={NotificationKind.REFERRAL_PROGRESS: "off"})

    with django_capture_on_commit_callbacks(execute=True):
        _send([immediate, digest, off])

    assert [m.to for m in mail.outbox] == [[immediate.email]]
    assert Notification.objects.filter(recipient=off).get().email_delivery == "none"
    # Everyone still sees it in the portal.
    assert Notification.objects.filter(unread=True).count() == 3


def test_critical_messages_are_emailed_even_when_the_kind_is_off(make_user, django_capture_on_commit_callbacks):
    person = make_user()
    services.notification_preferences_set(user=person, deliveries={NotificationKind.UPDATE_PUBLISHED: "off"})

    with django_capture_on_commit_callbacks(execute=True):
        _send([person], kind=NotificationKind.UPDATE_PUBLISHED, event_key="update:7:published", force_email=True)

    assert [m.to for m in mail.outbox] == [[person.email]]


def test_an_in_app_only_notification_is_never_emailed_whatever_the_preference(
    make_user, django_capture_on_commit_callbacks
):
    immediate, digest = make_user(), make_user()
    services.notification_preferences_set(user=digest, deliveries={NotificationKind.GENERAL: "digest"})

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        _send([immediate, digest], kind=NotificationKind.GENERAL, event_key="update:7:live", email=False)

    assert Notification.objects.filter(event_key="update:7:live").count() == 2
    assert set(Notification.objects.values_list("email_delivery", flat=True)) == {Notification.EmailDelivery.NONE}
    assert callbacks == []  # not even an e-mail task queued
    assert mail.outbox == []


def test_daily_digest_gathers_pending_items_in_one_mail_and_runs_once(make_user, django_capture_on_commit_callbacks):
    person = make_user()
    services.notification_preferences_set(user=person, deliveries={NotificationKind.REFERRAL_PROGRESS: "digest"})
    with django_capture_on_commit_callbacks(execute=True):
        _send([person], event_key="referral:1:claimed")
        _send([person], event_key="referral:2:claimed")

    assert send_daily_digests() == 1
    assert send_daily_digests() == 0

    assert len(mail.outbox) == 1
    assert "2 update(s)" in mail.outbox[0].subject
    assert mail.outbox[0].body.count("SO-2026-000001") == 2


def test_email_task_run_twice_sends_once(make_user, django_capture_on_commit_callbacks):
    person = make_user()
    with django_capture_on_commit_callbacks(execute=False):
        _send([person])
    notification_id = Notification.objects.get().pk

    email_notifications([notification_id])
    email_notifications([notification_id])

    assert len(mail.outbox) == 1
    assert Notification.objects.get().emailed_at is not None


def test_sweep_queues_immediate_mails_whose_task_was_lost(make_user, django_capture_on_commit_callbacks):
    import time_machine
    from django.utils import timezone

    person = make_user()
    with django_capture_on_commit_callbacks(execute=False):
        _send([person])  # the enqueue callback is dropped: as if the broker was down

    with time_machine.travel(timezone.now() + timezone.timedelta(minutes=6)):
        assert sweep_unsent_emails() == 1

    assert len(mail.outbox) == 1


def test_unknown_kind_in_preferences_is_refused(make_user):
    with pytest.raises(ValueError):
        services.notification_preferences_set(user=make_user(), deliveries={"made_up": "off"})


# --- Views ------------------------------------------------------------------------


@pytest.fixture
def person_with_notifications(make_user, two_factor_ready, django_capture_on_commit_callbacks):
    person = make_user()
    with django_capture_on_commit_callbacks(execute=True):
        for i in range(3):
            _send([person], event_key=f"referral:{i}:claimed")
    return person, two_factor_ready(person)


def test_badge_shows_the_unread_count(person_with_notifications):
    _, client = person_with_notifications

    response = client.get(reverse("notification_badge"), HTTP_HX_REQUEST="true")

    assert response.status_code == 200
    assert 'data-count="3"' in response.content.decode()


def test_mark_one_read_then_all_read(person_with_notifications):
    person, client = person_with_notifications
    first = Notification.objects.filter(recipient=person).first()

    assert client.get(reverse("notifications:mark_as_read", args=[first.slug])).status_code == 405  # POST only
    response = client.post(reverse("notifications:mark_as_read", args=[first.slug]), {"next": "/notifications/"})
    assert response["Location"] == "/notifications/"
    assert Notification.objects.filter(recipient=person, unread=True).count() == 2

    client.post(reverse("notifications:mark_all_as_read"))
    assert Notification.objects.filter(recipient=person, unread=True).count() == 0


def test_nobody_can_mark_someone_elses_notification(person_with_notifications, make_user, two_factor_ready):
    person, _ = person_with_notifications
    theirs = Notification.objects.filter(recipient=person).first()
    other_client = two_factor_ready(make_user())

    other_client.post(reverse("notifications:mark_as_read", args=[theirs.slug]))

    theirs.refresh_from_db()
    assert theirs.unread is True


def test_opening_a_notification_marks_it_read_and_follows_its_link(person_with_notifications):
    person, client = person_with_notifications
    first = Notification.objects.filter(recipient=person).first()

    listed = client.get(reverse("notification_list")).content.decode()
    assert f'href="{reverse("notification_open", args=[first.pk])}"' in listed

    response = client.get(reverse("notification_open", args=[first.pk]))
    assert response.status_code == 302 and response["Location"] == "/referrals/1/"
    first.refresh_from_db()
    assert first.unread is False
    assert Notification.objects.filter(recipient=person, unread=True).count() == 2
    # Opening it again still leads there.
    assert client.get(reverse("notification_open", args=[first.pk]))["Location"] == "/referrals/1/"


def test_nobody_can_open_someone_elses_notification(person_with_notifications, make_user, two_factor_ready):
    person, _ = person_with_notifications
    theirs = Notification.objects.filter(recipient=person).first()
    other_client = two_factor_ready(make_user())

    assert other_client.get(reverse("notification_open", args=[theirs.pk])).status_code == 404
    theirs.refresh_from_db()
    assert theirs.unread is True


def test_a_notification_whose_link_leaves_the_portal_opens_the_centre_instead(person_with_notifications):
    person, client = person_with_notifications
    odd = Notification.objects.filter(recipient=person).first()
    Notification.objects.filter(pk=odd.pk).update(link="https://elsewhere.example.com/")

    response = client.get(reverse("notification_open", args=[odd.pk]))

    assert response.status_code == 302 and response["Location"] == reverse("notification_list")


def test_notification_list_query_count_does_not_grow(person_with_notifications, django_assert_max_num_queries):
    person, client = person_with_notifications
    # Session, user, roles, two counts, the page of notifications, session save
    # (and on the SQLite database cache its bookkeeping).
    with django_assert_max_num_queries(14):
        first = client.get(reverse("notification_list"))
    for i in range(30):
        _send([person], event_key=f"more:{i}")
    with django_assert_max_num_queries(14):
        second = client.get(reverse("notification_list"))

    assert first.status_code == second.status_code == 200
    assert "Referral SO-2026-000001 was claimed" in second.content.decode()


def test_preferences_page_saves_choices(person_with_notifications):
    person, client = person_with_notifications
    data = {kind.value: "immediate" for kind in NotificationKind}
    data[NotificationKind.CASE_OPEN] = "digest"

    response = client.post(reverse("notification_preferences"), data)

    assert response.status_code == 302
    assert NotificationPreference.objects.get(user=person, kind=NotificationKind.CASE_OPEN).delivery == "digest"


def test_preferences_page_rejects_an_invalid_choice_and_saves_nothing(person_with_notifications):
    person, client = person_with_notifications
    data = {kind.value: "immediate" for kind in NotificationKind}
    data[NotificationKind.CASE_OPEN] = "hourly"

    response = client.post(reverse("notification_preferences"), data)

    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert not NotificationPreference.objects.filter(user=person).exists()
