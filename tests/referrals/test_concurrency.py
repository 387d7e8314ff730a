"""Races: many reviewers claiming one case, many referrals numbered at once, a double submit.

The racing tests run real threads against PostgreSQL with committed data
(``transactional_db``); each thread opens its own connection before the
barrier releases them together, and closes it at the end. Celery runs eagerly
in tests, so the "was claimed" notification is created by the on-commit
callback of the thread that won.
"""

from __future__ import annotations

import datetime
import re
import threading
import uuid

import pytest
from django.db import IntegrityError, connection
from django.utils import timezone

from portal.models import Notification, User
from portal.roles import Role
from referrals import services
from referrals.models import ReferenceCounter, Referral, ReferralEvent
from referrals.workflow import Action, Status, TransitionNotAllowed
from tests.factories import referral_data

ROUNDS = 10
CLAIMANTS = 30
CREATORS = 20
DOUBLE_SUBMITS = 10


def _all_at_once(calls) -> list[tuple[object, BaseException | None]]:
    """Run each call in its own thread, released together; [(result, exception)] in call order."""
    barrier = threading.Barrier(len(calls))
    outcomes: list[tuple[object, BaseException | None]] = [(None, None)] * len(calls)

    def work(index, call):
        try:
            try:
                connection.ensure_connection()  # connect first, so the race is on the work itself
            except BaseException:
                barrier.abort()  # release the others rather than leave them waiting
                raise
            barrier.wait(timeout=20)
            outcomes[index] = (call(), None)
        except BaseException as exc:  # every outcome is asserted by the caller
            outcomes[index] = (None, exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(i, call), daemon=True) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a racing thread did not finish"
    return outcomes


def _counter(year: int) -> int:
    row = ReferenceCounter.objects.filter(year=year).first()
    return row.last_number if row else 0


def _number(reference: str) -> int:
    match = re.fullmatch(r"SO-(\d{4})-(\d{6})", reference)
    assert match, reference
    return int(match.group(2))


# --- Claims -------------------------------------------------------------------------------


@pytest.mark.postgres
def test_thirty_reviewers_claiming_at_once_leave_exactly_one_owner(transactional_db, cast, make_user, new_referral):
    reviewers = [make_user(Role.REVIEWER, review_specialties=[cast.specialty]) for _ in range(CLAIMANTS)]
    for reviewer in reviewers:  # read roles and specialties now, not inside the race
        assert cast.specialty.pk in reviewer.review_specialty_ids

    for round_ in range(ROUNDS):
        referral = new_referral()
        services.referral_accept(referral_id=referral.pk, actor=cast.coordinator)

        outcomes = _all_at_once(
            [
                (lambda reviewer=reviewer, rid=referral.pk: services.referral_claim(referral_id=rid, actor=reviewer))
                for reviewer in reviewers
            ]
        )

        winners = [reviewers[i] for i, (_, exc) in enumerate(outcomes) if exc is None]
        refusals = [exc for _, exc in outcomes if exc is not None]
        assert len(winners) == 1, (round_, refusals)
        assert len(refusals) == CLAIMANTS - 1, round_
        odd = [repr(exc) for exc in refusals if not isinstance(exc, TransitionNotAllowed)]
        assert odd == [], round_
        assert [str(exc) for exc in refusals if "claimed by a reviewer" not in str(exc)] == [], round_

        referral.refresh_from_db()
        assert (referral.status, referral.reviewer_id) == (Status.CLAIMED, winners[0].pk), round_
        claims = ReferralEvent.objects.filter(referral=referral, action=Action.CLAIM)
        assert [(e.actor_id, e.detail) for e in claims] == [(winners[0].pk, {"reviewer": winners[0].pk})], round_
        claimed_notices = Notification.objects.filter(
            verb__contains=referral.reference, verb__icontains="was claimed"
        ).values_list("recipient_id", flat=True)
        assert list(claimed_notices) == [cast.referrer.pk], round_


@pytest.mark.django_db
def test_a_reviewer_cannot_claim_outside_their_specialties(cast, referral_in):
    referral = referral_in(Status.ACCEPTED)

    with pytest.raises(TransitionNotAllowed):
        services.referral_claim(referral_id=referral.pk, actor=cast.other_reviewer)

    referral.refresh_from_db()
    assert (referral.status, referral.reviewer) == (Status.ACCEPTED, None)
    assert not ReferralEvent.objects.filter(referral=referral, action=Action.CLAIM).exists()


# --- Reference numbers --------------------------------------------------------------------


@pytest.mark.postgres
def test_referrals_created_at_once_get_unique_gap_free_reference_numbers(transactional_db, cast):
    year = timezone.localdate().year
    start = _counter(year)

    outcomes = _all_at_once(
        [
            (lambda: services.referral_create(actor=cast.referrer, data=referral_data(cast.specialty)))
            for _ in range(CREATORS)
        ]
    )

    assert [exc for _, exc in outcomes if exc is not None] == []
    assert all(created for (_, created), _ in outcomes)
    references = sorted(referral.reference for (referral, _), _ in outcomes)
    assert references == [f"SO-{year}-{n:06d}" for n in range(start + 1, start + CREATORS + 1)]
    assert sorted(Referral.objects.values_list("reference", flat=True)) == references
    assert _counter(year) == start + CREATORS


@pytest.mark.postgres
def test_a_double_submit_at_once_creates_one_referral(transactional_db, cast):
    token = uuid.uuid4()
    year = timezone.localdate().year
    start = _counter(year)

    outcomes = _all_at_once(
        [
            (
                lambda: services.referral_create(
                    actor=cast.referrer, data=referral_data(cast.specialty), submission_token=token
                )
            )
            for _ in range(DOUBLE_SUBMITS)
        ]
    )

    assert [exc for _, exc in outcomes if exc is not None] == []
    referral = Referral.objects.get(submission_token=token)
    assert {result[0].pk for result, _ in outcomes} == {referral.pk}
    assert sorted(result[1] for result, _ in outcomes) == [False] * (DOUBLE_SUBMITS - 1) + [True]
    assert Referral.objects.count() == 1
    assert ReferralEvent.objects.filter(referral=referral, kind=ReferralEvent.Kind.CREATED).count() == 1
    # The duplicates rolled their counter increments back: the next number is still free.
    assert referral.reference == f"SO-{year}-{start + 1:06d}"
    assert _counter(year) == start + 1


def test_a_creation_that_fails_after_numbering_does_not_use_up_a_number(transactional_db, cast):
    """The database refuses the referral once its number is taken (a creator it does not know,
    checked at commit): nothing is kept, the counter included."""
    first, _ = services.referral_create(actor=cast.referrer, data=referral_data(cast.specialty))
    unknown_creator = User(pk=cast.referrer.pk + 10_000, email="gone@example.org")

    with pytest.raises(IntegrityError):
        services.referral_create(actor=unknown_creator, data=referral_data(cast.specialty))
    after, _ = services.referral_create(actor=cast.referrer, data=referral_data(cast.specialty))

    assert Referral.objects.count() == 2
    assert ReferralEvent.objects.filter(kind=ReferralEvent.Kind.CREATED).count() == 2
    assert _number(after.reference) == _number(first.reference) + 1
    assert _counter(timezone.localdate().year) == _number(after.reference)


def test_a_seven_digit_number_is_written_whole(db, cast):
    """Six digits at least, never cut: the millionth referral of a year is SO-YYYY-1000000."""
    year = timezone.localdate().year
    ReferenceCounter.objects.update_or_create(year=year, defaults={"last_number": 999_998})

    last_six, _ = services.referral_create(actor=cast.referrer, data=referral_data(cast.specialty))
    seventh, _ = services.referral_create(actor=cast.referrer, data=referral_data(cast.specialty))

    assert (last_six.reference, seventh.reference) == (f"SO-{year}-999999", f"SO-{year}-1000000")
    assert Referral.objects.get(pk=seventh.pk).reference == seventh.reference


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the one-statement creation is PostgreSQL's")
def test_the_creation_statement_stays_within_what_psycopg_caches(db, cast):
    """psycopg parses a statement's placeholders once and reuses that only up
    to 50 parameters and 4,096 bytes; beyond either, every submit parses it
    again. Empty columns are written as NULL in the text for that reason: this
    fails when a new column (or a fuller form) pushes the statement over."""
    from psycopg import _queries  # the limits are psycopg's own; no public name carries them

    earlier, _ = services.referral_create(actor=cast.referrer, data=referral_data(cast.specialty))
    statements = []

    def record(execute, sql, params, many, context):
        statements.append((sql, params))
        return execute(sql, params, many, context)

    every_field_filled = referral_data(
        cast.specialty,
        patient_phone="+1 555 0100",
        preferred_language="Portuguese",
        interpreter_needed=True,
        diagnosis="Stage II adenocarcinoma",
        icd10_code="C18.9",
        decision_needed_by=timezone.localdate() + datetime.timedelta(days=10),
        preferred_reviewer=cast.reviewer,
        previous_referral=earlier,
    )
    with connection.execute_wrapper(record):
        referral, created = services.referral_create(actor=cast.referrer, data=every_field_filled)

    assert created
    creations = [(sql, params) for sql, params in statements if "ON CONFLICT" in sql]
    assert len(creations) == 1
    sql, params = creations[0]
    assert len(params) <= _queries.MAX_CACHED_STATEMENT_PARAMS
    assert len(sql.encode()) <= _queries.MAX_CACHED_STATEMENT_LENGTH
    # Every value written, NULLs included, reads back as it was given.
    stored = Referral.objects.get(pk=referral.pk)
    assert (stored.preferred_reviewer_id, stored.previous_referral_id) == (cast.reviewer.pk, earlier.pk)
    assert (stored.icd10_code, stored.interpreter_needed) == ("C18.9", True)
    assert stored.reviewer_id is None and stored.claimed_at is None
