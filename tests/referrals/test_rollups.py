"""The dashboard's and leaderboards' rollups give exactly the figures of the raw tables, and stay current.

The raw figures are checked by hand in test_metrics.py (the same March), so a
rollup that equals them figure by figure is right too.
"""

from __future__ import annotations

import random
import threading
from datetime import date, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.db.models import Sum

from referrals import metrics, rollups, services
from referrals.models import CreditEntry, CreditMonth, Holiday, ReferralFact
from referrals.workflow import Status
from tests.referrals.test_concurrency import _all_at_once
from tests.referrals.test_metrics import MARCH, NY, READ_AT, Hospital

pytestmark = pytest.mark.django_db


@pytest.fixture
def hospital(make_user):
    built = Hospital(make_user)
    # The beat's last refresh, the morning the figures are read (time only moves forward).
    with time_machine.travel(READ_AT - timedelta(hours=4), tick=False):
        rollups.refresh_referral_facts()
    return built


@pytest.fixture
def read_at_month_end():
    with time_machine.travel(READ_AT, tick=False):
        yield


def _filter_sets(hospital):
    yield MARCH
    yield metrics.Filters(start=MARCH.start, end=MARCH.end, department_id=hospital.oncology.pk)
    yield metrics.Filters(start=MARCH.start, end=MARCH.end, specialty_id=hospital.specialty.pk)
    yield metrics.Filters(start=MARCH.start, end=MARCH.end, channel="concierge")
    yield metrics.Filters(start=date(2025, 9, 1), end=MARCH.end)  # the months before too
    yield metrics.Filters(start=date(2026, 3, 9), end=date(2026, 3, 9))  # one day


def test_every_dashboard_figure_from_the_rollup_equals_the_raw_tables(hospital, read_at_month_end):
    for filters in _filter_sets(hospital):
        rollup = metrics.leadership_dashboard(filters, source="rollup")
        raw = metrics.leadership_dashboard(filters, source="raw")
        for key in raw:
            assert rollup[key] == raw[key], (filters, key)


def test_participation_and_outreach_from_the_rollup_equal_the_raw_tables(hospital, read_at_month_end):
    for filters in _filter_sets(hospital):
        facts, referrals = filters.facts(), filters.cohort()
        rows = metrics.clock_rows(referrals)
        assert metrics.reviewer_participation(facts, None) == metrics.reviewer_participation(referrals, rows)
        assert metrics.specialty_participation(facts, None) == metrics.specialty_participation(referrals, rows)
        # The participation page's way: the facts' claimed referrals, the referrals per specialty from the days.
        assert metrics.specialty_participation(
            facts,
            None,
            groups=metrics.fact_groups(facts),
            referrals_by_specialty=metrics.day_referrals_by_specialty(filters),
        ) == metrics.specialty_participation(referrals, rows)
        assert metrics.department_participation(facts) == metrics.department_participation(referrals)
    outreach = metrics.referrer_outreach()
    assert outreach == metrics.referrer_outreach(source="raw")
    assert [row["referrer"] for row in outreach["lapsed"]] == ["Dan Doyle"]


def test_specialty_referrals_count_the_unclaimed_though_the_reviewer_scan_skips_them(hospital, read_at_month_end):
    facts = MARCH.facts()
    claimed = sum(group["n"] for group in metrics.fact_groups(facts))
    unclaimed = facts.filter(reviewer__isnull=True).count()
    assert unclaimed > 0 and claimed == facts.count() - unclaimed
    rows = metrics.specialty_participation(
        facts, None, referrals_by_specialty=metrics.day_referrals_by_specialty(MARCH)
    )
    assert sum(row["referrals"] for row in rows) == facts.count()


def test_the_rollup_clocks_are_the_hand_counted_ones(hospital, read_at_month_end):
    clocks = {row["clock"]: row for row in metrics.leadership_dashboard(MARCH)["clocks"]}

    # test_metrics.py's table: triage 1, 1, 0, 3, 0, 1; queue 2, 1, 0, 1; review 3, 5, 2.
    assert (clocks["Triage"]["completed"], clocks["Triage"]["median_business_days"]) == (6, 1.0)
    assert (clocks["Queue"]["completed"], clocks["Queue"]["median_business_days"]) == (4, 1.0)
    assert (clocks["Review"]["completed"], clocks["Review"]["median_business_days"]) == (3, 3.0)


def test_entered_in_error_has_no_row_in_the_rollup(hospital):
    r7 = hospital.ids[6]

    assert not ReferralFact.objects.filter(referral_id=r7).exists()
    assert ReferralFact.objects.filter(referral_id__in=hospital.ids).count() == 7


def test_a_refresh_picks_up_a_move_made_after_the_last_one(hospital, read_at_month_end):
    r5 = hospital.ids[4]  # accepted, waiting in the queue
    before = metrics.leadership_dashboard(MARCH)["summary"]["claimed"]

    services.referral_claim(referral_id=r5, actor=hospital.rita)
    assert metrics.leadership_dashboard(MARCH)["summary"]["claimed"] == before  # not yet refreshed
    recomputed = rollups.refresh_referral_facts()

    assert metrics.leadership_dashboard(MARCH)["summary"]["claimed"] == before + 1
    assert recomputed >= 1


def test_a_refresh_recomputes_only_what_changed(hospital):
    with time_machine.travel(datetime(2026, 4, 20, 9, tzinfo=NY), tick=False):
        assert rollups.refresh_referral_facts() == 0  # nothing saved since the last refresh (and its overlap)
        services.referral_claim(referral_id=hospital.ids[4], actor=hospital.rita)
        assert rollups.refresh_referral_facts() == 1


def test_a_new_holiday_sends_the_rollup_back_to_a_full_recount(hospital, read_at_month_end):
    queue_before = {r["clock"]: r for r in metrics.leadership_dashboard(MARCH)["clocks"]}["Queue"]

    # R1 was accepted Tue 3 and claimed Thu 5 (2 business days); make Wed 4 a holiday.
    Holiday.objects.create(date=date(2026, 3, 4), name="Snow day")
    rollups.refresh_referral_facts()

    queue_after = {r["clock"]: r for r in metrics.leadership_dashboard(MARCH)["clocks"]}["Queue"]
    raw = {r["clock"]: r for r in metrics.leadership_dashboard(MARCH, source="raw")["clocks"]}["Queue"]
    assert queue_after == raw
    assert queue_after != queue_before


def test_the_page_refreshes_a_stale_rollup_itself(hospital, read_at_month_end):
    services.referral_claim(referral_id=hospital.ids[4], actor=hospital.rita)
    with time_machine.travel(READ_AT + timedelta(minutes=5), tick=False):
        rollups.refresh_referral_facts_if_stale()
        figures = metrics.leadership_dashboard(MARCH)

    assert figures["summary"]["claimed"] == metrics.leadership_dashboard(MARCH, source="raw")["summary"]["claimed"]


def test_a_page_leaves_a_large_backlog_to_the_beat_task(hospital, monkeypatch):
    monkeypatch.setattr(rollups, "INLINE_REFRESH_LIMIT", 0)
    rollups.referral_facts_invalidate()

    assert rollups.refresh_referral_facts(at_most=rollups.INLINE_REFRESH_LIMIT) is None
    assert rollups.refresh_referral_facts() == 9  # the beat task recounts all: the 7 of March and 2 older


# --- Leaderboards --------------------------------------------------------------------------------


def _credit_by_month():
    ledger = {}
    for entry in CreditEntry.objects.all():
        key = (rollups.month_of(entry.created_at), entry.person_id, entry.department_id)
        ledger[key] = ledger.get(key, 0) + entry.points
    rollup = {(m.month, m.person_id, m.department_id): m.points for m in CreditMonth.objects.all()}
    return ledger, rollup


def test_the_monthly_credit_rollup_follows_every_award_and_reversal(hospital):
    ledger, rollup = _credit_by_month()

    assert rollup == ledger


def test_a_reversal_takes_its_points_off_the_month(cast, referral_in):
    accepted = referral_in(Status.ACCEPTED)
    services.referral_cancel(referral_id=accepted.pk, actor=cast.coordinator, reason="Patient chose to stay local")

    assert CreditEntry.objects.filter(reverses__isnull=False, person=cast.referrer).count() == 1
    ledger, rollup = _credit_by_month()
    assert rollup == ledger
    assert sum(rollup.values()) == 0


def test_rebuilding_the_credit_rollup_gives_what_the_awards_wrote(hospital):
    written = _credit_by_month()[1]

    rollups.rebuild_credit_months()

    assert _credit_by_month()[1] == written


def test_leaderboards_from_the_rollup_equal_the_ledger(hospital, read_at_month_end):
    for period in metrics.PERIODS:
        since = metrics.period_start(period)
        for viewer in (None, hospital.ben, hospital.ana):
            assert metrics.people_standings(since=since, viewer=viewer) == metrics.people_standings(
                since=since, viewer=viewer, source="raw"
            )
        assert metrics.department_standings(since=since) == metrics.department_standings(since=since, source="raw")
        for person in (hospital.ana, hospital.ben, hospital.rita, hospital.dan):
            assert metrics.person_rank(user=person, since=since) == metrics.person_rank(
                user=person, since=since, source="raw"
            )
        dept = hospital.oncology.pk
        assert metrics.department_rank(department_id=dept, since=since) == metrics.department_rank(
            department_id=dept, since=since, source="raw"
        )


def test_a_period_not_starting_on_a_month_reads_the_ledger(hospital, read_at_month_end):
    since = metrics.local_midnight(date(2026, 3, 10))

    assert metrics._credit_since(since).model is CreditEntry
    assert metrics._credit_since(metrics.period_start("month")).model is CreditMonth


# --- Percentiles from histograms ------------------------------------------------------------------


def test_percentiles_of_a_histogram_equal_those_of_the_values():
    rng = random.Random(7)
    for _ in range(300):
        values = [rng.randint(0, 30) for _ in range(rng.randint(1, 40))]
        counts = {}
        for v in values:
            counts[v] = counts.get(v, 0) + 1
        for fraction in (0.5, 0.9, 0.0, 1.0):
            assert metrics.percentile_of_counts(counts, fraction) == pytest.approx(metrics.percentile(values, fraction))
    assert metrics.percentile_of_counts({}, 0.5) is None


# --- PostgreSQL: concurrent awards, readers during a refresh -------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_awards_to_one_person_lose_no_points(cast, new_referral):
    submitted = [new_referral().pk for _ in range(8)]

    outcomes = _all_at_once(
        [lambda pk=pk: services.referral_accept(referral_id=pk, actor=cast.coordinator) for pk in submitted]
    )

    assert [error for _, error in outcomes] == [None] * 8
    ledger, rollup = _credit_by_month()
    assert rollup == ledger
    mine = CreditMonth.objects.filter(person=cast.referrer).aggregate(p=Sum("points"))["p"]
    assert mine == 8 == CreditEntry.objects.filter(person=cast.referrer).aggregate(p=Sum("points"))["p"]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_dashboard_reads_a_whole_table_while_a_refresh_rewrites_it(make_user, monkeypatch):
    built = Hospital(make_user)
    rollups.refresh_referral_facts()
    with time_machine.travel(READ_AT, tick=False):
        expected = metrics.leadership_dashboard(MARCH)
    rows_before = ReferralFact.objects.count()

    halfway, resume = threading.Event(), threading.Event()
    original = ReferralFact.objects.bulk_create

    def paused_bulk_create(*args, **kwargs):
        halfway.set()  # the old rows are deleted, uncommitted
        assert resume.wait(30)
        return original(*args, **kwargs)

    monkeypatch.setattr(ReferralFact.objects, "bulk_create", paused_bulk_create)

    def rebuild():
        try:
            rollups.rebuild_referral_facts()
        finally:
            connection.close()

    worker = threading.Thread(target=rebuild)
    worker.start()
    try:
        assert halfway.wait(30)
        with time_machine.travel(READ_AT, tick=False):
            during = metrics.leadership_dashboard(MARCH)
        rows_during = ReferralFact.objects.count()
    finally:
        resume.set()
        worker.join()

    assert rows_during == rows_before == 9  # none missing, the old rows until the new ones commit
    assert during == expected
    assert built.ids
