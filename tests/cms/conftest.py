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


@pytest.fixture
def update_index(home_page):
    from cms.models import ProgramUpdateIndexPage

    return publish_child(home_page, ProgramUpdateIndexPage(title="Program updates", slug="updates"))


@pytest.fixture
def add_update(update_index):
    """Publish a program update; ``departments`` / ``roles`` narrow its audience (else it is for everyone)."""
    from django.contrib.auth.models import Group

    from cms.models import ProgramUpdatePage

    def _add(title="New turnaround targets", departments=(), roles=(), summary="What changes and when.", **fields):
        page = ProgramUpdatePage(
            title=title, summary=summary, audience_everyone=not departments and not roles, **fields
        )
        update_index.add_child(instance=page)
        page.audience_departments.set(departments)
        page.audience_roles.set(Group.objects.filter(name__in=[Role(r).value for r in roles]))
        page.save_revision().publish()
        page.refresh_from_db()
        return page

    return _add


@pytest.fixture
def count_queries():
    """Count the queries run inside the block at the cursor (CaptureQueriesContext misses some once its log is full)."""
    from contextlib import contextmanager

    from django.db import connection

    @contextmanager
    def _count():
        seen: list[str] = []

        def wrapper(execute, sql, params, many, context):
            seen.append(sql)
            return execute(sql, params, many, context)

        with connection.execute_wrapper(wrapper):
            yield seen

    return _count
