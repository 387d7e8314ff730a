"""Service-level clocks in business days: weekends and configured holidays skipped.

A clock has a deadline (``Referral.clock_due_at``): the end of the business
day that lies the target's number of business days after the step began. While
information is requested or the case is on hold the clock is paused; when it
resumes, the deadline moves out by the business days spent paused.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from django.utils import timezone

from referrals.models import Holiday, ServiceLevelTarget, Urgency
from referrals.workflow import Status

Clock = ServiceLevelTarget.Clock

# PRODUCT.md defaults; an administrator overrides them per specialty and urgency.
DEFAULT_TARGETS = {
    (Clock.TRIAGE, Urgency.ROUTINE): 2,
    (Clock.TRIAGE, Urgency.URGENT): 0,
    (Clock.QUEUE, Urgency.ROUTINE): 2,
    (Clock.QUEUE, Urgency.URGENT): 2,
    (Clock.REVIEW, Urgency.ROUTINE): 5,
    (Clock.REVIEW, Urgency.URGENT): 2,
}

# The clock that runs in each state (no clock in the others).
CLOCK_OF_STATUS = {
    Status.SUBMITTED: Clock.TRIAGE,
    Status.ACCEPTED: Clock.QUEUE,
    Status.IN_REVIEW: Clock.REVIEW,
}


def holidays_between(start: date, end: date) -> set[date]:
    return set(Holiday.objects.filter(date__gte=start, date__lte=end).values_list("date", flat=True))


def is_business_day(day: date, holidays: set[date]) -> bool:
    return day.weekday() < 5 and day not in holidays


def add_business_days(start: datetime, days: int) -> datetime:
    """The end of the business day ``days`` business days after ``start``'s day.

    0 means the same business day (or the next one, if ``start`` falls on a
    weekend or holiday).
    """
    local = timezone.localtime(start)
    holidays = holidays_between(local.date(), local.date() + timedelta(days=days * 2 + 30))
    day = local.date()
    while not is_business_day(day, holidays):
        day += timedelta(days=1)
    remaining = days
    while remaining > 0:
        day += timedelta(days=1)
        if is_business_day(day, holidays):
            remaining -= 1
    return timezone.make_aware(datetime.combine(day, time(23, 59, 59)))


def business_days_between(start: datetime, end: datetime) -> int:
    """Whole business days after ``start``'s day up to and including ``end``'s day."""
    first = timezone.localtime(start).date() + timedelta(days=1)
    last = timezone.localtime(end).date()
    if last < first:
        return 0
    return business_days_in(first, last, holidays_between(first, last))


def business_days_in(first: date, last: date, holidays: set[date]) -> int:
    """Business days from ``first`` to ``last``, both included, with the holidays given (no query)."""
    return sum(1 for n in range((last - first).days + 1) if is_business_day(first + timedelta(days=n), holidays))


def target_days(clock: str, specialty_id: int, urgency: str) -> int:
    targets = {
        t.specialty_id: t.business_days
        for t in ServiceLevelTarget.objects.filter(clock=clock, urgency=urgency).filter(specialty_id__in=[specialty_id])
        | ServiceLevelTarget.objects.filter(clock=clock, urgency=urgency, specialty__isnull=True)
    }
    if specialty_id in targets:
        return targets[specialty_id]
    if None in targets:
        return targets[None]
    return DEFAULT_TARGETS[(Clock(clock), Urgency(urgency))]


def due_for(status: str, specialty_id: int, urgency: str, started: datetime) -> datetime | None:
    clock = CLOCK_OF_STATUS.get(Status(status))
    if clock is None:
        return None
    return add_business_days(started, target_days(clock, specialty_id, urgency))
