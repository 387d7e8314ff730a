"""Reads about people: the specialty a referral form names."""

from __future__ import annotations

import pytest

from portal.selectors import active_specialty
from tests.factories import SpecialtyFactory

pytestmark = pytest.mark.django_db


def test_an_active_specialty_is_found_by_its_slug():
    cardiology = SpecialtyFactory(name="Cardiology", slug="cardiology")

    found = active_specialty("cardiology")

    assert (found.pk, found.name, found.slug, found.is_active) == (cardiology.pk, "Cardiology", "cardiology", True)


def test_an_active_specialty_is_found_by_its_primary_key():
    neurology = SpecialtyFactory(name="Neurology", slug="neurology")

    assert active_specialty(str(neurology.pk)) == neurology


def test_a_slug_made_of_digits_wins_over_a_primary_key():
    first = SpecialtyFactory(name="First", slug="first")
    by_slug = SpecialtyFactory(name="Numbered", slug=str(first.pk))

    assert active_specialty(str(first.pk)) == by_slug


def test_an_inactive_specialty_is_not_found_by_slug_or_primary_key():
    retired = SpecialtyFactory(name="Retired", slug="retired", is_active=False)

    assert active_specialty("retired") is None
    assert active_specialty(str(retired.pk)) is None


def test_an_unknown_slug_is_not_found():
    SpecialtyFactory(name="Cardiology", slug="cardiology")

    assert active_specialty("cardio") is None
    assert active_specialty("cardiology' OR '1'='1") is None


@pytest.mark.parametrize("value", ["cardio\x00logy", "\u00b2", "9" * 30, "", "cardiology/"])
def test_a_value_no_slug_or_key_can_be_finds_nothing_without_an_error(value):
    SpecialtyFactory(name="Cardiology", slug="cardiology")

    assert active_specialty(value) is None


def test_the_specialty_is_one_query(django_assert_num_queries):
    SpecialtyFactory(name="Cardiology", slug="cardiology")

    with django_assert_num_queries(1):
        active_specialty("cardiology")
