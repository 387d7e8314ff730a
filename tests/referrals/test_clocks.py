"""Service-level clocks: business days, targets, the clock of each step, pauses and breach reports.

All dates are in March 2026 in the portal's time zone (America/New_York, after
the DST change of 8 March): Monday 16, Friday 20, Saturday 21, Monday 23.
"""

from __future__ import annotations

import threading
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from portal.models import Notification
from portal.roles import Role
from referrals import clocks, services
from referrals.models import Holiday, Referral, ReferralEvent, ServiceLevelTarget
from referrals.tasks import find_clock_breaches
from tests.factories import SpecialtyFactory, referral_data
from tests.referrals.conftest import OPINION

NY = ZoneInfo("America/New_York")
Clock = ServiceLevelTarget.Clock


def at(day: int, hour: int = 10, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=NY)


def end_of(day: int) -> datetime:
    return datetime(2026, 3, day, 23, 59, 59, tzinfo=NY)


def _create(cast, when: datetime, **overrides) -> Referral:
    with time_machine.travel(when, tick=False):
        referral, _ = services.referral_create(actor=cast.referrer, data=referral_data(cast.specialty, **overrides))
    return referral


def _fresh(referral) -> Referral:
    return Referral.objects.get(pk=referral.pk)


# --- Business days ------------------------------------------------------------------------


@pytest.mark.django_db
def test_add_business_days_skips_the_weekend():
    assert clocks.add_business_days(at(20), 1) == end_of(23)  # Friday + 1 → Monday
    assert clocks.add_business_days(at(19), 2) == end_of(23)  # Thursday + 2 → Monday


@pytest.mark.django_db
def test_add_business_days_within_a_week_counts_every_day():
    assert clocks.add_business_days(at(16), 2) == end_of(18)  # Monday + 2 → Wednesday


@pytest.mark.django_db
def test_zero_business_days_on_a_business_day_is_the_end_of_that_day():
    assert clocks.add_business_days(at(17, 8), 0) == end_of(17)


@pytest.mark.django_db
def test_zero_business_days_from_a_saturday_is_the_end_of_monday():
    assert clocks.add_business_days(at(21, 14), 0) == end_of(23)


@pytest.mark.django_db
def test_add_business_days_skips_a_configured_holiday():
    Holiday.objects.create(date=date(2026, 3, 23), name="Program office closed")

    assert clocks.add_business_days(at(20), 1) == end_of(24)  # Friday + 1 → Tuesday (Monday closed)
    assert clocks.add_business_days(at(21), 0) == end_of(24)  # Saturday + 0 → Tuesday


@pytest.mark.django_db
def test_business_days_between_counts_across_a_weekend_and_a_holiday():
    Holiday.objects.create(date=date(2026, 3, 23), name="Program office closed")

    # After Thursday 19 up to Tuesday 24: Friday 20 and Tuesday 24 (weekend and Monday skipped).
    assert clocks.business_days_between(at(19), at(24)) == 2
    # Monday to Thursday of one week: Tuesday, Wednesday, Thursday.
    assert clocks.business_days_between(at(16), at(19)) == 3


@pytest.mark.django_db
def test_business_days_between_the_same_day_is_zero():
    assert clocks.business_days_between(at(16, 9), at(16, 17)) == 0


# --- Targets ------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("clock", "urgency", "days"),
    [
        (Clock.TRIAGE, "routine", 2),
        (Clock.TRIAGE, "urgent", 0),
        (Clock.QUEUE, "routine", 2),
        (Clock.QUEUE, "urgent", 2),
        (Clock.REVIEW, "routine", 5),
        (Clock.REVIEW, "urgent", 2),
    ],
)
def test_target_days_default_to_the_product_targets(clock, urgency, days):
    specialty = SpecialtyFactory()

    assert clocks.target_days(clock, specialty.pk, urgency) == days


@pytest.mark.django_db
def test_a_target_for_all_specialties_overrides_the_built_in_default():
    specialty = SpecialtyFactory()
    ServiceLevelTarget.objects.create(clock=Clock.REVIEW, specialty=None, urgency="routine", business_days=7)

    assert clocks.target_days(Clock.REVIEW, specialty.pk, "routine") == 7
    # Only that clock and urgency.
    assert clocks.target_days(Clock.REVIEW, specialty.pk, "urgent") == 2
    assert clocks.target_days(Clock.TRIAGE, specialty.pk, "routine") == 2


@pytest.mark.django_db
def test_a_specialty_target_overrides_the_target_for_all_specialties():
    specialty, other = SpecialtyFactory(), SpecialtyFactory()
    ServiceLevelTarget.objects.create(clock=Clock.REVIEW, specialty=None, urgency="routine", business_days=7)
    ServiceLevelTarget.objects.create(clock=Clock.REVIEW, specialty=specialty, urgency="routine", business_days=3)

    assert clocks.target_days(Clock.REVIEW, specialty.pk, "routine") == 3
    assert clocks.target_days(Clock.REVIEW, other.pk, "routine") == 7


@pytest.mark.django_db
def test_a_specialty_target_overrides_the_built_in_default_without_a_target_for_all():
    specialty, other = SpecialtyFactory(), SpecialtyFactory()
    ServiceLevelTarget.objects.create(clock=Clock.QUEUE, specialty=specialty, urgency="urgent", business_days=0)

    assert clocks.target_days(Clock.QUEUE, specialty.pk, "urgent") == 0
    assert clocks.target_days(Clock.QUEUE, other.pk, "urgent") == 2


@pytest.mark.django_db
def test_a_holiday_added_after_the_calendar_was_read_counts_at_once():
    assert clocks.add_business_days(at(20), 1) == end_of(23)  # reads (and caches) the calendar

    Holiday.objects.create(date=date(2026, 3, 23), name="Program office closed")

    assert clocks.add_business_days(at(20), 1) == end_of(24)


@pytest.mark.django_db
def test_a_deleted_holiday_stops_counting_at_once():
    holiday = Holiday.objects.create(date=date(2026, 3, 23), name="Program office closed")
    assert clocks.add_business_days(at(20), 1) == end_of(24)

    holiday.delete()

    assert clocks.add_business_days(at(20), 1) == end_of(23)


@pytest.mark.django_db
def test_an_edited_target_counts_at_once():
    specialty = SpecialtyFactory()
    target = ServiceLevelTarget.objects.create(
        clock=Clock.REVIEW, specialty=specialty, urgency="routine", business_days=3
    )
    assert clocks.target_days(Clock.REVIEW, specialty.pk, "routine") == 3

    target.business_days = 6
    target.save()

    assert clocks.target_days(Clock.REVIEW, specialty.pk, "routine") == 6


@pytest.mark.django_db
def test_the_calendar_tables_are_read_once_until_they_change():
    specialty = SpecialtyFactory()
    clocks.target_days(Clock.REVIEW, specialty.pk, "routine")

    with CaptureQueriesContext(connection) as captured:
        clocks.target_days(Clock.TRIAGE, specialty.pk, "urgent")
        clocks.add_business_days(at(20), 3)

    calendar_tables = (Holiday._meta.db_table, ServiceLevelTarget._meta.db_table)
    assert not [q["sql"] for q in captured.captured_queries if any(t in q["sql"] for t in calendar_tables)]


# --- The clock of each step ---------------------------------------------------------------


@pytest.mark.django_db
def test_a_new_routine_referral_is_due_at_the_triage_deadline(cast):
    referral = _create(cast, at(16))

    assert _fresh(referral).clock_due_at == end_of(18)


@pytest.mark.django_db
def test_a_new_urgent_referral_is_due_at_the_end_of_the_same_business_day(cast):
    referral = _create(cast, at(16), urgency="urgent")

    assert _fresh(referral).clock_due_at == end_of(16)


@pytest.mark.django_db
def test_a_specialty_triage_target_sets_the_new_referral_deadline(cast):
    ServiceLevelTarget.objects.create(clock=Clock.TRIAGE, specialty=cast.specialty, urgency="routine", business_days=4)

    referral = _create(cast, at(16))

    assert _fresh(referral).clock_due_at == end_of(20)


@pytest.mark.django_db
def test_accept_restarts_the_clock_as_the_queue_clock(cast):
    referral = _create(cast, at(16))

    with time_machine.travel(at(17), tick=False):
        services.referral_accept(referral_id=referral.pk, actor=cast.coordinator)

    assert _fresh(referral).clock_due_at == end_of(19)  # Tuesday + 2


@pytest.mark.django_db
def test_claim_stops_the_clock(cast):
    referral = _create(cast, at(16))
    with time_machine.travel(at(17), tick=False):
        services.referral_accept(referral_id=referral.pk, actor=cast.coordinator)
        services.referral_claim(referral_id=referral.pk, actor=cast.reviewer)

    assert _fresh(referral).clock_due_at is None


@pytest.mark.django_db
def test_start_review_starts_the_review_clock(cast):
    referral = _create(cast, at(16))
    with time_machine.travel(at(17), tick=False):
        services.referral_accept(referral_id=referral.pk, actor=cast.coordinator)
        services.referral_claim(referral_id=referral.pk, actor=cast.reviewer)
    with time_machine.travel(at(18), tick=False):
        services.referral_start_review(referral_id=referral.pk, actor=cast.reviewer)

    assert _fresh(referral).clock_due_at == end_of(25)  # Wednesday + 5 → next Wednesday


@pytest.mark.django_db
def test_deliver_opinion_stops_the_review_clock(cast):
    referral = _create(cast, at(16))
    with time_machine.travel(at(17), tick=False):
        services.referral_accept(referral_id=referral.pk, actor=cast.coordinator)
        services.referral_claim(referral_id=referral.pk, actor=cast.reviewer)
        services.referral_start_review(referral_id=referral.pk, actor=cast.reviewer)
    with time_machine.travel(at(19), tick=False):
        services.referral_deliver_opinion(referral_id=referral.pk, actor=cast.reviewer, opinion=OPINION)

    assert _fresh(referral).clock_due_at is None


@pytest.mark.django_db
def test_release_restarts_the_queue_clock(cast):
    referral = _create(cast, at(16))
    with time_machine.travel(at(16, 11), tick=False):
        services.referral_accept(referral_id=referral.pk, actor=cast.coordinator)
        services.referral_claim(referral_id=referral.pk, actor=cast.reviewer)
    with time_machine.travel(at(19), tick=False):
        services.referral_release(referral_id=referral.pk, actor=cast.reviewer, reason="Conflict of interest")

    assert _fresh(referral).clock_due_at == end_of(23)  # Thursday + 2 → Monday


# --- Pauses -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_requesting_information_pauses_the_clock(cast):
    referral = _create(cast, at(16))

    with time_machine.travel(at(16, 11), tick=False):
        services.referral_request_info(referral_id=referral.pk, actor=cast.coordinator, question="Which imaging?")

    referral = _fresh(referral)
    assert referral.clock_paused_at == at(16, 11)
    assert referral.clock_due_at == end_of(18)


@pytest.mark.django_db
def test_answering_three_business_days_later_moves_the_deadline_out_by_three_business_days(cast):
    referral = _create(cast, at(16))  # due Wednesday 18
    with time_machine.travel(at(16, 11), tick=False):
        services.referral_request_info(referral_id=referral.pk, actor=cast.coordinator, question="Which imaging?")

    with time_machine.travel(at(19), tick=False):  # Thursday: Tuesday, Wednesday, Thursday spent waiting
        services.referral_answer_info(referral_id=referral.pk, actor=cast.referrer, answer="CT from March")

    referral = _fresh(referral)
    assert referral.clock_paused_at is None
    assert referral.clock_due_at == end_of(23)  # Wednesday + 3 → Thursday, Friday, Monday


@pytest.mark.django_db
def test_a_hold_pauses_the_clock_and_clearing_it_moves_the_deadline_out(cast):
    referral = _create(cast, at(16))
    with time_machine.travel(at(16, 11), tick=False):
        services.referral_hold(referral_id=referral.pk, actor=cast.coordinator, reason="awaiting_patient")
    assert _fresh(referral).clock_paused_at == at(16, 11)

    with time_machine.travel(at(19), tick=False):
        services.referral_clear_hold(referral_id=referral.pk, actor=cast.coordinator)

    referral = _fresh(referral)
    assert referral.clock_paused_at is None
    assert referral.clock_due_at == end_of(23)


@pytest.mark.django_db
def test_with_both_flags_set_clearing_one_keeps_the_clock_paused(cast):
    referral = _create(cast, at(16))
    with time_machine.travel(at(16, 11), tick=False):
        services.referral_request_info(referral_id=referral.pk, actor=cast.coordinator, question="Which imaging?")
        services.referral_hold(referral_id=referral.pk, actor=cast.coordinator, reason="awaiting_records")

    with time_machine.travel(at(17), tick=False):
        services.referral_answer_info(referral_id=referral.pk, actor=cast.referrer, answer="CT from March")

    referral = _fresh(referral)
    assert referral.clock_paused_at == at(16, 11)
    assert referral.clock_due_at == end_of(18)


@pytest.mark.django_db
def test_with_both_flags_set_clearing_the_second_resumes_from_the_first_pause(cast):
    referral = _create(cast, at(16))
    with time_machine.travel(at(16, 11), tick=False):
        services.referral_request_info(referral_id=referral.pk, actor=cast.coordinator, question="Which imaging?")
        services.referral_hold(referral_id=referral.pk, actor=cast.coordinator, reason="awaiting_records")
    with time_machine.travel(at(17), tick=False):
        services.referral_answer_info(referral_id=referral.pk, actor=cast.referrer, answer="CT from March")

    with time_machine.travel(at(19), tick=False):
        services.referral_clear_hold(referral_id=referral.pk, actor=cast.coordinator)

    referral = _fresh(referral)
    assert referral.clock_paused_at is None
    assert referral.clock_due_at == end_of(23)


# --- Breach reports -----------------------------------------------------------------------


def _breaches(referral) -> list[ReferralEvent]:
    return list(ReferralEvent.objects.filter(referral=referral, kind=ReferralEvent.Kind.CLOCK_BREACHED).order_by("id"))


def _breach_notifications(referral, clock: str) -> list[int]:
    return sorted(
        Notification.objects.filter(verb=f"{referral.reference} is past its {clock} target").values_list(
            "recipient_id", flat=True
        )
    )


@pytest.fixture
def coordinators(cast, make_user):
    """Two coordinators, so 'one notification per recipient' means something."""
    return sorted([cast.coordinator.pk, make_user(Role.COORDINATOR).pk])


@pytest.mark.django_db
def test_a_referral_past_its_deadline_is_reported_once_when_the_task_runs_twice(
    cast, coordinators, django_capture_on_commit_callbacks
):
    referral = _create(cast, at(16))  # triage due end of Wednesday 18

    with time_machine.travel(at(19), tick=False), django_capture_on_commit_callbacks(execute=True):
        first = find_clock_breaches()
        second = find_clock_breaches()

    assert (first, second) == (1, 0)
    [event] = _breaches(referral)
    assert event.detail["clock"] == Clock.TRIAGE
    assert event.actor is None
    assert _breach_notifications(referral, "triage") == coordinators
    assert _fresh(referral).clock_breach_notified_at == at(19)


@pytest.mark.django_db
def test_a_referral_not_yet_past_its_deadline_is_not_reported(cast, coordinators, django_capture_on_commit_callbacks):
    referral = _create(cast, at(16))

    with time_machine.travel(at(18, 23, 30), tick=False), django_capture_on_commit_callbacks(execute=True):
        assert find_clock_breaches() == 0

    assert _breaches(referral) == []
    assert _breach_notifications(referral, "triage") == []


@pytest.mark.django_db
def test_a_paused_referral_is_not_reported(cast, coordinators, django_capture_on_commit_callbacks):
    referral = _create(cast, at(16))
    with time_machine.travel(at(16, 11), tick=False):
        services.referral_request_info(referral_id=referral.pk, actor=cast.coordinator, question="Which imaging?")

    with time_machine.travel(at(24), tick=False), django_capture_on_commit_callbacks(execute=True):
        assert find_clock_breaches() == 0

    assert _breaches(referral) == []
    assert _breach_notifications(referral, "triage") == []


@pytest.mark.django_db
def test_a_referral_without_a_running_clock_is_not_reported(cast, coordinators, django_capture_on_commit_callbacks):
    referral = _create(cast, at(16))
    with time_machine.travel(at(16, 11), tick=False):
        services.referral_accept(referral_id=referral.pk, actor=cast.coordinator)
        services.referral_claim(referral_id=referral.pk, actor=cast.reviewer)

    with time_machine.travel(at(30), tick=False), django_capture_on_commit_callbacks(execute=True):
        assert find_clock_breaches() == 0

    assert _breaches(referral) == []


@pytest.mark.django_db
def test_after_the_step_changes_a_breach_of_the_new_clock_is_reported_once_more(
    cast, coordinators, django_capture_on_commit_callbacks
):
    referral = _create(cast, at(16))
    with time_machine.travel(at(19), tick=False), django_capture_on_commit_callbacks(execute=True):
        assert find_clock_breaches() == 1  # triage missed
    with time_machine.travel(at(19, 11), tick=False):
        services.referral_accept(referral_id=referral.pk, actor=cast.coordinator)  # queue due end of Monday 23

    with time_machine.travel(at(24), tick=False), django_capture_on_commit_callbacks(execute=True):
        assert find_clock_breaches() == 1
        assert find_clock_breaches() == 0

    assert [e.detail["clock"] for e in _breaches(referral)] == [Clock.TRIAGE, Clock.QUEUE]
    assert _breach_notifications(referral, "triage") == coordinators
    assert _breach_notifications(referral, "queue") == coordinators


@pytest.mark.django_db
def test_a_review_clock_breach_also_notifies_the_owner(cast, coordinators, django_capture_on_commit_callbacks):
    referral = _create(cast, at(16))
    with time_machine.travel(at(16, 11), tick=False):
        services.referral_accept(referral_id=referral.pk, actor=cast.coordinator)
        services.referral_claim(referral_id=referral.pk, actor=cast.reviewer)
        services.referral_start_review(referral_id=referral.pk, actor=cast.reviewer)  # due Monday 23

    with time_machine.travel(at(24), tick=False), django_capture_on_commit_callbacks(execute=True):
        assert find_clock_breaches() == 1

    assert _breach_notifications(referral, "review") == sorted([*coordinators, cast.reviewer.pk])


@pytest.mark.postgres
def test_two_overlapping_breach_runs_report_a_breach_once(transactional_db, cast, make_user, monkeypatch):
    """Run A holds the referral row while run B scans; B must skip it, and A reports it once."""
    second_coordinator = make_user(Role.COORDINATOR)
    referral = _create(cast, at(16))
    a_holds_the_row = threading.Event()
    b_is_done = threading.Event()
    original_create = ReferralEvent.objects.create

    def create_while_b_runs(**kwargs):
        if threading.current_thread().name == "breach-run-a":
            a_holds_the_row.set()
            assert b_is_done.wait(timeout=15)
        return original_create(**kwargs)

    monkeypatch.setattr(ReferralEvent.objects, "create", create_while_b_runs)
    found = {}

    def run(name, wait_for=None):
        try:
            if wait_for is not None:
                assert wait_for.wait(timeout=15)
            found[name] = find_clock_breaches()
        except Exception as exc:  # reported below
            found[name] = exc
        finally:
            if name == "breach-run-b":
                b_is_done.set()
            connection.close()

    with time_machine.travel(at(19), tick=False):
        threads = [
            threading.Thread(target=run, name="breach-run-a", args=("breach-run-a",)),
            threading.Thread(target=run, name="breach-run-b", args=("breach-run-b", a_holds_the_row)),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)

    assert found == {"breach-run-a": 1, "breach-run-b": 0}
    assert len(_breaches(referral)) == 1
    assert _breach_notifications(referral, "triage") == sorted([cast.coordinator.pk, second_coordinator.pk])


@pytest.mark.django_db
def test_a_pause_after_a_breach_keeps_it_reported_once_while_still_past_due(
    cast, coordinators, django_capture_on_commit_callbacks
):
    referral = _create(cast, at(16))  # triage due end of Wednesday 18
    with time_machine.travel(at(19), tick=False), django_capture_on_commit_callbacks(execute=True):
        assert find_clock_breaches() == 1
        services.referral_request_info(referral_id=referral.pk, actor=cast.coordinator, question="Which side?")
    with time_machine.travel(at(24), tick=False), django_capture_on_commit_callbacks(execute=True):
        # Paused Thursday 19 → Tuesday 24 (3 business days): due end of Monday 23, still past.
        services.referral_answer_info(referral_id=referral.pk, actor=cast.referrer, answer="Left")
        assert find_clock_breaches() == 0

    referral = _fresh(referral)
    assert referral.clock_due_at == end_of(23)
    assert referral.clock_breach_notified_at is not None
    assert len(_breaches(referral)) == 1
