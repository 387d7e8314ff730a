"""Reads for recognition and steering: credit, leaderboards, participation, the leadership dashboard.

Reads only. Every figure is an aggregate computed in the database (GROUP BY,
conditional counts, a window RANK), so a page costs the same number of
queries whatever the data. No patient identifier is selected anywhere here.
Entered-in-error referrals are excluded from every referral figure (their
credit is reversed in the ledger, so credit sums exclude them by themselves).

The pages read rollups (``referrals.rollups``): the dashboard sums day rows of
``ReferralDayCount`` and ``ReferralDayClock`` and scans the narrow
``ReferralFact`` index only for what is per reviewer; the leaderboards sum
``CreditMonth``. ``source="raw"`` computes the same figures from the referrals,
their events and the ledger: the reference the rollups are tested against.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.db.models import Count, F, Max, Min, Q, QuerySet, Sum, Value, Window
from django.db.models.functions import Rank, TruncWeek
from django.utils import timezone

from portal.models import Department, Profile, Specialty, User
from portal.roles import Role
from referrals import clocks
from referrals.models import (
    OUTCOME_COUNTS,
    SUMMARY_COUNTS,
    Channel,
    ClinicalImpact,
    Coverage,
    CreditEntry,
    CreditMonth,
    DiagnosisOutcome,
    DownstreamOutcome,
    Holiday,
    RecommendationFollowed,
    Referral,
    ReferralDayClock,
    ReferralDayCount,
    ReferralEvent,
    ReferralFact,
    ServiceLevelTarget,
    TreatmentOutcome,
)
from referrals.workflow import OPEN, Status

# --- Periods ----------------------------------------------------------------------------------

PERIODS = {"month": "This month", "quarter": "This quarter", "year": "This year"}


def period_start(period: str, today: date | None = None) -> datetime:
    """Local midnight on the first day of this calendar month, quarter or year."""
    today = today or timezone.localdate()
    if period == "year":
        first = today.replace(month=1, day=1)
    elif period == "quarter":
        first = today.replace(month=3 * ((today.month - 1) // 3) + 1, day=1)
    else:
        first = today.replace(day=1)
    return local_midnight(first)


def local_midnight(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


# --- Percentiles --------------------------------------------------------------------------------


def percentile(values: list[float], fraction: float) -> float | None:
    """Linear interpolation between closest ranks (PostgreSQL's percentile_cont); None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def percentile_of_counts(counts: dict[int, int], fraction: float) -> float | None:
    """``percentile`` of the values a histogram {value: how many} stands for, without expanding it."""
    total = sum(counts.values())
    if not total:
        return None
    position = fraction * (total - 1)
    low_rank, high_rank = math.floor(position), math.ceil(position)
    low = high = None
    seen = 0
    for value in sorted(counts):
        seen += counts[value]
        if low is None and seen > low_rank:
            low = value
        if seen > high_rank:
            high = value
            break
    return low + (high - low) * (position - low_rank)


# --- Credit and leaderboards -------------------------------------------------------------------


def credit_total(*, user: User, since: datetime | None = None) -> int:
    qs = CreditEntry.objects.filter(person=user)
    if since is not None:
        qs = qs.filter(created_at__gte=since)
    return qs.aggregate(total=Sum("points"))["total"] or 0


def credit_by_rule(*, user: User) -> list[dict]:
    """Where my points came from: per rule, how many awards stand and the points they hold."""
    return list(
        CreditEntry.objects.filter(person=user)
        .values("rule__code", "rule__name")
        .annotate(
            points=Sum("points"),
            awards=Count("pk", filter=Q(reverses__isnull=True)),
            reversed=Count("pk", filter=Q(reverses__isnull=False)),
        )
        .order_by("-points", "rule__name")
    )


def credit_recent(*, user: User, limit: int = 20) -> QuerySet[CreditEntry]:
    """My latest entries, naming the referral by reference only (no patient data) or the course."""
    return (
        CreditEntry.objects.filter(person=user)
        .select_related("rule", "referral", "course")
        .only("id", "points", "reason", "created_at", "rule__name", "referral__reference", "course__title")
        .order_by("-created_at", "-id")[:limit]
    )


def _credit_since(since: datetime, source: str = "rollup") -> QuerySet:
    """Credit earned since ``since``: the monthly rollup when ``since`` starts a month, else the ledger.

    Both have person, department and points, so the leaderboards read either
    the same way; ``source="raw"`` forces the ledger (the tests' reference and
    the benchmark's baseline).
    """
    local = timezone.localtime(since)
    if source == "rollup" and local == local_midnight(local.date().replace(day=1)):
        return CreditMonth.objects.filter(month__gte=local.date())
    return CreditEntry.objects.filter(created_at__gte=since)


def _people_points(since: datetime, source: str = "rollup") -> QuerySet:
    return _credit_since(since, source).values("person_id").annotate(points=Sum("points")).filter(points__gt=0)


@dataclass
class Standing:
    rank: int
    points: int
    name: str
    department: str
    is_you: bool = False
    hidden: bool = False
    person_id: int | None = None
    extra: dict = field(default_factory=dict)


HIDDEN_NAME = "Name hidden"


def people_standings(
    *, since: datetime, viewer: User | None = None, limit: int | None = 25, source: str = "rollup"
) -> list[Standing]:
    """People by points since ``since``; ties share a rank (competition ranking: 1, 2, 2, 4).

    A person who chose to hide their name keeps their place, shown without name
    or department (to everyone but themselves).
    """
    rows = (
        _people_points(since, source)
        .annotate(rank=Window(Rank(), order_by=F("points").desc()))
        .values(
            "person_id",
            "points",
            "rank",
            "person__first_name",
            "person__last_name",
            "person__email",
            "person__profile__hide_from_leaderboards",
            "person__profile__department__name",
        )
        .order_by("rank", "person__last_name", "person__first_name", "person_id")
    )
    if limit is not None:
        rows = rows[:limit]
    viewer_id = viewer.pk if viewer is not None else None
    standings = []
    for row in rows:
        hidden = bool(row["person__profile__hide_from_leaderboards"])
        is_you = row["person_id"] == viewer_id
        name = f"{row['person__first_name']} {row['person__last_name']}".strip() or row["person__email"]
        standings.append(
            Standing(
                rank=row["rank"],
                points=row["points"],
                name=HIDDEN_NAME if hidden and not is_you else name,
                department="" if hidden and not is_you else (row["person__profile__department__name"] or ""),
                is_you=is_you,
                hidden=hidden,
                person_id=None if hidden and not is_you else row["person_id"],
            )
        )
    return standings


def _rank_among(ranked: QuerySet, points: int) -> tuple[int | None, int]:
    """(competition rank of ``points`` or None when not positive, how many are ranked), in one query."""
    counts = ranked.aggregate(ranked=Count("points"), above=Count("points", filter=Q(points__gt=points)))
    return (counts["above"] + 1 if points > 0 else None), counts["ranked"]


def person_rank(
    *, user: User, since: datetime, points: int | None = None, source: str = "rollup"
) -> tuple[int | None, int, int]:
    """(my rank or None without points, how many people are ranked, my points) since ``since``.

    Two queries; one when the caller already knows my points for the period.
    """
    if points is None:
        points = credit_total(user=user, since=since)
    rank, total = _rank_among(_people_points(since, source), points)
    return rank, total, points


def credit_by_period(*, user: User | None = None, department_id: int | None = None) -> dict[str, int]:
    """Points this month, quarter and year, and of all time, for a person or a department, in one query.

    A person's from the ledger (their own rows, by index); a department's from
    the monthly rollup (a department's ledger rows run into the hundreds of thousands).
    """
    if user is not None:
        qs = CreditEntry.objects.filter(person=user)
        sums = {f"in_{period}": Sum("points", filter=Q(created_at__gte=period_start(period))) for period in PERIODS}
    else:
        qs = CreditMonth.objects.filter(department_id=department_id)
        sums = {
            f"in_{period}": Sum("points", filter=Q(month__gte=timezone.localtime(period_start(period)).date()))
            for period in PERIODS
        }
    totals = qs.aggregate(total=Sum("points"), **sums)
    return {key.removeprefix("in_"): value or 0 for key, value in totals.items()}


def department_standings(*, since: datetime, source: str = "rollup") -> list[Standing]:
    """Departments by points since ``since`` (everyone counts, hidden names too), with points per 100 staff."""
    rows = (
        _credit_since(since, source)
        .filter(department__isnull=False)
        .values("department_id", "department__name", "department__headcount")
        .annotate(points=Sum("points"), people=Count("person", distinct=True))
        .filter(points__gt=0)
        .annotate(rank=Window(Rank(), order_by=F("points").desc()))
        .order_by("rank", "department__name")
    )
    return [
        Standing(
            rank=row["rank"],
            points=row["points"],
            name=row["department__name"],
            department=row["department__name"],
            person_id=None,
            extra={
                "department_id": row["department_id"],
                "people": row["people"],
                "per_100_staff": _per_100(row["points"], row["department__headcount"]),
            },
        )
        for row in rows
    ]


def _per_100(count: int, headcount: int | None) -> float | None:
    return round(100 * count / headcount, 1) if headcount else None


def department_rank(
    *, department_id: int | None, since: datetime, points: int | None = None, source: str = "rollup"
) -> tuple[int | None, int, int]:
    """(my department's rank or None, departments ranked, its points) since ``since``."""
    ranked = (
        _credit_since(since, source)
        .filter(department__isnull=False)
        .values("department_id")
        .annotate(points=Sum("points"))
        .filter(points__gt=0)
    )
    if department_id is None:
        return None, ranked.count(), 0
    if points is None:
        points = _credit_since(since, source).filter(department_id=department_id).aggregate(p=Sum("points"))["p"] or 0
    rank, total = _rank_among(ranked, points)
    return rank, total, points


# --- Referral cohorts and filters -----------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    """A dashboard's period (local dates, both included) and optional department, specialty, channel."""

    start: date
    end: date
    department_id: int | None = None
    specialty_id: int | None = None
    channel: str = ""

    def cohort(self) -> QuerySet[Referral]:
        """Referrals submitted in the period that match the filters; never the ones entered in error."""
        qs = Referral.objects.exclude(status=Status.ENTERED_IN_ERROR).filter(
            submitted_at__gte=local_midnight(self.start), submitted_at__lt=local_midnight(self.end + timedelta(days=1))
        )
        return self._narrowed(qs)

    def facts(self) -> QuerySet[ReferralFact]:
        """The same cohort in the dashboard's rollup (which holds no entered-in-error referral)."""
        return self._narrowed(ReferralFact.objects.filter(submitted_on__gte=self.start, submitted_on__lte=self.end))

    def grouping(self, breakdown: str | None = None) -> int:
        """The day rollup's grouping that holds this filter set broken down by one dimension (or none)."""
        bits = {
            "department": ReferralDayCount.DEPARTMENT,
            "specialty": ReferralDayCount.SPECIALTY,
            "channel": ReferralDayCount.CHANNEL,
        }
        return (
            (bits["department"] if self.department_id else 0)
            | (bits["specialty"] if self.specialty_id else 0)
            | (bits["channel"] if self.channel else 0)
            | (bits[breakdown] if breakdown else 0)
        )

    def dimension_filters(self) -> Q:
        q = Q()
        if self.department_id:
            q &= Q(department_id=self.department_id)
        if self.specialty_id:
            q &= Q(specialty_id=self.specialty_id)
        if self.channel:
            q &= Q(channel=self.channel)
        return q

    def day_counts(self) -> QuerySet[ReferralDayCount]:
        """The day rollup's rows for this period and these filters."""
        rows = ReferralDayCount.objects.filter(grouping=self.grouping(), day__gte=self.start, day__lte=self.end)
        return rows.filter(self.dimension_filters())

    def _narrowed(self, qs: QuerySet) -> QuerySet:
        return qs.filter(self.dimension_filters())


def _share(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def volume_by_week(qs: QuerySet[Referral], start: date | None = None, end: date | None = None) -> list[dict]:
    """Referrals per week (weeks start on Monday); with a period, its weeks without referrals show as 0."""
    if qs.model is Referral:
        qs = qs.annotate(week=TruncWeek("submitted_at"))
    rows = qs.values("week").annotate(referrals=Count("pk")).order_by("week")
    return _weeks_of({_as_date(r["week"]): r["referrals"] for r in rows}, start, end)


def _weeks_of(counts: dict, start: date | None, end: date | None) -> list[dict]:
    if start is not None and end is not None:
        week = start - timedelta(days=start.weekday())
        while week <= end:
            counts.setdefault(week, 0)
            week += timedelta(days=7)
    return [{"week": week, "referrals": counts[week]} for week in sorted(counts)]


def _as_date(value) -> date:
    return timezone.localtime(value).date() if isinstance(value, datetime) else value


def volume_by(qs: QuerySet[Referral], dimension: str) -> list[dict]:
    """Referrals per channel, department or specialty, largest first."""
    column = VOLUME_COLUMNS[dimension]
    return _volume_rows(qs.values(column).annotate(referrals=Count("pk")).order_by(), dimension)


VOLUME_COLUMNS = {"channel": "channel", "department": "department__name", "specialty": "specialty__name"}


def _volume_rows(rows, dimension: str) -> list[dict]:
    """Largest first, then by name (sorted here, so the rollup and the raw tables order ties alike)."""
    column = VOLUME_COLUMNS[dimension]
    totals: dict = defaultdict(int)
    for row in rows:
        totals[row[column]] += row["referrals"]
    labels = dict(Channel.choices)
    out = []
    for value, referrals in sorted(totals.items(), key=lambda item: (-item[1], item[0] is None, item[0] or "")):
        label = labels.get(value, value) if dimension == "channel" else value
        out.append({dimension: label or "No department", "referrals": referrals})
    return out


def day_volumes(filters: Filters) -> dict[str, list[dict]]:
    """``volume_by`` for channel, department and specialty from the day rollup, in one query.

    Also ``"specialty_ids"``: {specialty id: referrals}, what the participation
    table counts per specialty, from the same rows.
    """
    groupings = {dimension: filters.grouping(dimension) for dimension in VOLUME_COLUMNS}
    rows = list(
        ReferralDayCount.objects.filter(
            grouping__in=set(groupings.values()), day__gte=filters.start, day__lte=filters.end
        )
        .filter(filters.dimension_filters())
        .values("grouping", "specialty_id", *VOLUME_COLUMNS.values())
        .annotate(referrals=Sum("submitted"))
        .order_by()
    )
    volumes = {
        dimension: _volume_rows([row for row in rows if row["grouping"] == grouping], dimension)
        for dimension, grouping in groupings.items()
    }
    by_specialty: dict[int, int] = defaultdict(int)
    for row in rows:
        if row["grouping"] == groupings["specialty"]:
            by_specialty[row["specialty_id"]] += row["referrals"]
    volumes["specialty_ids"] = dict(by_specialty)
    return volumes


def day_referrals_by_specialty(filters: Filters) -> dict[int, int]:
    """{specialty id: referrals} of the period and filters, from the day rollup."""
    rows = (
        ReferralDayCount.objects.filter(
            grouping=filters.grouping("specialty"), day__gte=filters.start, day__lte=filters.end
        )
        .filter(filters.dimension_filters())
        .values("specialty_id")
        .annotate(referrals=Sum("submitted"))
        .order_by()
    )
    return {row["specialty_id"]: row["referrals"] for row in rows}


FUNNEL_STEPS = [
    ("submitted", "Submitted"),
    ("accepted", "Accepted"),
    ("claimed", "Claimed by a reviewer"),
    ("delivered", "Opinion delivered"),
    ("scheduled_here", "Scheduled for care here"),
]


def _steps(qs: QuerySet) -> tuple[Q, Q, Q]:
    """(delivered, accepted, claimed) as conditions on the referrals or on their rollup rows."""
    if qs.model is ReferralFact:
        return Q(was_delivered=True), Q(was_accepted=True), Q(was_claimed=True)
    delivered = Q(opinion_delivered_at__isnull=False)
    return delivered, Q(accepted_at__isnull=False), Q(claimed_at__isnull=False) | delivered


def summary_counts(qs: QuerySet) -> dict[str, Count]:
    """The counts behind ``summary`` as aggregates, keyed as ``SUMMARY_KEYS`` (also the day rollup's columns)."""
    delivered, accepted, claimed = _steps(qs)
    with_referrer = Q(referrer__isnull=False)
    return dict(
        submitted=Count("pk"),
        accepted=Count("pk", filter=accepted),
        claimed=Count("pk", filter=claimed),
        delivered=Count("pk", filter=delivered),
        scheduled_here=Count("pk", filter=Q(downstream_outcome=DownstreamOutcome.SCHEDULED_HERE)),
        declined=Count("pk", filter=Q(status=Status.DECLINED)),
        cancelled=Count("pk", filter=Q(status=Status.CANCELLED)),
        still_open=Count("pk", filter=Q(status__in=list(OPEN))),
        with_referrer=Count("pk", filter=with_referrer),
        loop_closed=Count("pk", filter=with_referrer & delivered),
        self_pay=Count("pk", filter=Q(coverage=Coverage.SELF_PAY)),
        self_pay_delivered=Count("pk", filter=Q(coverage=Coverage.SELF_PAY) & delivered),
        financial_assistance=Count("pk", filter=Q(coverage=Coverage.FINANCIAL_ASSISTANCE)),
        financial_assistance_delivered=Count("pk", filter=Q(coverage=Coverage.FINANCIAL_ASSISTANCE) & delivered),
        interpreter=Count("pk", filter=Q(interpreter_needed=True)),
        interpreter_delivered=Count("pk", filter=Q(interpreter_needed=True) & delivered),
        internal=Count("pk", filter=Q(channel=Channel.STAFF_PORTAL)),
        concierge=Count("pk", filter=Q(channel=Channel.CONCIERGE)),
        other_channels=Count("pk", filter=Q(channel__in=[Channel.PUBLIC_WEB, Channel.OTHER])),
    )


SUMMARY_KEYS = SUMMARY_COUNTS


def summary(qs: QuerySet[Referral]) -> dict:
    """The funnel, endings, loop closure, equity and internal vs concierge volume, in one query."""
    return summary_from(qs.aggregate(**summary_counts(qs)))


def summary_from(counts: dict) -> dict:
    """``summary``'s figures from its counts (read from the referrals, or summed from the day rollup)."""
    counts = {key: counts[key] or 0 for key in SUMMARY_KEYS}
    total = counts["submitted"]
    counts["loop_closure_rate"] = _share(counts["loop_closed"], counts["with_referrer"])
    counts["funnel"] = [
        {"step": label, "referrals": counts[key], "share_of_submitted": _share(counts[key], total)}
        for key, label in FUNNEL_STEPS
    ]
    counts["equity"] = [
        {
            "group": label,
            "referrals": counts[key],
            "share_of_all": _share(counts[key], total),
            "opinion_delivered": counts[f"{key}_delivered"],
            "delivered_rate": _share(counts[f"{key}_delivered"], counts[key]),
        }
        for key, label in (
            ("self_pay", "Self-pay"),
            ("financial_assistance", "Financial assistance requested"),
            ("interpreter", "Interpreter needed"),
        )
    ]
    counts["equity"].append(
        {
            "group": "All referrals",
            "referrals": total,
            "share_of_all": _share(total, total),
            "opinion_delivered": counts["delivered"],
            "delivered_rate": _share(counts["delivered"], total),
        }
    )
    counts["sources"] = [
        {
            "source": "Internal (staff portal)",
            "referrals": counts["internal"],
            "share": _share(counts["internal"], total),
        },
        {"source": "Concierge partners", "referrals": counts["concierge"], "share": _share(counts["concierge"], total)},
        {
            "source": "Public web and other",
            "referrals": counts["other_channels"],
            "share": _share(counts["other_channels"], total),
        },
    ]
    return counts


OUTCOME_MEASURES = [
    ("diagnosis_outcome", "Diagnosis", DiagnosisOutcome),
    ("treatment_outcome", "Treatment", TreatmentOutcome),
    ("clinical_impact", "Clinical impact", ClinicalImpact),
    ("downstream_outcome", "Downstream", DownstreamOutcome),
    ("recommendation_followed", "Recommendation followed", RecommendationFollowed),
]


OUTCOME_KEYS = OUTCOME_COUNTS


def outcome_counts(qs: QuerySet) -> dict[str, Count]:
    """How many referrals have each value of each outcome measure, keyed as ``OUTCOME_KEYS``."""
    return {
        f"{column}_{value}": Count("pk", filter=Q(**{column: value}))
        for column, _, choices in OUTCOME_MEASURES
        for value in choices.values
    }


def outcome_mix(qs: QuerySet[Referral]) -> list[dict]:
    """Each outcome measure's values among delivered opinions (closed cases for the downstream ones), one query."""
    return outcome_mix_from(qs.aggregate(**outcome_counts(qs)))


def outcome_mix_from(counts: dict) -> list[dict]:
    rows = []
    for column, measure, choices in OUTCOME_MEASURES:
        recorded = sum(counts[f"{column}_{value}"] or 0 for value in choices.values)
        for value, label in choices.choices:
            n = counts[f"{column}_{value}"] or 0
            rows.append({"measure": measure, "outcome": label, "referrals": n, "share": _share(n, recorded)})
    return rows


# --- Service-level clocks, in business days with holds and questions paused ------------------------

CLOCKS = [
    (ServiceLevelTarget.Clock.TRIAGE, "Triage", "submitted_at", "triage_end"),
    (ServiceLevelTarget.Clock.QUEUE, "Queue", "accepted_at", "claimed_at"),
    (ServiceLevelTarget.Clock.REVIEW, "Review", "review_started_at", "opinion_delivered_at"),
]
_PAUSE_KINDS = {
    ReferralEvent.Kind.HOLD_SET: ("hold", True),
    ReferralEvent.Kind.HOLD_CLEARED: ("hold", False),
    ReferralEvent.Kind.INFO_REQUESTED: ("info", True),
    ReferralEvent.Kind.INFO_ANSWERED: ("info", False),
}
_CLOCK_COLUMNS = (
    "id",
    "status",
    "specialty_id",
    "urgency",
    "reviewer_id",
    "submitted_at",
    "accepted_at",
    "claimed_at",
    "review_started_at",
    "opinion_delivered_at",
    "ended_at",
)


def pause_intervals(events: list[tuple[str, datetime]]) -> list[tuple[datetime, datetime | None]]:
    """Intervals during which a hold or an open question paused the clocks (None: still paused)."""
    open_flags: set[str] = set()
    intervals: list[tuple[datetime, datetime | None]] = []
    started = None
    for kind, at in sorted(events, key=lambda e: e[1]):
        flag, on = _PAUSE_KINDS[kind]
        was_paused = bool(open_flags)
        if on:
            open_flags.add(flag)
        else:
            open_flags.discard(flag)
        if not was_paused and open_flags:
            started = at
        elif was_paused and not open_flags:
            intervals.append((started, at))
    if open_flags:
        intervals.append((started, None))
    return intervals


class BusinessCalendar:
    """Business days between two moments, counted like ``referrals.clocks`` with holidays read once."""

    def __init__(self, holidays: set[date]):
        self.holidays = holidays
        # Business days from an origin up to each day, so a count is one subtraction
        # (a year's dashboard asks for tens of thousands of them).
        self._origin: date | None = None
        self._running: list[int] = []
        self._tz = timezone.get_current_timezone()  # looked up once: per call it costs more than the count

    def _through(self, day: date) -> int:
        """Business days from the origin up to and including ``day``."""
        if self._origin is None or day < self._origin:
            self._origin = day - timedelta(days=1)
            self._running = [0]
        index = (day - self._origin).days
        while len(self._running) <= index:
            next_day = self._origin + timedelta(days=len(self._running))
            self._running.append(self._running[-1] + clocks.is_business_day(next_day, self.holidays))
        return self._running[index]

    def between(self, start: datetime, end: datetime) -> int:
        first = start.astimezone(self._tz).date() + timedelta(days=1)
        last = end.astimezone(self._tz).date()
        if last < first:
            return 0
        before = self._through(first - timedelta(days=1))  # the earlier day first: it may move the origin back
        return self._through(last) - before

    def paused_between(self, start: datetime, end: datetime, intervals) -> int:
        days = 0
        for pause_start, pause_end in intervals:
            lo, hi = max(start, pause_start), min(end, pause_end or end)
            if hi > lo:
                days += self.between(lo, hi)
        return days

    def clock_days(self, start: datetime, end: datetime, intervals) -> int:
        return max(0, self.between(start, end) - self.paused_between(start, end, intervals))


@dataclass
class ClockRows:
    """Per referral in a cohort: its timestamps and pause intervals; read in three queries."""

    rows: list[dict]
    pauses: dict[int, list]
    calendar: BusinessCalendar
    _spans: dict = field(default_factory=dict)  # (start column, end column) -> [(row, business days)]

    def span(self, start_col: str, end_col: str) -> list[tuple[dict, int]]:
        """Business days from one timestamp to another, pauses taken off, for every row that has both."""
        key = (start_col, end_col)
        if key not in self._spans:
            self._spans[key] = [
                (row, self.calendar.clock_days(row[start_col], row[end_col], self.pauses.get(row["id"], ())))
                for row in self.rows
                if row[start_col] is not None and row[end_col] is not None
            ]
        return self._spans[key]

    def durations(self, clock: str) -> list[tuple[dict, int]]:
        _, _, start_col, end_col = next(c for c in CLOCKS if c[0] == clock)
        return self.span(start_col, end_col)

    def claim_to_delivery(self) -> list[tuple[dict, int]]:
        return self.span("claimed_at", "opinion_delivered_at")


def clock_rows(qs: QuerySet[Referral], extra_columns: tuple[str, ...] = ()) -> ClockRows:
    rows = list(qs.order_by().values(*_CLOCK_COLUMNS, *extra_columns))
    for row in rows:
        # Triage ends at acceptance, or at a decline (a cancel before triage is no triage).
        row["triage_end"] = row["accepted_at"] or (row["ended_at"] if row["status"] == Status.DECLINED else None)
    events: dict[int, list] = defaultdict(list)
    for referral_id, kind, at in (
        ReferralEvent.objects.filter(referral__in=qs.order_by().values("id"), kind__in=list(_PAUSE_KINDS))
        .order_by()
        .values_list("referral_id", "kind", "created_at")
    ):
        events[referral_id].append((kind, at))
    pauses = {rid: pause_intervals(evs) for rid, evs in events.items()}
    starts = [row["submitted_at"] for row in rows]
    holidays: set[date] = set()
    if starts:
        first = timezone.localtime(min(starts)).date()
        holidays = set(Holiday.objects.filter(date__gte=first).values_list("date", flat=True))
    return ClockRows(rows=rows, pauses=pauses, calendar=BusinessCalendar(holidays))


def _targets() -> dict:
    table = {(t.clock, t.specialty_id, t.urgency): t.business_days for t in ServiceLevelTarget.objects.all()}

    def target(clock, specialty_id, urgency):
        for key in ((clock, specialty_id, urgency), (clock, None, urgency)):
            if key in table:
                return table[key]
        return clocks.DEFAULT_TARGETS[(clock, urgency)]

    return target


def clock_figures(rows: ClockRows) -> list[dict]:
    """Each clock's count, median and 90th percentile in business days, and how many ran past target."""
    target = _targets()
    out = []
    for clock, label, _, _ in CLOCKS:
        durations = rows.durations(clock)
        days = [d for _, d in durations]
        late = sum(1 for row, d in durations if d > target(clock, row["specialty_id"], row["urgency"]))
        out.append(
            {
                "clock": label,
                "completed": len(days),
                "median_business_days": _round(percentile(days, 0.5)),
                "p90_business_days": _round(percentile(days, 0.9)),
                "past_target": late,
                "within_target_share": _share(len(days) - late, len(days)),
            }
        )
    return out


def _fact_histograms(qs: QuerySet[ReferralFact], column: str, by: str | None = None) -> dict:
    """{group: {business days: (how many, how many late)}} of one finished clock, in one query."""
    late_column = column.replace("_days", "_late")
    has_target = late_column in {f.name for f in ReferralFact._meta.fields}
    fields = [column] if by is None else [by, column]
    rows = (
        qs.filter(**{f"{column}__isnull": False})
        .values(*fields)
        .annotate(n=Count("pk"), late=Count("pk", filter=Q(**{late_column: True})) if has_target else Value(0))
        .order_by()
    )
    out: dict = defaultdict(dict)
    for row in rows:
        out[row[by] if by else None][row[column]] = (row["n"], row["late"])
    return out


def _day_clock_histograms(filters: Filters) -> dict:
    """{(clock, specialty id, None for all): {business days: (finished, past target)}}, one query of the day rollup."""
    rows = ReferralDayClock.objects.filter(day__gte=filters.start, day__lte=filters.end)
    out: dict = defaultdict(dict)
    for row in (
        rows.values("clock", "specialty_id", "business_days")
        .annotate(n=Sum("finished"), late=Sum("past_target"))
        .order_by()
    ):
        out[(row["clock"], row["specialty_id"])][row["business_days"]] = (row["n"], row["late"])
    return out


def _clock_figure(label: str, histogram: dict) -> dict:
    counts = {days: n for days, (n, _) in histogram.items()}
    completed = sum(counts.values())
    late = sum(late for _, late in histogram.values())
    return {
        "clock": label,
        "completed": completed,
        "median_business_days": _round(percentile_of_counts(counts, 0.5)),
        "p90_business_days": _round(percentile_of_counts(counts, 0.9)),
        "past_target": late,
        "within_target_share": _share(completed - late, completed),
    }


def day_clock_figures(histograms: dict) -> list[dict]:
    """``clock_figures`` for the whole hospital from the clocks' day rollup (``_day_clock_histograms``)."""
    return [_clock_figure(label, histograms.get((clock, None), {})) for clock, label, _, _ in CLOCKS]


def fact_clock_figures(qs: QuerySet[ReferralFact]) -> list[dict]:
    """``clock_figures`` from the rollup: each clock's histogram of business days, one query a clock."""
    return [_clock_figure(label, _fact_histograms(qs, f"{clock}_days").get(None, {})) for clock, label, _, _ in CLOCKS]


def _round(value):
    return None if value is None else round(value, 1)


def open_past_target(qs: QuerySet[Referral]) -> list[dict]:
    """Open cases whose running clock is past its deadline now (paused clocks are not running)."""
    now = timezone.now()
    rows = (
        qs.filter(status__in=list(clocks.CLOCK_OF_STATUS), clock_due_at__lt=now, clock_paused_at__isnull=True)
        .values("status")
        .annotate(cases=Count("status"))  # a column of the running-clock index: an index-only scan
    )
    by_status = {r["status"]: r["cases"] for r in rows}
    return [
        {"clock": label, "open_cases_past_target": by_status.get(status, 0)}
        for status, clock in clocks.CLOCK_OF_STATUS.items()
        for code, label, _, _ in CLOCKS
        if code == clock
    ]


# --- Participation ------------------------------------------------------------------------------------


def _name(first: str, last: str, email: str) -> str:
    return f"{first} {last}".strip() or email


def fact_groups(qs: QuerySet[ReferralFact]) -> list[dict]:
    """One pass over the facts' reviewer index: per specialty, reviewer and claim → delivery days, how many.

    What the participation tables need that the day rollup cannot give (per
    reviewer, distinct reviewers), for both tables at once. Only referrals
    with a reviewer: the index is partial, so the unclaimed ones (a quarter
    of the latest weeks) are not read at all; the referrals per specialty
    come from the day rollup instead.
    """
    return list(
        qs.filter(reviewer__isnull=False)
        .values("specialty_id", "reviewer_id", "claim_to_delivery_days")
        # Counting a column of the index (never null), not the pk, keeps this an index-only scan.
        .annotate(n=Count("submitted_on"), delivered=Count("submitted_on", filter=Q(was_delivered=True)))
        .order_by()
    )


def _reviewer_order(row: dict) -> tuple:
    return (-row["delivered"], -row["claimed"], row["last_name"], row["reviewer_id"])


def reviewer_participation(
    qs: QuerySet[Referral], rows: ClockRows | None, groups: list[dict] | None = None
) -> list[dict]:
    """Per reviewer: cases claimed (and still theirs), opinions delivered, median claim → delivery."""
    if groups is None and rows is None:
        groups = fact_groups(qs)
    if groups is not None:  # the facts
        per: dict[int, dict] = {}
        for g in groups:
            mine = per.setdefault(g["reviewer_id"], {"claimed": 0, "delivered": 0, "days": {}})
            mine["claimed"] += g["n"]
            mine["delivered"] += g["delivered"]
            if g["claim_to_delivery_days"] is not None:
                mine["days"][g["claim_to_delivery_days"]] = g["n"]
        people = User.objects.filter(pk__in=list(per)).values_list("pk", "first_name", "last_name", "email")
        counts = [
            {
                "reviewer_id": pk,
                "first_name": first,
                "last_name": last,
                "email": email,
                "claimed": per[pk]["claimed"],
                "delivered": per[pk]["delivered"],
            }
            for pk, first, last, email in people
        ]
        median = {rid: percentile_of_counts(mine["days"], 0.5) for rid, mine in per.items()}
    else:
        counts = list(
            qs.filter(reviewer__isnull=False)
            .values("reviewer_id", first_name=F("reviewer__first_name"), last_name=F("reviewer__last_name"))
            .annotate(
                email=F("reviewer__email"),
                claimed=Count("pk"),
                delivered=Count("pk", filter=_steps(qs)[0]),
            )
            .order_by()
        )
        per_reviewer: dict[int, list[int]] = defaultdict(list)
        for row, days in rows.claim_to_delivery():
            per_reviewer[row["reviewer_id"]].append(days)
        median = {rid: percentile(days, 0.5) for rid, days in per_reviewer.items()}
    return [
        {
            "reviewer": _name(r["first_name"], r["last_name"], r["email"]),
            "claimed": r["claimed"],
            "delivered": r["delivered"],
            "median_claim_to_delivery_business_days": _round(median.get(r["reviewer_id"])),
        }
        for r in sorted(counts, key=_reviewer_order)
    ]


def _median_by(histograms: dict) -> dict:
    return {key: percentile_of_counts({d: n for d, (n, _) in h.items()}, 0.5) for key, h in histograms.items()}


def specialty_participation(
    qs: QuerySet[Referral],
    rows: ClockRows | None,
    day_histograms: dict | None = None,
    groups: list[dict] | None = None,
    referrals_by_specialty: dict[int, int] | None = None,
) -> list[dict]:
    """Per specialty: referrals, median time in queue, active reviewers ÷ credentialed reviewers.

    From the referrals and their clock rows; or from the facts (``rows`` None),
    with the queue medians from the clocks' day rollup (``day_histograms``)
    for an unfiltered period and the referrals per specialty from the day
    rollup (``referrals_by_specialty``) when the caller has them.
    """
    through = Profile.review_specialties.through
    credentialed = dict(
        through.objects.filter(profile__user__is_active=True, profile__user__groups__name=Role.REVIEWER)
        .values("specialty_id")
        .annotate(n=Count("profile_id", distinct=True))
        .values_list("specialty_id", "n")
    )
    if rows is None:
        if groups is None:
            groups = fact_groups(qs)
        if referrals_by_specialty is None:
            referrals_by_specialty = dict(
                qs.values("specialty_id").annotate(n=Count("submitted_on")).order_by().values_list("specialty_id", "n")
            )
        reviewers: dict[int, set] = defaultdict(set)
        for g in groups:
            reviewers[g["specialty_id"]].add(g["reviewer_id"])
        activity = {
            sid: {"referrals": n, "active_reviewers": len(reviewers.get(sid, ()))}
            for sid, n in referrals_by_specialty.items()
        }
        if day_histograms is not None:
            queue = ServiceLevelTarget.Clock.QUEUE
            median = _median_by({sid: h for (clock, sid), h in day_histograms.items() if clock == queue and sid})
        else:
            median = _median_by(_fact_histograms(qs, "queue_days", by="specialty_id"))
    else:
        activity = {
            r["specialty_id"]: r
            for r in qs.values("specialty_id").annotate(
                referrals=Count("pk"), active_reviewers=Count("reviewer", distinct=True)
            )
        }
        queue: dict[int, list[int]] = defaultdict(list)
        for row, days in rows.durations(ServiceLevelTarget.Clock.QUEUE):
            queue[row["specialty_id"]].append(days)
        median = {sid: percentile(days, 0.5) for sid, days in queue.items()}
    out = []
    for specialty in Specialty.objects.filter(Q(is_active=True) | Q(pk__in=list(activity))).order_by("name"):
        act = activity.get(specialty.pk, {"referrals": 0, "active_reviewers": 0})
        n_credentialed = credentialed.get(specialty.pk, 0)
        out.append(
            {
                "specialty": specialty.name,
                "referrals": act["referrals"],
                "median_queue_business_days": _round(median.get(specialty.pk)),
                "active_reviewers": act["active_reviewers"],
                "credentialed_reviewers": n_credentialed,
                "active_share": _share(act["active_reviewers"], n_credentialed),
            }
        )
    return out


def department_participation(qs: QuerySet[Referral]) -> list[dict]:
    """Per department: referrals, referring clinicians, referrals per 100 staff, required-training completion.

    Training completion is the education app's: (person, required course)
    pairs complete out of those required, as Learn counts them today.
    """
    from education.selectors import completion_rates_by_department

    activity = {
        r["department_id"]: r
        for r in qs.filter(department__isnull=False)
        .values("department_id")
        .annotate(referrals=Count("pk"), referrers=Count("referrer", distinct=True))
    }
    training = {row.department_id: row for row in completion_rates_by_department()}
    out = []
    for department in Department.objects.order_by("name"):
        act = activity.get(department.pk, {"referrals": 0, "referrers": 0})
        out.append(
            {
                "department": department.name,
                "referrals": act["referrals"],
                "referring_clinicians": act["referrers"],
                "referrals_per_100_staff": _per_100(act["referrals"], department.headcount),
                "training_required": training[department.pk].required if department.pk in training else 0,
                "training_complete": training[department.pk].complete if department.pk in training else 0,
                "training_overdue": training[department.pk].overdue if department.pk in training else 0,
                "training_share": (
                    _share(training[department.pk].complete, training[department.pk].required)
                    if department.pk in training
                    else None
                ),
            }
        )
    return out


LAPSED_AFTER_DAYS = 90


def referrer_outreach(*, today: date | None = None, limit: int = 15, source: str = "rollup") -> dict[str, list[dict]]:
    """New, top and lapsed referrers for coordinator outreach, relative to the last 90 days.

    new: first referral within the last 90 days; top: most referrals in the
    last 90 days; lapsed: referred before, none in the last 90 days.
    """
    today = today or timezone.localdate()
    if source == "rollup":
        cutoff, submitted = today - timedelta(days=LAPSED_AFTER_DAYS), "submitted_on"
        referrals = ReferralFact.objects.all()
    else:
        cutoff, submitted = local_midnight(today - timedelta(days=LAPSED_AFTER_DAYS)), "submitted_at"
        referrals = Referral.objects.exclude(status=Status.ENTERED_IN_ERROR)
    base = (
        referrals.filter(referrer__isnull=False)
        .values(
            "referrer_id",
            "referrer__first_name",
            "referrer__last_name",
            "referrer__email",
            "referrer__profile__department__name",
        )
        .annotate(
            first=Min(submitted),
            last=Max(submitted),
            total=Count("pk"),
            recent=Count("pk", filter=Q(**{f"{submitted}__gte": cutoff})),
        )
    )

    def shape(rows):
        return [
            {
                "referrer": _name(r["referrer__first_name"], r["referrer__last_name"], r["referrer__email"]),
                "department": r["referrer__profile__department__name"] or "",
                "referrals_last_90_days": r["recent"],
                "referrals_ever": r["total"],
                "first_referral": _as_date(r["first"]),
                "last_referral": _as_date(r["last"]),
            }
            for r in rows
        ]

    return {
        "new": shape(base.filter(first__gte=cutoff).order_by("-first", "referrer__last_name")[:limit]),
        "top": shape(base.filter(recent__gt=0).order_by("-recent", "referrer__last_name")[:limit]),
        "lapsed": shape(base.filter(last__lt=cutoff).order_by("-last", "referrer__last_name")[:limit]),
    }


def reviews_of(*, user: User) -> dict:
    """A reviewer's own participation: in progress, delivered, median claim → delivery (business days)."""
    qs = Referral.objects.exclude(status=Status.ENTERED_IN_ERROR).filter(reviewer=user)
    counts = qs.aggregate(
        in_progress=Count("pk", filter=Q(status__in=[Status.CLAIMED, Status.IN_REVIEW])),
        delivered=Count("pk", filter=Q(opinion_delivered_at__isnull=False)),
    )
    days = [d for _, d in clock_rows(qs).claim_to_delivery()]
    counts["median_claim_to_delivery_business_days"] = _round(percentile(days, 0.5))
    return counts


def leadership_dashboard(filters: Filters, *, source: str = "rollup") -> dict:
    """Every figure of the leadership dashboard for one period and filter set, in a constant number of queries.

    ``source="rollup"`` (the pages) reads ``ReferralFact``; ``source="raw"``
    computes the same figures from the referrals and their events, which is
    the reference the rollup is tested against and the benchmark's baseline.
    Open cases past target are live either way (they read the open referrals).
    """
    if source == "rollup":
        facts = filters.facts()
        keys = SUMMARY_KEYS + OUTCOME_KEYS
        weeks = list(filters.day_counts().values("week").annotate(**{f"sum_{k}": Sum(k) for k in keys}).order_by())
        counts = {key: sum(week[f"sum_{key}"] for week in weeks) for key in keys}
        volumes = day_volumes(filters)
        referrals_by_specialty = volumes.pop("specialty_ids")
        groups = fact_groups(facts)
        # The clocks' day rollup is kept for the whole hospital and per specialty; narrower
        # cohorts (a department, a channel) are small enough to count from the facts.
        unfiltered = not (filters.department_id or filters.specialty_id or filters.channel)
        histograms = _day_clock_histograms(filters) if unfiltered else None
        return {
            "summary": summary_from(counts),
            "by_week": _weeks_of({week["week"]: week["sum_submitted"] for week in weeks}, filters.start, filters.end),
            "by_channel": volumes["channel"],
            "by_department": volumes["department"],
            "by_specialty": volumes["specialty"],
            "outcomes": outcome_mix_from(counts),
            "clocks": day_clock_figures(histograms) if unfiltered else fact_clock_figures(facts),
            "open_past_target": open_past_target(filters.cohort()),
            "reviewers": reviewer_participation(facts, None, groups=groups),
            "specialties": specialty_participation(
                facts,
                None,
                day_histograms=histograms,
                groups=groups,
                referrals_by_specialty=referrals_by_specialty,
            ),
        }
    qs = filters.cohort()
    rows = clock_rows(qs)
    return {
        "summary": summary(qs),
        "by_week": volume_by_week(qs, filters.start, filters.end),
        "by_channel": volume_by(qs, "channel"),
        "by_department": volume_by(qs, "department"),
        "by_specialty": volume_by(qs, "specialty"),
        "outcomes": outcome_mix(qs),
        "clocks": clock_figures(rows),
        "open_past_target": open_past_target(qs),
        "reviewers": reviewer_participation(qs, rows),
        "specialties": specialty_participation(qs, rows),
    }
