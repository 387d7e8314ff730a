"""The dashboard suite: the leadership dashboard and the leaderboards at a million referrals.

In this process, on PostgreSQL, against a volume database (``--volume-db``,
default ``portal_volume``) that ``manage.py generate_volume`` fills once
(about ten minutes for 1,000,000 referrals) and that is kept between runs:

- the whole dashboard (``referrals.metrics.leadership_dashboard``) for the
  last 4 weeks and the last 12 months, from the rollup (what the page reads)
  and from the raw tables (``source="raw"``: the same figures computed from the
  referrals, their events and the ledger, with only the indexes the schema
  declares, none added for the dashboard): database time (each statement
  timed at the cursor, results included), wall time and query count, rounds
  interleaved, medians;
- the leaderboards page's reads (people top 25, my rank, departments) for the
  month, quarter and year, rollup against raw the same way;
- reads while the rollups of the latest 20,000 referrals are refreshed (in a
  second thread): their wall time and whether every figure is complete.
"""

from __future__ import annotations

import statistics
import sys
import threading
import time
from datetime import UTC, datetime, timedelta

from tests.benchmarks.harness import BenchmarkError, log, ratio

NAME = "dashboard"
RESULTS_FILE = "dashboard-latest.json"

GOALS = {"dashboard_4_weeks": 0.05, "dashboard_12_months": 0.3, "leaderboards": 0.1}
PERIODS = {"4_weeks": 27, "12_months": 364}


class StatementTimer:
    """Counts statements and adds up their time at the cursor (execution and the transfer of results)."""

    def __init__(self):
        self.count = 0
        self.seconds = 0.0

    def __call__(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.seconds += time.perf_counter() - started
            self.count += 1


def timed(action):
    from django.db import connection

    timer = StatementTimer()
    started = time.perf_counter()
    with connection.execute_wrapper(timer):
        result = action()
    return result, {
        "db_ms": timer.seconds * 1000,
        "wall_ms": (time.perf_counter() - started) * 1000,
        "queries": timer.count,
    }


def _median(samples: list[dict]) -> dict:
    return {
        "db_ms": round(statistics.median(s["db_ms"] for s in samples), 2),
        "wall_ms": round(statistics.median(s["wall_ms"] for s in samples), 2),
        "queries": sorted({s["queries"] for s in samples}),
        "samples": len(samples),
    }


def _ensure_volume(args) -> dict:
    from django.core.management import call_command
    from django.db import connection

    from referrals import rollups
    from referrals.models import CreditEntry, CreditMonth, Referral, ReferralEvent, ReferralFact

    call_command("migrate", interactive=False, verbosity=0)
    have = Referral.objects.count()
    if have == 0:
        log(f"generating {args.volume_referrals} referrals into {args.volume_db} (kept for later runs)")
        call_command("generate_volume", referrals=args.volume_referrals, stdout=sys.stderr)
    elif have < args.volume_referrals:
        raise BenchmarkError(
            f"{args.volume_db} holds {have} referrals, fewer than --volume-referrals {args.volume_referrals}: "
            f"drop it (dropdb {args.volume_db}) to generate afresh"
        )
    if not CreditMonth.objects.exists():
        rollups.rebuild_credit_months()
    rollups.refresh_referral_facts()
    with connection.cursor() as cursor:
        # What autovacuum does after a bulk load: statistics, and the visibility map index-only scans need.
        cursor.execute("VACUUM (ANALYZE)")
    return {
        "referrals": Referral.objects.count(),
        "referral_events": ReferralEvent.objects.count(),
        "ledger_rows": CreditEntry.objects.count(),
        "referral_fact_rows": ReferralFact.objects.count(),
        "credit_month_rows": CreditMonth.objects.count(),
    }


def _leaderboard_reads(viewer, source: str):
    from referrals import metrics

    def read():
        out = {}
        for period in metrics.PERIODS:
            since = metrics.period_start(period)
            out[period] = (
                metrics.people_standings(since=since, viewer=viewer, limit=25, source=source),
                metrics.person_rank(user=viewer, since=since, source=source),
                metrics.department_standings(since=since, source=source),
            )
        return out

    return read


def run(args, tool, env, registry, tmp, services) -> dict:
    import os

    os.environ["DATABASE_URL"] = f"postgres://postgres@{args.pg_host}:{args.pg_port}/{args.volume_db}"
    from tests.benchmarks.harness import create_database_if_missing

    create_database_if_missing(args.pg_host, args.pg_port, args.volume_db)
    import django

    django.setup()
    import logging

    from django.db import connection
    from django.utils import timezone

    from portal.models import User
    from referrals import metrics

    logging.getLogger().setLevel(logging.WARNING)
    started = time.monotonic()
    sizes = _ensure_volume(args)
    log(f"volume ready in {time.monotonic() - started:.0f} s: {sizes}")
    today = timezone.localdate()
    viewer = User.objects.filter(credit_entries__isnull=False).order_by("pk").first()

    dashboards = {}
    for label, days in PERIODS.items():
        filters = metrics.Filters(start=today - timedelta(days=days), end=today)
        samples = {"raw": [], "rollup": []}
        results = {}
        for _ in range(args.dashboard_rounds):
            for source in ("raw", "rollup"):
                results[source], sample = timed(lambda f=filters, s=source: metrics.leadership_dashboard(f, source=s))
                samples[source].append(sample)
        same = results["raw"] == results["rollup"]
        raw, rollup = _median(samples["raw"]), _median(samples["rollup"])
        dashboards[label] = {
            "period": [filters.start.isoformat(), filters.end.isoformat()],
            "referrals_in_period": results["rollup"]["summary"]["submitted"],
            "raw": raw,
            "rollup": rollup,
            "db_time_vs_raw": ratio(rollup["db_ms"], raw["db_ms"]),
            "wall_time_vs_raw": ratio(rollup["wall_ms"], raw["wall_ms"]),
            "figures_equal": same,
        }
        log(f"dashboard {label}: raw {raw['db_ms']:.0f} ms db, rollup {rollup['db_ms']:.1f} ms db; equal {same}")

    samples = {"raw": [], "rollup": []}
    results = {}
    for _ in range(args.dashboard_rounds):
        for source in ("raw", "rollup"):
            results[source], sample = timed(_leaderboard_reads(viewer, source))
            samples[source].append(sample)
    raw, rollup = _median(samples["raw"]), _median(samples["rollup"])
    leaderboards = {
        "periods": list(metrics.PERIODS),
        "raw": raw,
        "rollup": rollup,
        "db_time_vs_raw": ratio(rollup["db_ms"], raw["db_ms"]),
        "wall_time_vs_raw": ratio(rollup["wall_ms"], raw["wall_ms"]),
        "figures_equal": results["raw"] == results["rollup"],
    }
    log(f"leaderboards: raw {raw['db_ms']:.0f} ms db, rollup {rollup['db_ms']:.1f} ms db")

    # Query counts must not depend on the period or the filters.
    counts = {}
    for label, filters in {
        "1_day": metrics.Filters(start=today, end=today),
        "4_weeks": metrics.Filters(start=today - timedelta(days=27), end=today),
        "12_months": metrics.Filters(start=today - timedelta(days=364), end=today),
        "3_years_one_department": metrics.Filters(
            start=today - timedelta(days=3 * 365), end=today, department_id=_busiest_department()
        ),
    }.items():
        counts[label] = timed(lambda f=filters: metrics.leadership_dashboard(f))[1]["queries"]

    during_refresh = _reads_during_refresh(today)
    connection.close()

    goals = {
        "dashboard_4_weeks": dashboards["4_weeks"]["db_time_vs_raw"],
        "dashboard_12_months": dashboards["12_months"]["db_time_vs_raw"],
        "leaderboards": leaderboards["db_time_vs_raw"],
    }
    report = {
        "benchmark": "leadership dashboard and leaderboards at volume: rollups against the raw tables",
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "database": args.volume_db,
        "data": sizes,
        "rounds": args.dashboard_rounds,
        "loadavg_1m_at_start": args.loadavg_at_start,
        "dashboard": dashboards,
        "leaderboards": leaderboards,
        "dashboard_query_counts": counts,
        "reads_during_rollup_refresh": during_refresh,
        "goals": {
            name: {
                "db_time_vs_raw": value,
                "at_most": GOALS[name],
                "goal_met": value is not None and value <= GOALS[name],
            }
            for name, value in goals.items()
        },
    }
    report["goals"]["constant_query_count"] = {
        "counts": counts,
        "goal_met": len(set(counts.values())) == 1,
    }
    report["goals"]["readable_during_refresh"] = {
        "goal_met": during_refresh["reads"] > 0 and during_refresh["every_read_complete"],
    }
    report["all_goals_met"] = all(goal["goal_met"] for goal in report["goals"].values())
    return report


def _busiest_department():
    from django.db.models import Count

    from referrals.models import ReferralFact

    row = ReferralFact.objects.values("department_id").annotate(n=Count("pk")).order_by("-n").first()
    return row["department_id"] if row else None


REFRESHED_DURING_READS = 20_000


def _reads_during_refresh(today) -> dict:
    """Refresh the rollups of the latest referrals in a second thread while the 4-week dashboard is read here.

    The latest 20,000 referrals (every one the 4-week dashboard counts, and
    more) are marked changed, so the refresh rewrites their facts and the day
    rows of their days: exactly what the reads here read.
    """
    from django.db import connection
    from django.utils import timezone

    from referrals import metrics, rollups
    from referrals.models import Referral

    latest = Referral.objects.order_by("-submitted_at").values("id")[:REFRESHED_DURING_READS]
    Referral.objects.filter(id__in=latest).update(updated_at=timezone.now())
    filters = metrics.Filters(start=today - timedelta(days=27), end=today)
    expected = metrics.leadership_dashboard(filters)
    done = threading.Event()
    outcome = {}

    def refresh():
        started = time.perf_counter()
        try:
            outcome["referrals"] = rollups.refresh_referral_facts()
        finally:
            outcome["seconds"] = round(time.perf_counter() - started, 1)
            connection.close()
            done.set()

    worker = threading.Thread(target=refresh, daemon=True)
    worker.start()
    reads = []
    complete = True
    while not done.is_set():
        figures, sample = timed(lambda: metrics.leadership_dashboard(filters))
        # The data did not change, so a complete table gives exactly the figures read before.
        complete = complete and figures == expected
        reads.append(sample["wall_ms"])
        done.wait(0.2)
    worker.join()
    return {
        "refreshed_referrals": outcome.get("referrals"),
        "refresh_seconds": outcome.get("seconds"),
        "reads": len(reads),
        "read_wall_ms_median": round(statistics.median(reads), 1) if reads else None,
        "read_wall_ms_max": round(max(reads), 1) if reads else None,
        "every_read_complete": complete,
    }


def summarise(report: dict) -> None:
    for name, goal in report["goals"].items():
        log(f"{name}: {goal}")
    missed = [name for name, goal in report["goals"].items() if not goal["goal_met"]]
    if missed:
        print(f"benchmark GOAL MISSED: {', '.join(missed)}", file=sys.stderr)
    else:
        print("benchmark: all goals met", file=sys.stderr)
