"""Reads about referrals: who may see what, lists with their related rows, recipients."""

from __future__ import annotations

from django.db.models import Case, Q, QuerySet, Value, When

from portal.models import User
from portal.roles import Role
from referrals.models import Referral, ReferralEvent, Urgency
from referrals.permissions import capacities_of
from referrals.workflow import Capacity, Status

# Urgent before routine, whatever the stored values sort as.
URGENT_FIRST = Case(When(urgency=Urgency.URGENT, then=Value(0)), default=Value(1)).asc()


class Visibility:
    """What a person may see of one referral."""

    NONE = "none"
    # A reviewer of the specialty while the case is open in the queue: enough
    # to decide whether to claim it, no patient name, record number or contact.
    QUEUE = "queue"
    FULL = "full"


def visibility_of(user: User, referral: Referral, capacities: set[Capacity] | None = None) -> str:
    """What this person may see; pass ``capacities`` when the caller has them already."""
    if capacities is None:
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
        .order_by(URGENT_FIRST, "accepted_at")
    )


def cases_of(*, user: User) -> QuerySet[Referral]:
    return _with_related(
        Referral.objects.filter(reviewer=user, status__in=[Status.CLAIMED, Status.IN_REVIEW])
    ).order_by("clock_due_at", "claimed_at")


def board() -> QuerySet[Referral]:
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
    # References are written upper case (SO-2026-000123): an exact match on the upper-cased
    # term finds "so-2026-000123" too and uses the unique index (iexact would read every row).
    return Q(reference=term.upper()) | Q(patient_mrn=term)


# --- Reads for the referral screens (referrals/views.py) ---------------------------------


def referral_by_submission_token(token) -> Referral | None:
    """The referral a form submission already created, if any (a double submit)."""
    return Referral.objects.filter(submission_token=token).only("id", "reference", "created_by_id").first()


def reviewer_choices() -> list[tuple]:
    """Active reviewers grouped by active specialty, in one query: [(specialty, [people])]."""
    from portal.models import Profile

    through = Profile.review_specialties.through
    rows = (
        through.objects.filter(
            specialty__is_active=True,
            profile__user__is_active=True,
            profile__user__groups__name=Role.REVIEWER,
        )
        .select_related("specialty", "profile__user")
        .order_by("specialty__name", "profile__user__last_name", "profile__user__first_name")
    )
    grouped: dict[int, tuple] = {}
    for row in rows:
        grouped.setdefault(row.specialty_id, (row.specialty, []))[1].append(row.profile.user)
    return list(grouped.values())


def people_by_ids(ids) -> dict[int, User]:
    """People named in events' details (assigned reviewer, previous owner), in one query."""
    ids = {i for i in ids if isinstance(i, int)}
    if not ids:
        return {}
    return {u.pk: u for u in User.objects.filter(pk__in=ids).only("id", "first_name", "last_name", "email")}


def referral_for_detail(reference: str) -> Referral | None:
    """One referral with every person and row its detail page names.

    The four always-shown relations are joined; the rarer ones are fetched by
    id in small queries (none when empty): a nine-table join cost PostgreSQL
    about 5 ms of planning on every view, ten times its execution.
    """
    return (
        Referral.objects.filter(reference=reference)
        .select_related("specialty", "referrer", "reviewer", "department")
        .prefetch_related("created_by", "preferred_reviewer", "previous_referral", "info_requested_by")
        .first()
    )


def referral_for_action(reference: str) -> Referral | None:
    """What a posted action needs to decide who may do what: a few columns and the specialty's name."""
    return (
        Referral.objects.filter(reference=reference)
        .select_related("specialty")
        .only(
            "id",
            "reference",
            "status",
            "referrer_id",
            "reviewer_id",
            "specialty__id",
            "specialty__name",
            "info_requested_at",
            "hold_reason",
            "records_location",
            "records_requested_at",
            "records_received_at",
        )
        .first()
    )


def staff_referrer_by_email(email: str) -> User | None:
    """An active person who may refer (a role that sees patient data), by e-mail address."""
    from portal.roles import PATIENT_DATA_ROLES

    return (
        User.objects.filter(email__iexact=email.strip(), is_active=True, groups__name__in=list(PATIENT_DATA_ROLES))
        .select_related("profile__department")
        .distinct()
        .first()
    )


# --- Credit for the home page (the figures themselves live in referrals.metrics) ------------------


def credit_summary_for(*, user: User, period: str = "year") -> dict:
    """My points and rank this month, quarter or year, and my points of all time (two small queries)."""
    from referrals import metrics

    mine = metrics.credit_by_period(user=user)
    rank, ranked_people, points = metrics.person_rank(
        user=user, since=metrics.period_start(period), points=mine[period]
    )
    return {
        "period": period,
        "period_label": metrics.PERIODS[period],
        "points": points,
        "rank": rank,
        "ranked_people": ranked_people,
        "total_points": mine["total"],
    }


def leaderboard_teaser(*, viewer: User | None = None, period: str = "month", limit: int = 5) -> list:
    """The top few people this period; hidden names stay hidden (one query)."""
    from referrals import metrics

    return metrics.people_standings(since=metrics.period_start(period), viewer=viewer, limit=limit)
