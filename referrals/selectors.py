"""Reads about referrals: who may see what, lists with their related rows, recipients."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from portal.models import User
from portal.roles import Role
from referrals.models import Referral, ReferralEvent
from referrals.permissions import capacities_of
from referrals.workflow import Capacity, Status


class Visibility:
    """What a person may see of one referral."""

    NONE = "none"
    # A reviewer of the specialty while the case is open in the queue: enough
    # to decide whether to claim it, no patient name, record number or contact.
    QUEUE = "queue"
    FULL = "full"


def visibility_of(user: User, referral: Referral) -> str:
    capacities = capacities_of(user, referral)
    if capacities & {Capacity.REFERRER, Capacity.COORDINATOR, Capacity.OWNER}:
        return Visibility.FULL
    if Capacity.SPECIALTY_REVIEWER in capacities and referral.status == Status.ACCEPTED:
        return Visibility.QUEUE
    return Visibility.NONE


def _with_related(qs: QuerySet[Referral]) -> QuerySet[Referral]:
    return qs.select_related("specialty", "referrer", "reviewer", "department")


def referral_by_reference(reference: str) -> Referral | None:
    return _with_related(Referral.objects.filter(reference=reference)).first()


def referrals_made_by(*, user: User) -> QuerySet[Referral]:
    return _with_related(Referral.objects.filter(referrer=user)).order_by("-submitted_at")


def review_queue_for(*, user: User) -> QuerySet[Referral]:
    """Open cases in the reviewer's specialties, most urgent and oldest first."""
    return (
        Referral.objects.filter(status=Status.ACCEPTED, specialty_id__in=user.review_specialty_ids)
        .select_related("specialty")
        .only(
            "id",
            "reference",
            "status",
            "specialty__name",
            "question",
            "reason_category",
            "urgency",
            "decision_needed_by",
            "accepted_at",
            "clock_due_at",
            "interpreter_needed",
            "specialty_id",
        )
        .order_by("-urgency", "accepted_at")
    )


def cases_of(*, user: User) -> QuerySet[Referral]:
    return _with_related(
        Referral.objects.filter(reviewer=user, status__in=[Status.CLAIMED, Status.IN_REVIEW])
    ).order_by("clock_due_at", "claimed_at")


def board(*, filters: dict | None = None) -> QuerySet[Referral]:
    return _with_related(Referral.objects.all()).order_by("-submitted_at")


def timeline_of(referral: Referral) -> QuerySet[ReferralEvent]:
    return referral.events.select_related("actor").order_by("created_at", "id")


def coordinator_ids() -> list[int]:
    return list(User.objects.filter(groups__name=Role.COORDINATOR, is_active=True).values_list("id", flat=True))


def specialty_reviewer_ids(specialty_id: int) -> list[int]:
    return list(
        User.objects.filter(
            groups__name=Role.REVIEWER, is_active=True, profile__review_specialties__id=specialty_id
        ).values_list("id", flat=True)
    )


def reviewers_of(specialty_id: int) -> QuerySet[User]:
    return User.objects.filter(
        groups__name=Role.REVIEWER, is_active=True, profile__review_specialties__id=specialty_id
    ).order_by("last_name", "first_name")


def search_filter(term: str) -> Q:
    term = term.strip()
    return Q(reference__iexact=term) | Q(patient_mrn=term)
