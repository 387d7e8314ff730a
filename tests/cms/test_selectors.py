"""Live figures of a specialty: open cases and median turnaround, from aggregates only."""

from datetime import date, datetime, time, timedelta

import pytest
from django.utils import timezone

from cms import selectors
from referrals.models import Holiday, Referral
from tests.factories import SpecialtyFactory

pytestmark = pytest.mark.django_db


def _at(day: date, hour: int = 10):
    return timezone.make_aware(datetime.combine(day, time(hour)))


def _recent_monday() -> date:
    today = timezone.localdate()
    return today - timedelta(days=today.weekday() + 14)


def _set_span(referral, start: date, end: date):
    # Test set-up only: place the review in time (the services stamp "now").
    Referral.objects.filter(pk=referral.pk).update(review_started_at=_at(start), opinion_delivered_at=_at(end))


def test_open_cases_count_only_accepted_referrals_of_the_specialty(referral_through):
    specialty, other = SpecialtyFactory(), SpecialtyFactory()
    referral_through(specialty, "accepted")
    referral_through(specialty, "accepted")
    referral_through(specialty, "opinion_delivered")
    referral_through(other, "accepted")

    figures = selectors.specialty_figures(specialty.pk)

    assert figures.open_cases == 2


def test_median_turnaround_counts_business_days_from_review_start_to_opinion(referral_through):
    specialty = SpecialtyFactory()
    monday = _recent_monday()
    spans = [
        (monday, monday + timedelta(days=2)),  # Mon → Wed: 2
        (monday + timedelta(days=4), monday + timedelta(days=7)),  # Fri → Mon: 1
        (monday, monday + timedelta(days=7)),  # Mon → Mon: 5
    ]
    for start, end in spans:
        _set_span(referral_through(specialty, "opinion_delivered"), start, end)

    figures = selectors.specialty_figures(specialty.pk)

    assert figures.median_business_days == 2
    assert figures.delivered_count == 3


def test_median_skips_holidays(referral_through):
    specialty = SpecialtyFactory()
    monday = _recent_monday()
    Holiday.objects.create(date=monday + timedelta(days=1), name="Program office closed")
    _set_span(referral_through(specialty, "opinion_delivered"), monday, monday + timedelta(days=2))

    assert selectors.specialty_figures(specialty.pk).median_business_days == 1


def test_opinions_older_than_the_window_and_other_specialties_are_left_out(referral_through):
    specialty, other = SpecialtyFactory(), SpecialtyFactory()
    old_start = timezone.localdate() - timedelta(days=selectors.FIGURES_WINDOW_DAYS + 30)
    _set_span(referral_through(specialty, "opinion_delivered"), old_start, old_start + timedelta(days=7))
    referral_through(other, "opinion_delivered")

    figures = selectors.specialty_figures(specialty.pk)

    assert figures.median_business_days is None
    assert figures.delivered_count == 0


def test_figures_take_at_most_three_queries_however_many_referrals(referral_through, django_assert_max_num_queries):
    specialty = SpecialtyFactory()
    for _ in range(4):
        referral_through(specialty, "opinion_delivered")
        referral_through(specialty, "accepted")

    with django_assert_max_num_queries(3):
        figures = selectors.specialty_figures(specialty.pk)

    assert figures.open_cases == 4 and figures.delivered_count == 4


def test_reviewers_are_the_specialtys_active_reviewers_with_titles(make_user):
    from portal.roles import Role

    specialty = SpecialtyFactory()
    reviewer = make_user(Role.REVIEWER, review_specialties=[specialty], title="Attending, Rheumatology")
    departed = make_user(Role.REVIEWER, review_specialties=[specialty])
    departed.is_active = False
    departed.save(update_fields=["is_active"])
    make_user(Role.CLINICIAN)

    reviewers = selectors.specialty_reviewers(specialty.pk)

    assert [(r.pk, r.profile.title) for r in reviewers] == [(reviewer.pk, "Attending, Rheumatology")]
