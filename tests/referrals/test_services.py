"""The referral services one by one: what each writes, what each refuses, and that a refusal writes nothing."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import DatabaseError, transaction

from referrals import services
from referrals.models import PatientDataAccess, ReferenceCounter, Referral, ReferralEvent
from referrals.services import ReferralError
from referrals.workflow import Action, Status
from tests.factories import referral_data
from tests.referrals.conftest import OPINION, walk_to

pytestmark = pytest.mark.django_db

NY = ZoneInfo("America/New_York")


def _events(referral) -> int:
    return ReferralEvent.objects.filter(referral_id=referral.pk).count()


# --- Create -------------------------------------------------------------------------------


def test_create_takes_referrer_and_department_from_the_actor_profile(cast):
    referral, created = services.referral_create(actor=cast.referrer, data=referral_data(cast.specialty))

    assert created is True
    referral.refresh_from_db()
    assert referral.referrer == cast.referrer
    assert referral.created_by == cast.referrer
    assert referral.department is not None
    assert referral.department == cast.referrer.profile.department


def test_create_leaves_the_referral_submitted_with_one_created_event(cast):
    referral, _ = services.referral_create(actor=cast.referrer, data=referral_data(cast.specialty))

    referral.refresh_from_db()
    assert referral.status == Status.SUBMITTED
    events = list(ReferralEvent.objects.filter(referral=referral))
    assert [(e.kind, e.actor, e.to_status) for e in events] == [
        (ReferralEvent.Kind.CREATED, cast.referrer, Status.SUBMITTED)
    ]


def test_create_issues_a_reference_number_in_the_program_format(cast):
    referral, _ = services.referral_create(actor=cast.referrer, data=referral_data(cast.specialty))

    assert re.fullmatch(r"SO-\d{4}-\d{6}", referral.reference)
    assert Referral.objects.get(pk=referral.pk).reference == referral.reference


def test_referral_without_patient_consent_is_refused_and_nothing_is_written(cast):
    counters_before = list(ReferenceCounter.objects.values_list("year", "last_number"))

    with pytest.raises(ReferralError):
        services.referral_create(actor=cast.referrer, data=referral_data(cast.specialty, patient_consented=False))

    assert Referral.objects.count() == 0
    assert ReferralEvent.objects.count() == 0
    assert list(ReferenceCounter.objects.values_list("year", "last_number")) == counters_before


def test_repeated_submission_token_returns_the_first_referral(cast):
    token = uuid.uuid4()
    first, first_created = services.referral_create(
        actor=cast.referrer, data=referral_data(cast.specialty), submission_token=token
    )

    again, again_created = services.referral_create(
        actor=cast.referrer, data=referral_data(cast.specialty, question="A second click"), submission_token=token
    )

    assert (first_created, again_created) == (True, False)
    assert again.pk == first.pk
    assert Referral.objects.count() == 1
    assert ReferralEvent.objects.filter(kind=ReferralEvent.Kind.CREATED).count() == 1


def test_a_submission_token_of_another_person_is_refused(cast):
    token = uuid.uuid4()
    first, _ = services.referral_create(actor=cast.referrer, data=referral_data(cast.specialty), submission_token=token)

    with pytest.raises(ReferralError):
        services.referral_create(actor=cast.bystander, data=referral_data(cast.specialty), submission_token=token)

    assert list(Referral.objects.values_list("pk", flat=True)) == [first.pk]


# --- Assign, records, release, reassign ---------------------------------------------------


def test_assign_refuses_a_reviewer_of_another_specialty_and_changes_nothing(cast, referral_in):
    referral = referral_in(Status.ACCEPTED)
    events_before = _events(referral)

    with pytest.raises(ReferralError):
        services.referral_assign(referral_id=referral.pk, actor=cast.coordinator, reviewer=cast.other_reviewer)

    referral.refresh_from_db()
    assert referral.status == Status.ACCEPTED
    assert referral.reviewer is None
    assert referral.claimed_at is None
    assert _events(referral) == events_before


def test_start_review_is_refused_while_outside_records_are_not_received(cast, new_referral):
    referral = walk_to(Status.CLAIMED, cast, new_referral(records_location="outside"))
    events_before = _events(referral)

    with pytest.raises(ReferralError):
        services.referral_start_review(referral_id=referral.pk, actor=cast.reviewer)

    referral.refresh_from_db()
    assert referral.status == Status.CLAIMED
    assert referral.review_started_at is None
    assert _events(referral) == events_before


def test_start_review_works_once_the_outside_records_are_received(cast, new_referral):
    referral = walk_to(Status.CLAIMED, cast, new_referral(records_location="outside"))

    services.referral_receive_records(referral_id=referral.pk, actor=cast.coordinator)
    result = services.referral_start_review(referral_id=referral.pk, actor=cast.reviewer)

    assert result.status == Status.IN_REVIEW
    assert Referral.objects.get(pk=referral.pk).review_started_at is not None


def test_requested_records_hold_back_the_review_until_they_arrive(cast, referral_in):
    referral = referral_in(Status.ACCEPTED)
    services.referral_request_records(referral_id=referral.pk, actor=cast.coordinator, note="Outside MRI")
    services.referral_claim(referral_id=referral.pk, actor=cast.reviewer)

    with pytest.raises(ReferralError):
        services.referral_start_review(referral_id=referral.pk, actor=cast.reviewer)
    services.referral_receive_records(referral_id=referral.pk, actor=cast.reviewer)
    services.referral_start_review(referral_id=referral.pk, actor=cast.reviewer)

    referral.refresh_from_db()
    assert referral.records_location == "outside"
    assert referral.records_requested_at is not None
    assert referral.records_received_at is not None
    assert referral.status == Status.IN_REVIEW


def test_release_clears_the_reviewer_and_puts_the_case_back_in_the_queue(cast, referral_in):
    referral = referral_in(Status.IN_REVIEW)

    services.referral_release(referral_id=referral.pk, actor=cast.reviewer, reason="On leave next week")

    referral.refresh_from_db()
    assert referral.status == Status.ACCEPTED
    assert referral.reviewer is None
    assert referral.claimed_at is None
    assert referral.review_started_at is None
    event = ReferralEvent.objects.filter(referral=referral).latest("id")
    assert (event.action, event.from_status, event.to_status) == (Action.RELEASE, Status.IN_REVIEW, Status.ACCEPTED)
    assert event.detail == {"from_reviewer": cast.reviewer.pk}
    assert event.note == "On leave next week"


def test_release_without_a_reason_is_refused(cast, referral_in):
    referral = referral_in(Status.CLAIMED)

    with pytest.raises(ReferralError):
        services.referral_release(referral_id=referral.pk, actor=cast.reviewer, reason="   ")

    referral.refresh_from_db()
    assert (referral.status, referral.reviewer) == (Status.CLAIMED, cast.reviewer)


def test_reassign_moves_ownership_in_one_event_naming_the_previous_reviewer(cast, referral_in):
    referral = referral_in(Status.CLAIMED)
    events_before = _events(referral)

    services.referral_reassign(
        referral_id=referral.pk, actor=cast.coordinator, reviewer=cast.second_reviewer, reason="Workload"
    )

    referral.refresh_from_db()
    assert referral.status == Status.CLAIMED
    assert referral.reviewer == cast.second_reviewer
    assert _events(referral) == events_before + 1
    event = ReferralEvent.objects.filter(referral=referral).latest("id")
    assert event.action == Action.REASSIGN
    assert event.actor == cast.coordinator
    assert event.detail == {"from_reviewer": cast.reviewer.pk, "reviewer": cast.second_reviewer.pk}


# --- Opinion and close --------------------------------------------------------------------


@pytest.mark.parametrize("missing", ["opinion_summary", "opinion_answer", "diagnosis_outcome", "treatment_outcome"])
def test_deliver_opinion_without_a_required_field_is_refused(cast, referral_in, missing):
    referral = referral_in(Status.IN_REVIEW)
    events_before = _events(referral)
    opinion = {k: v for k, v in OPINION.items() if k != missing}

    with pytest.raises(ReferralError) as refused:
        services.referral_deliver_opinion(referral_id=referral.pk, actor=cast.reviewer, opinion=opinion)

    assert missing.replace("_", " ") in str(refused.value)
    referral.refresh_from_db()
    assert referral.status == Status.IN_REVIEW
    assert referral.opinion_delivered_at is None
    assert _events(referral) == events_before


def test_close_without_a_downstream_outcome_is_refused(cast, referral_in):
    referral = referral_in(Status.OPINION_DELIVERED)
    events_before = _events(referral)

    with pytest.raises(ReferralError):
        services.referral_close(referral_id=referral.pk, actor=cast.coordinator, outcome={"appointment_date": None})

    referral.refresh_from_db()
    assert referral.status == Status.OPINION_DELIVERED
    assert referral.closed_at is None
    assert _events(referral) == events_before


# --- Flags on terminal referrals ----------------------------------------------------------

FLAG_CALLS = {
    "request_info": lambda rid, c: services.referral_request_info(
        referral_id=rid, actor=c.coordinator, question="Which imaging?"
    ),
    "hold": lambda rid, c: services.referral_hold(referral_id=rid, actor=c.coordinator, reason="awaiting_patient"),
    "request_records": lambda rid, c: services.referral_request_records(referral_id=rid, actor=c.coordinator),
}


@pytest.mark.parametrize("flag", list(FLAG_CALLS))
@pytest.mark.parametrize("status", [Status.CLOSED, Status.DECLINED, Status.CANCELLED, Status.ENTERED_IN_ERROR])
def test_a_terminal_referral_cannot_take_flags(cast, referral_in, status, flag):
    referral = referral_in(status)
    events_before = _events(referral)

    with pytest.raises(ReferralError):
        FLAG_CALLS[flag](referral.pk, cast)

    referral.refresh_from_db()
    assert referral.info_requested_at is None
    assert referral.hold_reason == ""
    assert referral.records_requested_at is None
    assert _events(referral) == events_before


# --- Notes --------------------------------------------------------------------------------


@pytest.mark.parametrize("person", ["referrer", "coordinator", "reviewer"])
def test_referrer_coordinator_and_owner_can_add_a_note(cast, referral_in, person):
    referral = referral_in(Status.CLAIMED)  # cast.reviewer owns it

    event = services.referral_add_note(referral_id=referral.pk, actor=getattr(cast, person), body="  Called the GP. ")

    assert (event.kind, event.actor, event.note) == (ReferralEvent.Kind.NOTE, getattr(cast, person), "Called the GP.")


@pytest.mark.parametrize("person", ["bystander", "leader", "second_reviewer", "other_reviewer"])
def test_a_person_without_a_link_to_the_case_cannot_add_a_note(cast, referral_in, person):
    referral = referral_in(Status.CLAIMED)
    events_before = _events(referral)

    with pytest.raises(ReferralError):
        services.referral_add_note(referral_id=referral.pk, actor=getattr(cast, person), body="Curious")

    assert _events(referral) == events_before


# --- Questions ----------------------------------------------------------------------------


def test_answer_info_is_refused_when_no_question_is_open(cast, new_referral):
    referral = new_referral()
    events_before = _events(referral)

    with pytest.raises(ReferralError):
        services.referral_answer_info(referral_id=referral.pk, actor=cast.referrer, answer="Here it is")

    assert _events(referral) == events_before


def test_answer_info_closes_an_open_question(cast, new_referral):
    referral = new_referral()
    services.referral_request_info(referral_id=referral.pk, actor=cast.coordinator, question="Which imaging?")

    services.referral_answer_info(referral_id=referral.pk, actor=cast.referrer, answer="CT from March")

    referral.refresh_from_db()
    assert referral.info_requested_at is None
    assert referral.info_requested_by is None
    event = ReferralEvent.objects.filter(referral=referral).latest("id")
    assert (event.kind, event.note, event.detail) == (
        ReferralEvent.Kind.INFO_ANSWERED,
        "CT from March",
        {"asked_by": cast.coordinator.pk},
    )


# --- Entered in error ---------------------------------------------------------------------


def test_a_closed_referral_can_be_marked_entered_in_error(cast, referral_in):
    referral = referral_in(Status.CLOSED)

    result = services.referral_enter_in_error(referral_id=referral.pk, actor=cast.coordinator, reason="Duplicate")

    referral.refresh_from_db()
    assert result.status == referral.status == Status.ENTERED_IN_ERROR
    assert referral.ended_at is not None
    event = ReferralEvent.objects.filter(referral=referral).latest("id")
    assert (event.from_status, event.to_status, event.note) == (Status.CLOSED, Status.ENTERED_IN_ERROR, "Duplicate")


def test_closing_does_not_set_ended_at(cast, referral_in):
    referral = referral_in(Status.CLOSED)

    referral.refresh_from_db()
    assert referral.closed_at is not None
    assert referral.ended_at is None  # ended_at is for declined, cancelled or entered in error


def test_entered_in_error_from_closed_sets_ended_at_to_the_time_it_was_entered_in_error(cast, new_referral):
    closed_at = datetime(2026, 3, 16, 10, 0, tzinfo=NY)
    error_at = datetime(2026, 3, 18, 15, 0, tzinfo=NY)
    with time_machine.travel(closed_at, tick=False):
        referral = walk_to(Status.CLOSED, cast, new_referral())
    with time_machine.travel(error_at, tick=False):
        services.referral_enter_in_error(referral_id=referral.pk, actor=cast.coordinator, reason="Wrong patient")

    referral.refresh_from_db()
    assert referral.closed_at == closed_at
    assert referral.ended_at == error_at


# --- Append-only audit tables (PostgreSQL triggers) ---------------------------------------


@pytest.mark.postgres
def test_updating_a_referral_event_is_refused_by_the_database(cast, new_referral):
    event = ReferralEvent.objects.get(referral=new_referral())

    with pytest.raises(DatabaseError), transaction.atomic():
        ReferralEvent.objects.filter(pk=event.pk).update(note="rewritten")

    event.note = "rewritten"
    with pytest.raises(DatabaseError), transaction.atomic():
        event.save()
    assert ReferralEvent.objects.get(pk=event.pk).note == ""


@pytest.mark.postgres
def test_deleting_a_referral_event_is_refused_by_the_database(cast, new_referral):
    event = ReferralEvent.objects.get(referral=new_referral())

    with pytest.raises(DatabaseError), transaction.atomic():
        ReferralEvent.objects.filter(pk=event.pk).delete()

    assert ReferralEvent.objects.filter(pk=event.pk).exists()


@pytest.mark.postgres
def test_updating_or_deleting_a_patient_data_access_row_is_refused_by_the_database(cast, new_referral):
    referral = new_referral()
    services.patient_data_access_record(
        user=cast.coordinator, referrals=[referral], view="referral_detail", ip_address="10.0.0.7"
    )
    row = PatientDataAccess.objects.get(referral=referral)

    with pytest.raises(DatabaseError), transaction.atomic():
        PatientDataAccess.objects.filter(pk=row.pk).update(view="something_else")
    with pytest.raises(DatabaseError), transaction.atomic():
        PatientDataAccess.objects.filter(pk=row.pk).delete()

    row.refresh_from_db()
    assert row.view == "referral_detail"
