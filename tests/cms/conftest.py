"""Intranet pages for cms tests, built the way an editor publishes them (a revision, then publish)."""

from __future__ import annotations

import pytest

from portal.roles import Role
from tests.factories import SpecialtyFactory

EVERY_ROLE = [Role.CLINICIAN, Role.REVIEWER, Role.COORDINATOR, Role.LEADERSHIP, Role.ADMINISTRATOR]


def publish_child(parent, page):
    """Add ``page`` under ``parent`` and publish it through a revision, as the admin does."""
    parent.add_child(instance=page)
    page.save_revision().publish()
    page.refresh_from_db()
    return page


@pytest.fixture
def add_standard_page(home_page):
    from cms.models import StandardPage

    def _add(title="How referrals work", parent=None, **fields):
        return publish_child(parent or home_page, StandardPage(title=title, **fields))

    return _add


@pytest.fixture
def specialty_index(home_page):
    from cms.models import SpecialtyIndexPage

    return publish_child(
        home_page,
        SpecialtyIndexPage(title="Specialties", slug="specialties", intro="<p>Who reviews what.</p>"),
    )


@pytest.fixture
def add_specialty_page(specialty_index):
    from cms.models import SpecialtyPage

    def _add(specialty=None, **fields):
        specialty = specialty or SpecialtyFactory()
        fields.setdefault("title", specialty.name)
        fields.setdefault("summary", f"Second opinions in {specialty.name}.")
        return publish_child(specialty_index, SpecialtyPage(specialty=specialty, **fields))

    return _add


@pytest.fixture
def editor(make_user):
    """A Wagtail editor who may edit every page (superuser until Leadership gets page permissions)."""
    return make_user(Role.LEADERSHIP, is_superuser=True, is_staff=True)


OPINION = {
    "opinion_summary": "Imaging and history reviewed in full.",
    "opinion_answer": "Surgery is reasonable; a short trial of medical therapy first is an equal option.",
    "diagnosis_outcome": "confirmed",
    "treatment_outcome": "refined",
    "clinical_impact": "moderate",
}


@pytest.fixture
def referral_through(make_user):
    """Create a referral in a specialty and move it through the services to 'accepted' or 'opinion_delivered'."""
    from referrals import services
    from tests.factories import referral_data

    people = {}

    def _through(specialty, status: str):
        if specialty.pk not in people:
            people[specialty.pk] = (
                make_user(Role.CLINICIAN),
                make_user(Role.COORDINATOR),
                make_user(Role.REVIEWER, review_specialties=[specialty], title="Attending"),
            )
        referrer, coordinator, reviewer = people[specialty.pk]
        referral, _ = services.referral_create(actor=referrer, data=referral_data(specialty))
        services.referral_accept(referral_id=referral.pk, actor=coordinator)
        if status == "opinion_delivered":
            services.referral_claim(referral_id=referral.pk, actor=reviewer)
            services.referral_start_review(referral_id=referral.pk, actor=reviewer)
            services.referral_deliver_opinion(referral_id=referral.pk, actor=reviewer, opinion=OPINION)
        return referral

    return _through
