"""The lifecycle, tested as a whole matrix: every state × every move × every person."""

from __future__ import annotations

import itertools

import pytest
from django.db import transaction

from referrals import services
from referrals.models import ReferralEvent
from referrals.workflow import FHIR_STATUS, TERMINAL, Action, Capacity, Status, TransitionNotAllowed, check
from tests.referrals.conftest import OPINION

S, A, C = Status, Action, Capacity
OPEN_STATES = [S.SUBMITTED, S.ACCEPTED, S.CLAIMED, S.IN_REVIEW, S.OPINION_DELIVERED]

# PRODUCT.md's lifecycle, written out as (from state, move, who) → to state.
SPEC: dict[tuple[Status, Action, Capacity], Status | None] = {
    (S.SUBMITTED, A.ACCEPT, C.COORDINATOR): S.ACCEPTED,
    (S.SUBMITTED, A.DECLINE, C.COORDINATOR): S.DECLINED,
    (S.SUBMITTED, A.CANCEL, C.REFERRER): S.CANCELLED,
    **{(state, A.CANCEL, C.COORDINATOR): S.CANCELLED for state in OPEN_STATES},
    (S.ACCEPTED, A.CLAIM, C.SPECIALTY_REVIEWER): S.CLAIMED,
    (S.ACCEPTED, A.ASSIGN, C.COORDINATOR): S.CLAIMED,
    (S.CLAIMED, A.RELEASE, C.OWNER): S.ACCEPTED,
    (S.CLAIMED, A.RELEASE, C.COORDINATOR): S.ACCEPTED,
    (S.IN_REVIEW, A.RELEASE, C.OWNER): S.ACCEPTED,
    (S.IN_REVIEW, A.RELEASE, C.COORDINATOR): S.ACCEPTED,
    (S.CLAIMED, A.REASSIGN, C.COORDINATOR): None,
    (S.IN_REVIEW, A.REASSIGN, C.COORDINATOR): None,
    (S.CLAIMED, A.START_REVIEW, C.OWNER): S.IN_REVIEW,
    (S.CLAIMED, A.START_REVIEW, C.COORDINATOR): S.IN_REVIEW,
    (S.IN_REVIEW, A.DELIVER_OPINION, C.OWNER): S.OPINION_DELIVERED,
    (S.OPINION_DELIVERED, A.CLOSE, C.COORDINATOR): S.CLOSED,
    **{(state, A.ENTER_IN_ERROR, C.COORDINATOR): S.ENTERED_IN_ERROR for state in set(S) - {S.ENTERED_IN_ERROR}},
}


@pytest.mark.parametrize(("status", "action", "capacity"), list(itertools.product(Status, Action, Capacity)))
def test_transition_table_matches_the_product_lifecycle(status, action, capacity):
    allowed = (status, action, capacity) in SPEC
    if allowed:
        move = check(action, status, {capacity})
        assert move.target == SPEC[(status, action, capacity)]
    else:
        with pytest.raises(TransitionNotAllowed) as refused:
            check(action, status, {capacity})
        assert status.label.lower() in str(refused.value)
        assert action.label.lower() in str(refused.value)


def test_no_move_leaves_a_terminal_state_except_marking_it_entered_in_error():
    for status, action, capacity in itertools.product(TERMINAL, Action, Capacity):
        if (status, action, capacity) in SPEC:
            assert action == A.ENTER_IN_ERROR and status != S.ENTERED_IN_ERROR


def test_every_state_maps_to_a_distinct_fhir_status_pair():
    assert set(FHIR_STATUS) == set(Status)
    assert len(set(FHIR_STATUS.values())) == len(Status)


# --- The same matrix through the services, with real people ---------------------------

PEOPLE = ["referrer", "coordinator", "reviewer", "second_reviewer", "other_reviewer", "leader", "bystander"]


def _capacities(person: str, status: Status) -> set[Capacity]:
    owns = status in (S.CLAIMED, S.IN_REVIEW, S.OPINION_DELIVERED, S.CLOSED)
    return {
        "referrer": {C.REFERRER},
        "coordinator": {C.COORDINATOR},
        "reviewer": {C.SPECIALTY_REVIEWER} | ({C.OWNER} if owns else set()),
        "second_reviewer": {C.SPECIALTY_REVIEWER},
    }.get(person, set())


def _call(action: Action, referral, actor, cast):
    rid = referral.pk
    calls = {
        A.ACCEPT: lambda: services.referral_accept(referral_id=rid, actor=actor),
        A.DECLINE: lambda: services.referral_decline(referral_id=rid, actor=actor, reason="Not a fit"),
        A.CANCEL: lambda: services.referral_cancel(referral_id=rid, actor=actor, reason="Patient withdrew"),
        A.CLAIM: lambda: services.referral_claim(referral_id=rid, actor=actor),
        A.ASSIGN: lambda: services.referral_assign(referral_id=rid, actor=actor, reviewer=cast.second_reviewer),
        A.RELEASE: lambda: services.referral_release(referral_id=rid, actor=actor, reason="On leave"),
        A.REASSIGN: lambda: services.referral_reassign(
            referral_id=rid, actor=actor, reviewer=cast.second_reviewer, reason="Workload"
        ),
        A.START_REVIEW: lambda: services.referral_start_review(referral_id=rid, actor=actor),
        A.DELIVER_OPINION: lambda: services.referral_deliver_opinion(referral_id=rid, actor=actor, opinion=OPINION),
        A.CLOSE: lambda: services.referral_close(
            referral_id=rid, actor=actor, outcome={"downstream_outcome": "returned"}
        ),
        A.ENTER_IN_ERROR: lambda: services.referral_enter_in_error(referral_id=rid, actor=actor, reason="Mistake"),
    }
    return calls[action]()


@pytest.mark.django_db
def test_every_state_move_and_person_through_the_services(cast, referral_in):
    referrals = {status: referral_in(status) for status in Status}
    checked = 0
    for status, action, person in itertools.product(Status, Action, PEOPLE):
        referral = referrals[status]
        actor = getattr(cast, person)
        expected = [SPEC[(status, action, c)] for c in _capacities(person, status) if (status, action, c) in SPEC]
        events_before = ReferralEvent.objects.filter(referral=referral).count()
        with transaction.atomic():
            if expected:
                result = _call(action, referral, actor, cast)
                target = expected[0] or status
                assert result.status == target, (status, action, person)
                assert ReferralEvent.objects.filter(referral=referral).count() == events_before + 1
                event = ReferralEvent.objects.filter(referral=referral).latest("id")
                assert (event.actor, event.from_status, event.to_status, event.action) == (
                    actor,
                    status,
                    target,
                    action,
                )
            else:
                with pytest.raises(TransitionNotAllowed) as refused:
                    _call(action, referral, actor, cast)
                assert status.label.lower() in str(refused.value), (status, action, person)
                referral.refresh_from_db()
                assert referral.status == status
                assert ReferralEvent.objects.filter(referral=referral).count() == events_before
            transaction.set_rollback(True)
        checked += 1
    assert checked == len(Status) * len(Action) * len(PEOPLE)
