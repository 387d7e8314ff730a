"""Keeping the rollups of the dashboard and the leaderboards up to date.

Two rollups, both derived and rebuildable from the tables they summarise:

- ``ReferralFact``: one narrow row per referral with its dimensions, how far
  it got and each finished clock in business days. The dashboard reads it
  instead of the referrals and their events (at a million referrals a year's
  dashboard would otherwise fetch every referral and pause event to count
  business days in Python). Brought up to date incrementally: every referral
  whose ``updated_at`` is at or after the watermark is recomputed, by a beat
  task each minute and by the dashboard itself when the last refresh is older
  than ``STALE_AFTER``. A refresh replaces rows in small transactions, so
  readers always see a complete table (the old rows until the new commit).
- ``CreditMonth``: points per person, department and month, written with each
  ledger entry in the same transaction (``referrals.services``); rebuilt from
  the ledger here after bulk loads.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import Count, F, Max, Min, Q, Sum
from django.db.models.functions import TruncMonth
from django.utils import timezone

from referrals import metrics
from referrals.models import (
    CreditEntry,
    CreditMonth,
    Referral,
    ReferralDayClock,
    ReferralDayCount,
    ReferralFact,
    RollupState,
)
from referrals.workflow import Status

FACTS = "referral_facts"
FACT_BATCH = 10_000
# A referral saved in a transaction that commits after a refresh began may carry an
# updated_at a little before that refresh's watermark; looking back this far catches it.
OVERLAP = timedelta(minutes=5)
STALE_AFTER = timedelta(seconds=60)

_FACT_COLUMNS = (
    "department_id",
    "channel",
    "referrer_id",
    "coverage",
    "interpreter_needed",
    "diagnosis_outcome",
    "treatment_outcome",
    "clinical_impact",
    "downstream_outcome",
    "recommendation_followed",
)


def _facts_for(referrals) -> list[ReferralFact]:
    """Fact rows for a queryset of referrals (entered-in-error ones have none)."""
    rows = metrics.clock_rows(referrals.exclude(status=Status.ENTERED_IN_ERROR), extra_columns=_FACT_COLUMNS)
    target = metrics._targets()
    # Per clock (its code names the fact's columns: triage_days, triage_late, …): {referral id: days}.
    days = {clock: {row["id"]: d for row, d in rows.durations(clock)} for clock, _, _, _ in metrics.CLOCKS}
    claim_to_delivery = {row["id"]: d for row, d in rows.claim_to_delivery()}
    tz = timezone.get_current_timezone()
    facts = []
    for row in rows.rows:
        submitted_on = row["submitted_at"].astimezone(tz).date()
        fact = ReferralFact(
            referral_id=row["id"],
            submitted_on=submitted_on,
            week=submitted_on - timedelta(days=submitted_on.weekday()),
            specialty_id=row["specialty_id"],
            reviewer_id=row["reviewer_id"],
            status=row["status"],
            urgency=row["urgency"],
            was_accepted=row["accepted_at"] is not None,
            was_claimed=row["claimed_at"] is not None or row["opinion_delivered_at"] is not None,
            was_delivered=row["opinion_delivered_at"] is not None,
            claim_to_delivery_days=claim_to_delivery.get(row["id"]),
            **{column: row[column] for column in _FACT_COLUMNS},
        )
        for clock, value_of in days.items():
            value = value_of.get(row["id"])
            setattr(fact, f"{clock}_days", value)
            setattr(
                fact,
                f"{clock}_late",
                None if value is None else value > target(clock, row["specialty_id"], row["urgency"]),
            )
        facts.append(fact)
    return facts


def _write_facts(referrals, old) -> tuple[list[ReferralFact], set]:
    """Replace the facts ``old`` with those of ``referrals``; returns the new facts and the days either touched."""
    facts = _facts_for(referrals)
    days = set(old.values_list("submitted_on", flat=True)) | {fact.submitted_on for fact in facts}
    old.delete()
    ReferralFact.objects.bulk_create(facts, batch_size=2000)
    return facts, days


def _replace_facts(ids: list[int]) -> int:
    """Recompute the facts of these referrals, and the day rollup of their days, in one transaction."""
    with transaction.atomic():
        referrals, old = Referral.objects.filter(id__in=ids), ReferralFact.objects.filter(referral_id__in=ids)
        facts, days = _write_facts(referrals, old)
        rebuild_days(days)
    return len(facts)


_DIMENSIONS = (
    (ReferralDayCount.DEPARTMENT, "department_id"),
    (ReferralDayCount.SPECIALTY, "specialty_id"),
    (ReferralDayCount.CHANNEL, "channel"),
)


def rebuild_days(days: set | None) -> None:
    """Recount the day rollup of these submission days (None: every day) from the facts.

    Called inside the transaction that changed the facts, so a reader sees
    facts and day rows of the same moment.
    """
    facts = ReferralFact.objects.all() if days is None else ReferralFact.objects.filter(submitted_on__in=days)
    counts = ReferralDayCount.objects.all() if days is None else ReferralDayCount.objects.filter(day__in=days)
    clocks_ = ReferralDayClock.objects.all() if days is None else ReferralDayClock.objects.filter(day__in=days)
    counts.delete()
    clocks_.delete()
    aggregates = {**metrics.summary_counts(facts), **metrics.outcome_counts(facts)}
    rows = []
    for grouping in range(8):
        dims = [column for bit, column in _DIMENSIONS if grouping & bit]
        for row in facts.values("submitted_on", "week", *dims).annotate(**aggregates).order_by().iterator(5000):
            day = row.pop("submitted_on")
            rows.append(ReferralDayCount(day=day, grouping=grouping, **row))
            if len(rows) >= 5000:
                ReferralDayCount.objects.bulk_create(rows)
                rows = []
    ReferralDayCount.objects.bulk_create(rows)
    clock_rows = []
    for clock, _, _, _ in metrics.CLOCKS:
        column, late = f"{clock}_days", f"{clock}_late"
        for dims in ([], ["specialty_id"]):
            for row in (
                facts.filter(**{f"{column}__isnull": False})
                .values("submitted_on", *dims, column)
                .annotate(finished=Count("pk"), past_target=Count("pk", filter=Q(**{late: True})))
                .order_by()
                .iterator(5000)
            ):
                clock_rows.append(
                    ReferralDayClock(
                        day=row["submitted_on"],
                        specialty_id=row.get("specialty_id"),
                        clock=clock,
                        business_days=row[column],
                        finished=row["finished"],
                        past_target=row["past_target"],
                    )
                )
    ReferralDayClock.objects.bulk_create(clock_rows, batch_size=5000)


def _locked_state() -> RollupState | None:
    """The facts' state row, locked; None when another refresh holds it (that one will do the work)."""
    RollupState.objects.get_or_create(name=FACTS)
    return RollupState.objects.filter(name=FACTS).select_for_update(skip_locked=True).first()


def refresh_referral_facts(*, at_most: int | None = None, log: Callable[[str], None] | None = None) -> int | None:
    """Bring the facts up to date with every referral changed since the watermark.

    Returns how many referrals were recomputed, or None when another refresh
    was already running or more than ``at_most`` referrals changed (a page
    leaves that much to the beat task). Without a watermark (a new database,
    or holidays or targets edited) every referral is recomputed.
    """
    started = timezone.now()
    with transaction.atomic():
        state = _locked_state()
        if state is None:
            return None
        if state.watermark is not None:
            changed = Referral.objects.filter(updated_at__gte=state.watermark - OVERLAP).order_by("id")
            if at_most is not None and changed[at_most : at_most + 1].exists():
                return None
            ids = list(changed.values_list("id", flat=True))
            for first in range(0, len(ids), FACT_BATCH):
                _replace_facts(ids[first : first + FACT_BATCH])
                if log:
                    log(f"facts: {min(first + FACT_BATCH, len(ids))} of {len(ids)} referrals")
            state.watermark = started
            state.refreshed_at = timezone.now()
            state.save()
            return len(ids)
        if at_most is not None and Referral.objects.all()[at_most : at_most + 1].exists():
            return None
    # Everything: batch by batch, each its own transaction, not one transaction over every referral.
    return rebuild_referral_facts(log=log)


def rebuild_referral_facts(*, log: Callable[[str], None] | None = None) -> int:
    """Recompute every fact (after a bulk load, or when holidays or targets change), batch by batch.

    Each batch is its own transaction, so the dashboard keeps reading a whole
    table while this runs; facts of referrals that no longer qualify go too.
    """
    started = timezone.now()
    bounds = Referral.objects.aggregate(low=Min("id"), high=Max("id"))
    done = 0
    if bounds["low"] is not None:
        for low in range(bounds["low"], bounds["high"] + 1, FACT_BATCH):
            high = low + FACT_BATCH
            with transaction.atomic():  # the day rollup is recounted once, after the last batch
                facts, _ = _write_facts(
                    Referral.objects.filter(id__gte=low, id__lt=high),
                    ReferralFact.objects.filter(referral_id__gte=low, referral_id__lt=high),
                )
            done += len(facts)
            if log and (low // FACT_BATCH) % 10 == 0:
                log(f"facts: {done} rows, through referral {high - 1}")
    ReferralFact.objects.filter(referral_id__gt=bounds["high"] or 0).delete()
    with transaction.atomic():  # readers see the old day rollup until the new one is complete
        rebuild_days(None)
    RollupState.objects.update_or_create(name=FACTS, defaults={"watermark": started, "refreshed_at": timezone.now()})
    return done


def facts_refreshed_at() -> datetime | None:
    return RollupState.objects.filter(name=FACTS).values_list("refreshed_at", flat=True).first()


# A page refreshes inline only this many changed referrals (well under a second); more waits for the beat.
INLINE_REFRESH_LIMIT = 2000


def refresh_referral_facts_if_stale() -> datetime | None:
    """Refresh when the last refresh is older than STALE_AFTER; returns when the facts were last brought up to date.

    The beat task keeps them fresh where a worker runs; this covers a portal
    without one (the embedded demo) and a beat that fell behind by a little.
    """
    refreshed = facts_refreshed_at()
    if refreshed is None or timezone.now() - refreshed > STALE_AFTER:
        refresh_referral_facts(at_most=INLINE_REFRESH_LIMIT)
        refreshed = facts_refreshed_at()
    return refreshed


def referral_facts_invalidate() -> None:
    """Holidays or targets changed: the next refresh recounts every referral's clocks."""
    RollupState.objects.filter(name=FACTS).update(watermark=None)


# --- Credit per month ---------------------------------------------------------------------------------


def month_of(moment: datetime):
    return timezone.localtime(moment).date().replace(day=1)


def credit_month_add(entry: CreditEntry) -> None:
    """Add one new ledger entry to its month; called in the transaction that wrote the entry."""
    month = month_of(entry.created_at)
    key = {"month": month, "person_id": entry.person_id, "department_id": entry.department_id}
    # Row-locking UPDATE first: concurrent awards to one person serialise here, none is lost.
    if CreditMonth.objects.filter(**key).update(points=F("points") + entry.points):
        return
    try:
        with transaction.atomic():
            CreditMonth.objects.create(points=entry.points, **key)
    except IntegrityError:  # another transaction created the row first: add to it instead
        CreditMonth.objects.filter(**key).update(points=F("points") + entry.points)


def rebuild_credit_months() -> int:
    """Recompute the monthly credit rollup from the ledger, in one transaction (readers see old or new)."""
    tz = timezone.get_current_timezone()
    sums = (
        CreditEntry.objects.annotate(month=TruncMonth("created_at", tzinfo=tz))
        .values("month", "person_id", "department_id")
        .annotate(points=Sum("points"))
        .order_by()
    )
    totals: dict[tuple, int] = defaultdict(int)
    for row in sums.iterator(chunk_size=20_000):
        month = row["month"].date() if isinstance(row["month"], datetime) else row["month"]
        totals[(month, row["person_id"], row["department_id"])] += row["points"]
    with transaction.atomic():
        CreditMonth.objects.all().delete()
        CreditMonth.objects.bulk_create(
            [CreditMonth(month=m, person_id=p, department_id=d, points=pts) for (m, p, d), pts in totals.items()],
            batch_size=5000,
        )
    return len(totals)


def rebuild_all(*, log: Callable[[str], None] | None = None) -> dict[str, int]:
    return {
        "referral_facts": rebuild_referral_facts(log=log),
        "credit_months": rebuild_credit_months(),
    }
