"""Service-level clocks in business days: weekends and configured holidays skipped.

A clock has a deadline (``Referral.clock_due_at``): the end of the business
day that lies the target's number of business days after the step began. While
information is requested or the case is on hold the clock is paused; when it
resumes, the deadline moves out by the business days spent paused.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from time import monotonic

from django.db import transaction
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


@dataclass(frozen=True)
class Calendar:
    """Every holiday and every configured target: a few dozen rows, read on each referral move."""

    holidays: frozenset[date]
    targets: dict[tuple[str, int | None, str], int]  # (clock, specialty id or None, urgency) -> days


# Each process keeps the calendar this long; an edit reaches every server within it.
CALENDAR_MEMO_SECONDS = 30
_memo: tuple[float, Calendar] | None = None


def calendar() -> Calendar:
    """The holidays and targets, kept in this process for CALENDAR_MEMO_SECONDS.

    Every referral move computes a deadline from them; two queries (or a cache
    round trip) per move for tables an administrator edits a few times a year
    is the largest avoidable cost of a submit. ``calendar_changed`` drops the
    memo of the process that made the edit at once.
    """
    global _memo
    now = monotonic()
    if _memo is None or _memo[0] <= now:
        current = Calendar(
            holidays=frozenset(Holiday.objects.values_list("date", flat=True)),
            targets={
                (t.clock, t.specialty_id, t.urgency): t.business_days
                for t in ServiceLevelTarget.objects.only("clock", "specialty_id", "urgency", "business_days")
            },
        )
        _memo = (now + CALENDAR_MEMO_SECONDS, current)
    return _memo[1]


def calendar_changed() -> None:
    """Forget the calendar now and again at commit, so no later read keeps the old one.

    (An edit that is rolled back may linger in this process's memo for at most
    CALENDAR_MEMO_SECONDS.)
    """
    global _memo
    _memo = None
    transaction.on_commit(calendar_forget)


def calendar_forget() -> None:
    global _memo
    _memo = None


def holidays_between(start: date, end: date) -> set[date]:
    return {day for day in calendar().holidays if start <= day <= end}


def is_business_day(day: date, holidays: set[date]) -> bool:
    return day.weekday() < 5 and day not in holidays


def add_business_days(start: datetime, days: int, holidays: frozenset[date] | None = None) -> datetime:
    """The end of the business day ``days`` business days after ``start``'s day.

    0 means the same business day (or the next one, if ``start`` falls on a
    weekend or holiday). ``holidays`` defaults to the configured ones.
    """
    local = timezone.localtime(start)
    if holidays is None:
        holidays = calendar().holidays
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


def target_days(clock: str, specialty_id: int, urgency: str, targets: dict | None = None) -> int:
    """The specialty's own target, else the all-specialties one, else PRODUCT.md's default."""
    if targets is None:
        targets = calendar().targets
    for key in ((clock, specialty_id, urgency), (clock, None, urgency)):
        if key in targets:
            return targets[key]
    return DEFAULT_TARGETS[(Clock(clock), Urgency(urgency))]


def due_for(status: str, specialty_id: int, urgency: str, started: datetime) -> datetime | None:
    clock = CLOCK_OF_STATUS.get(Status(status))
    if clock is None:
        return None
    current = calendar()
    return add_business_days(started, target_days(clock, specialty_id, urgency, current.targets), current.holidays)
