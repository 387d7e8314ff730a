"""Who hears about each step of a referral, and that what they hear carries no patient data.

Every service call runs inside ``django_capture_on_commit_callbacks(execute=True)``
so the on-commit task (``notify_referral_event``) and the e-mail task it queues
run as they would after a real commit.
"""

from __future__ import annotations

import functools

import pytest
from django.core import mail

from portal.models import Notification
from portal.notification_kinds import NotificationKind
from portal.roles import Role
from referrals import services
from referrals.models import CreditEntry, ReferralEvent
from referrals.tasks import notify_credit_entry, notify_referral_event
from referrals.workflow import Status
from tests.factories import PATIENT_MARKER, referral_data
from tests.referrals.conftest import OPINION, walk_to

pytestmark = pytest.mark.django_db

MRN = "MRN-0042"  # tests.factories.referral_data's record number


@pytest.fixture
def second_coordinator(make_user):
    return make_user(Role.COORDINATOR)


@pytest.fixture
def notified(django_capture_on_commit_callbacks):
    """Run one service call with its on-commit tasks; return who was notified of the event it wrote."""

    def _notified(call) -> set[int]:
        last = ReferralEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
        with django_capture_on_commit_callbacks(execute=True):
            call()
        [event] = ReferralEvent.objects.filter(id__gt=last)
        return set(
            Notification.objects.filter(event_key__startswith=f"referral-event:{event.pk}:").values_list(
                "recipient_id", flat=True
            )
        )

    return _notified


def _ids(*people) -> set[int]:
    return {person.pk for person in people}


# --- Who is told --------------------------------------------------------------------------


def test_a_new_referral_notifies_every_coordinator_and_nobody_else(cast, second_coordinator, notified):
    recipients = notified(lambda: services.referral_create(actor=cast.referrer, data=referral_data(cast.specialty)))

    assert recipients == _ids(cast.coordinator, second_coordinator)


def test_acceptance_notifies_the_reviewers_of_the_specialty_and_the_referrer(cast, new_referral, notified):
    referral = new_referral()

    recipients = notified(lambda: services.referral_accept(referral_id=referral.pk, actor=cast.coordinator))

    assert recipients == _ids(cast.reviewer, cast.second_reviewer, cast.referrer)
    assert cast.other_reviewer.pk not in recipients


def test_acceptance_tells_reviewers_the_case_is_open_and_the_referrer_it_was_accepted(cast, new_referral, notified):
    referral = new_referral()

    notified(lambda: services.referral_accept(referral_id=referral.pk, actor=cast.coordinator))

    told = Notification.objects.filter(event_key__startswith="referral-event:", verb__contains=referral.reference)
    verbs = dict(told.values_list("recipient_id", "verb"))
    assert verbs[cast.reviewer.pk] == f"Case {referral.reference} is open in the Cardiology queue"
    assert verbs[cast.referrer.pk] == f"Your referral {referral.reference} was accepted"


def test_a_claim_notifies_the_referrer_only(cast, referral_in, notified):
    referral = referral_in(Status.ACCEPTED)

    recipients = notified(lambda: services.referral_claim(referral_id=referral.pk, actor=cast.reviewer))

    assert recipients == _ids(cast.referrer)


def test_an_assignment_notifies_the_referrer_and_the_assigned_reviewer(cast, referral_in, notified):
    referral = referral_in(Status.ACCEPTED)

    recipients = notified(
        lambda: services.referral_assign(referral_id=referral.pk, actor=cast.coordinator, reviewer=cast.second_reviewer)
    )

    assert recipients == _ids(cast.referrer, cast.second_reviewer)


def test_a_delivered_opinion_notifies_the_referrer_and_the_coordinators(
    cast, second_coordinator, referral_in, notified
):
    referral = referral_in(Status.IN_REVIEW)

    recipients = notified(
        lambda: services.referral_deliver_opinion(referral_id=referral.pk, actor=cast.reviewer, opinion=OPINION)
    )

    assert recipients == _ids(cast.referrer, cast.coordinator, second_coordinator)


def test_the_referrer_is_told_the_opinion_is_ready(cast, referral_in, notified):
    referral = referral_in(Status.IN_REVIEW)

    notified(lambda: services.referral_deliver_opinion(referral_id=referral.pk, actor=cast.reviewer, opinion=OPINION))

    told = Notification.objects.filter(event_key__startswith="referral-event:", verb__contains=referral.reference)
    assert told.get(recipient=cast.referrer).verb == (f"The second opinion for {referral.reference} is ready")


def test_a_declined_referral_notifies_the_referrer(cast, second_coordinator, new_referral, notified):
    referral = new_referral()

    recipients = notified(
        lambda: services.referral_decline(referral_id=referral.pk, actor=cast.coordinator, reason="Out of scope")
    )

    assert recipients == _ids(cast.referrer)


def test_a_referral_cancelled_by_a_coordinator_notifies_the_referrer(cast, second_coordinator, referral_in, notified):
    referral = referral_in(Status.ACCEPTED)

    recipients = notified(
        lambda: services.referral_cancel(referral_id=referral.pk, actor=cast.coordinator, reason="Patient withdrew")
    )

    assert cast.referrer.pk in recipients
    assert cast.coordinator.pk not in recipients


# --- The actor is not told of their own move ----------------------------------------------


def test_a_coordinator_who_refers_is_not_told_of_their_own_new_referral(cast, second_coordinator, make_user, notified):
    referring_coordinator = make_user(Role.CLINICIAN, Role.COORDINATOR)

    recipients = notified(
        lambda: services.referral_create(actor=referring_coordinator, data=referral_data(cast.specialty))
    )

    assert recipients == _ids(cast.coordinator, second_coordinator)


def test_a_reviewer_claiming_their_own_referral_is_not_told_it_was_claimed(cast, notified):
    # cast.reviewer is also a clinician, so they can refer into their own specialty.
    referral, _ = services.referral_create(actor=cast.reviewer, data=referral_data(cast.specialty))
    services.referral_accept(referral_id=referral.pk, actor=cast.coordinator)

    recipients = notified(lambda: services.referral_claim(referral_id=referral.pk, actor=cast.reviewer))

    assert recipients == set()


def test_a_referrer_cancelling_is_not_told_of_their_own_cancellation(cast, second_coordinator, new_referral, notified):
    referral = new_referral()

    recipients = notified(
        lambda: services.referral_cancel(referral_id=referral.pk, actor=cast.referrer, reason="Sent by mistake")
    )

    assert cast.referrer.pk not in recipients
    assert recipients == _ids(cast.coordinator, second_coordinator)


# --- Idempotence --------------------------------------------------------------------------


def test_running_the_notification_task_twice_for_an_event_creates_nothing_new(
    cast, new_referral, notified, django_capture_on_commit_callbacks
):
    referral = new_referral()
    notified(lambda: services.referral_accept(referral_id=referral.pk, actor=cast.coordinator))
    event = ReferralEvent.objects.filter(referral=referral).latest("id")
    notifications, emails = Notification.objects.count(), len(mail.outbox)
    assert notifications > 0 and emails > 0

    with django_capture_on_commit_callbacks(execute=True):
        assert notify_referral_event(event.pk) == 0

    assert Notification.objects.count() == notifications
    assert len(mail.outbox) == emails


# --- No patient data ----------------------------------------------------------------------


@pytest.fixture
def whole_story(cast, new_referral, django_capture_on_commit_callbacks):
    """One referral through every step and flag that notifies someone; returns (referral, on-commit callbacks)."""
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        referral = new_referral()
        rid = referral.pk
        services.referral_request_info(referral_id=rid, actor=cast.coordinator, question="Which imaging?")
        services.referral_answer_info(referral_id=rid, actor=cast.referrer, answer="CT from March")
        walk_to(Status.CLAIMED, cast, referral)
        services.referral_add_note(referral_id=rid, actor=cast.coordinator, body="Patient prefers mornings")
        services.referral_release(referral_id=rid, actor=cast.reviewer, reason="Conflict of interest")
        services.referral_assign(referral_id=rid, actor=cast.coordinator, reviewer=cast.reviewer)
        services.referral_reassign(referral_id=rid, actor=cast.coordinator, reviewer=cast.second_reviewer, reason="x")
        services.referral_start_review(referral_id=rid, actor=cast.second_reviewer)
        services.referral_deliver_opinion(referral_id=rid, actor=cast.second_reviewer, opinion=OPINION)
        services.referral_close(referral_id=rid, actor=cast.coordinator, outcome={"downstream_outcome": "returned"})
    referral.refresh_from_db()
    return referral, callbacks


def test_every_notification_names_the_reference_and_no_patient_data(whole_story):
    referral, _ = whole_story
    notifications = list(Notification.objects.all())

    assert len({n.event_key.split(":")[1] for n in notifications}) >= 10  # most steps told someone
    for notification in notifications:
        text = f"{notification.verb} {notification.link} {notification.description or ''}"
        assert referral.reference in notification.verb, notification.verb
        assert PATIENT_MARKER not in text, text
        assert MRN not in text, text


def test_every_email_names_the_reference_and_no_patient_data(whole_story):
    referral, _ = whole_story

    assert len(mail.outbox) == Notification.objects.count()
    for message in mail.outbox:
        text = f"{message.subject}\n{message.body}"
        assert referral.reference in message.subject, message.subject
        assert referral.reference in message.body, message.body
        assert PATIENT_MARKER not in text, text
        assert MRN not in text, text


def test_notification_and_email_tasks_are_queued_with_ids_only(whole_story):
    _, callbacks = whole_story
    queued: dict[str, list] = {}
    for callback in callbacks:
        assert isinstance(callback, functools.partial), callback
        task = callback.func.__self__
        queued.setdefault(task.name, []).append((callback.args, callback.keywords))

    assert set(queued) == {
        "referrals.tasks.notify_referral_event",
        "referrals.tasks.notify_credit_entry",
        "portal.tasks.email_notifications",
    }
    for args, keywords in (
        queued["referrals.tasks.notify_referral_event"] + queued["referrals.tasks.notify_credit_entry"]
    ):
        assert keywords == {}
        assert len(args) == 1 and type(args[0]) is int
    for args, keywords in queued["portal.tasks.email_notifications"]:
        assert keywords == {}
        assert len(args) == 1 and args[0] and all(type(i) is int for i in args[0])


# --- Credit earned ------------------------------------------------------------------------


def _credit_notices(person) -> list[Notification]:
    return list(Notification.objects.filter(recipient=person, event_key__startswith="credit-entry:").order_by("id"))


def test_accepting_a_referral_tells_the_referrer_the_point_they_earned(cast, new_referral, notified):
    referral = new_referral()

    notified(lambda: services.referral_accept(referral_id=referral.pk, actor=cast.coordinator))

    [notice] = _credit_notices(cast.referrer)
    assert notice.kind == NotificationKind.CREDIT_EARNED
    assert notice.verb == f"You earned 1 point of credit: Referral accepted: {referral.reference}"
    assert notice.link == "/impact/"
    assert _credit_notices(cast.coordinator) == []


def test_a_delivered_opinion_tells_the_referrer_and_the_reviewer_each_of_their_credit(cast, referral_in, notified):
    referral = referral_in(Status.IN_REVIEW)

    notified(lambda: services.referral_deliver_opinion(referral_id=referral.pk, actor=cast.reviewer, opinion=OPINION))

    assert [n.verb for n in _credit_notices(cast.referrer)] == [
        f"You earned 2 points of credit: Opinion delivered to you: {referral.reference}"
    ]
    [reviewer_notice] = _credit_notices(cast.reviewer)
    assert referral.reference in reviewer_notice.verb and "You earned" in reviewer_notice.verb


def test_a_cancellation_tells_the_referrer_their_credit_was_taken_back(cast, referral_in, notified):
    referral = referral_in(Status.ACCEPTED)

    notified(lambda: services.referral_cancel(referral_id=referral.pk, actor=cast.coordinator, reason="Withdrew"))

    # (The walk to accepted ran without its on-commit tasks, so only the reversal is told here.)
    [notice] = _credit_notices(cast.referrer)
    assert notice.verb == f"1 point of credit taken back: Reversed (cancel): {referral.reference}"


def test_running_the_credit_notice_twice_tells_nobody_twice(cast, new_referral, notified):
    referral = new_referral()
    notified(lambda: services.referral_accept(referral_id=referral.pk, actor=cast.coordinator))
    entry = CreditEntry.objects.get(referral=referral)

    assert notify_credit_entry(entry.pk) == 0
    assert len(_credit_notices(cast.referrer)) == 1


def test_a_transition_that_rolls_back_tells_nobody_of_credit(
    cast, new_referral, monkeypatch, django_capture_on_commit_callbacks
):
    referral = new_referral()

    def broken_event(*args, **kwargs):
        raise RuntimeError("the event row could not be written")

    monkeypatch.setattr(services, "_event", broken_event)
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError):
        services.referral_accept(referral_id=referral.pk, actor=cast.coordinator)

    assert CreditEntry.objects.count() == 0
    assert _credit_notices(cast.referrer) == []
