"""``manage.py generate_volume``: realistic volume that the dashboard reads the same from rollups and raw tables."""

from __future__ import annotations

import io
import re
from collections import Counter
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.models import Count, Sum
from django.utils import timezone

from referrals import metrics
from referrals.models import CreditEntry, ReferenceCounter, Referral, ReferralEvent, ReferralFact
from referrals.workflow import Status

pytestmark = pytest.mark.django_db


@pytest.fixture
def volume(db):
    out = io.StringIO()
    call_command("generate_volume", referrals=3000, clinicians=120, reviewers=24, years=1, stdout=out)
    return out.getvalue()


@pytest.mark.postgres
def test_volume_has_every_state_a_skewed_spread_and_gap_free_references(volume):
    statuses = Counter(Referral.objects.values_list("status", flat=True))
    assert set(statuses) == set(Status)  # every state, open ones included
    assert statuses[Status.CLOSED] > statuses[Status.DECLINED] > statuses[Status.ENTERED_IN_ERROR]

    departments = list(
        Referral.objects.exclude(department=None).values("department").annotate(n=Count("id")).order_by("-n")
    )
    assert departments[0]["n"] > 3 * departments[-1]["n"]  # a few departments refer most

    by_year: dict[int, list[int]] = {}
    for reference in Referral.objects.values_list("reference", flat=True):
        year, number = re.fullmatch(r"SO-(\d{4})-(\d{6})", reference).groups()
        by_year.setdefault(int(year), []).append(int(number))
    for year, numbers in by_year.items():
        assert sorted(numbers) == list(range(1, len(numbers) + 1))
        assert ReferenceCounter.objects.get(year=year).last_number == len(numbers)


@pytest.mark.postgres
def test_volume_writes_an_event_per_move_and_the_credit_the_rules_give(volume):
    delivered = Referral.objects.exclude(opinion_delivered_at=None)
    moves = ReferralEvent.objects.filter(kind=ReferralEvent.Kind.TRANSITION, action="deliver_opinion")
    assert moves.count() == delivered.count()
    assert ReferralEvent.objects.filter(kind=ReferralEvent.Kind.CREATED).count() == Referral.objects.count()

    accepted_with_referrer = Referral.objects.exclude(accepted_at=None).exclude(referrer=None).count()
    awarded = CreditEntry.objects.filter(rule__code="referral_accepted", reverses=None).count()
    assert awarded == accepted_with_referrer
    reversed_ = CreditEntry.objects.filter(reverses__isnull=False)
    assert reversed_.count() == Referral.objects.filter(status=Status.CANCELLED).exclude(referrer=None).count()
    assert reversed_.aggregate(p=Sum("points"))["p"] == -reversed_.count()


@pytest.mark.postgres
def test_the_dashboard_from_the_rollups_equals_the_raw_tables_on_volume(volume):
    today = timezone.localdate()
    assert ReferralFact.objects.count() == Referral.objects.exclude(status=Status.ENTERED_IN_ERROR).count()
    for days in (27, 364):
        filters = metrics.Filters(start=today - timedelta(days=days), end=today)
        assert metrics.leadership_dashboard(filters) == metrics.leadership_dashboard(filters, source="raw")
    for period in metrics.PERIODS:
        since = metrics.period_start(period)
        assert metrics.people_standings(since=since) == metrics.people_standings(since=since, source="raw")
        assert metrics.department_standings(since=since) == metrics.department_standings(since=since, source="raw")


def test_volume_refuses_a_database_without_copy(db, monkeypatch):
    monkeypatch.setattr(connection, "vendor", "sqlite")

    with pytest.raises(CommandError, match="PostgreSQL"):
        call_command("generate_volume", referrals=10, stdout=io.StringIO())
    assert not Referral.objects.exists()
