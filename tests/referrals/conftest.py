"""A small hospital for referral tests: people in every capacity and a referral in every state."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from portal.roles import Role
from referrals import services
from referrals.workflow import Status
from tests.factories import SpecialtyFactory, referral_data


@dataclass
class Cast:
    referrer: object
    coordinator: object
    reviewer: object  # reviews the referral's specialty
    second_reviewer: object  # also reviews it
    other_reviewer: object  # reviews another specialty only
    leader: object
    bystander: object  # a clinician with no link to the referral
    specialty: object
    other_specialty: object


@pytest.fixture
def cast(make_user) -> Cast:
    specialty = SpecialtyFactory(name="Cardiology", slug="cardiology")
    other = SpecialtyFactory(name="Neurology", slug="neurology")
    return Cast(
        referrer=make_user(Role.CLINICIAN),
        coordinator=make_user(Role.COORDINATOR),
        reviewer=make_user(Role.CLINICIAN, Role.REVIEWER, review_specialties=[specialty]),
        second_reviewer=make_user(Role.REVIEWER, review_specialties=[specialty]),
        other_reviewer=make_user(Role.REVIEWER, review_specialties=[other]),
        leader=make_user(Role.LEADERSHIP),
        bystander=make_user(Role.CLINICIAN),
        specialty=specialty,
        other_specialty=other,
    )


@pytest.fixture
def new_referral(cast):
    def _new(**overrides):
        referral, _ = services.referral_create(actor=cast.referrer, data=referral_data(cast.specialty, **overrides))
        return referral

    return _new


def walk_to(status: Status, cast: Cast, referral):
    """Move a submitted referral to ``status`` through the services (the real path)."""
    rid = referral.pk
    c = cast
    if status == Status.SUBMITTED:
        return referral
    if status == Status.DECLINED:
        return services.referral_decline(referral_id=rid, actor=c.coordinator, reason="Outside program scope")
    if status == Status.CANCELLED:
        return services.referral_cancel(referral_id=rid, actor=c.referrer, reason="Patient changed their mind")
    if status == Status.ENTERED_IN_ERROR:
        return services.referral_enter_in_error(referral_id=rid, actor=c.coordinator, reason="Duplicate")
    services.referral_accept(referral_id=rid, actor=c.coordinator)
    if status == Status.ACCEPTED:
        return referral.__class__.objects.get(pk=rid)
    services.referral_claim(referral_id=rid, actor=c.reviewer)
    if status == Status.CLAIMED:
        return referral.__class__.objects.get(pk=rid)
    services.referral_start_review(referral_id=rid, actor=c.reviewer)
    if status == Status.IN_REVIEW:
        return referral.__class__.objects.get(pk=rid)
    services.referral_deliver_opinion(referral_id=rid, actor=c.reviewer, opinion=OPINION)
    if status == Status.OPINION_DELIVERED:
        return referral.__class__.objects.get(pk=rid)
    return services.referral_close(
        referral_id=rid, actor=c.coordinator, outcome={"downstream_outcome": "scheduled_here"}
    )


OPINION = {
    "opinion_summary": "Imaging and history reviewed in full.",
    "opinion_answer": "Surgery is reasonable; a short trial of medical therapy first is an equal option.",
    "diagnosis_outcome": "confirmed",
    "treatment_outcome": "refined",
    "clinical_impact": "moderate",
}


@pytest.fixture
def referral_in(cast, new_referral):
    def _in(status: Status):
        return walk_to(Status(status), cast, new_referral())

    return _in
