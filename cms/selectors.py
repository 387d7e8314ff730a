"""Reads for intranet pages: specialty pages, their reviewers and live figures, stale pages.

Figures are aggregates over referrals; nothing here reads a patient field.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import timedelta

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

FIGURES_WINDOW_DAYS = 90
# Enough delivered opinions for a stable median; bounds the rows read per page view.
TURNAROUND_SAMPLE_LIMIT = 500


@dataclass(frozen=True)
class SpecialtyFigures:
    open_cases: int
    delivered_count: int  # opinions in the sample behind the median
    median_business_days: float | None
    window_days: int = FIGURES_WINDOW_DAYS


def specialty_pages_under(index_page) -> QuerySet:
    from cms.models import SpecialtyPage

    return (
        SpecialtyPage.objects.child_of(index_page)
        .live()
        .select_related("specialty")
        .only("id", "title", "url_path", "path", "depth", "summary", "specialty__name", "specialty__slug")
        .order_by("title")
    )


def specialty_reviewers(specialty_id: int) -> list:
    """Active reviewers of a specialty: names and job titles only."""
    from referrals.selectors import reviewers_of

    return list(
        reviewers_of(specialty_id)
        .select_related("profile")
        .only("id", "first_name", "last_name", "email", "profile__id", "profile__title")
    )


def specialty_figures(specialty_id: int) -> SpecialtyFigures:
    """Open cases in the queue and the median review-start → opinion turnaround, in business days.

    Two queries on the referral table (a count and a bounded list of two
    timestamps) and, when there are opinions, one for holidays.
    """
    from referrals.clocks import holidays_between, is_business_day
    from referrals.models import Referral
    from referrals.workflow import Status

    now = timezone.now()
    open_cases = Referral.objects.filter(specialty_id=specialty_id).aggregate(
        n=Count("id", filter=Q(status=Status.ACCEPTED))
    )["n"]
    spans = list(
        Referral.objects.filter(
            specialty_id=specialty_id,
            opinion_delivered_at__gte=now - timedelta(days=FIGURES_WINDOW_DAYS),
            review_started_at__isnull=False,
        )
        .order_by("-opinion_delivered_at")
        .values_list("review_started_at", "opinion_delivered_at")[:TURNAROUND_SAMPLE_LIMIT]
    )
    if not spans:
        return SpecialtyFigures(open_cases=open_cases, delivered_count=0, median_business_days=None)

    days = [(timezone.localtime(start).date(), timezone.localtime(end).date()) for start, end in spans]
    first = min(start for start, _ in days) + timedelta(days=1)
    last = max(end for _, end in days)
    holidays = holidays_between(first, last) if last >= first else set()

    def business_days(start, end) -> int:
        # Same rule as referrals.clocks.business_days_between, with the holidays read once.
        span = (end - start).days
        return sum(1 for n in range(1, span + 1) if is_business_day(start + timedelta(days=n), holidays))

    median = statistics.median(business_days(start, end) for start, end in days)
    return SpecialtyFigures(open_cases=open_cases, delivered_count=len(days), median_business_days=median)


def specialties_matching(query: str) -> list:
    """Active specialties whose name contains the words searched for, with their page if any."""
    from portal.models import Specialty

    query = query.strip()
    if not query:
        return []
    return list(
        Specialty.objects.filter(is_active=True, name__icontains=query).select_related("page").order_by("name")[:10]
    )


def stale_pages(pages: QuerySet) -> QuerySet:
    """Of ``pages``, those whose review-by date has passed, oldest first, with that date annotated."""
    from django.db.models.functions import Coalesce

    today = timezone.localdate()
    return (
        pages.filter(Q(standardpage__review_by__lt=today) | Q(specialtypage__review_by__lt=today))
        .annotate(review_by=Coalesce("standardpage__review_by", "specialtypage__review_by"))
        .order_by("review_by", "title")
    )
