"""The demo intranet: specialty pages and the program's standard pages, seeded once and readable."""

from __future__ import annotations

import io

import pytest
from bs4 import BeautifulSoup

from cms.demo import STANDARD_SLUGS, UPDATE_SLUGS, seed_demo_intranet
from portal.demo import SPECIALTIES, seed_demo_home_page, seed_demo_people
from portal.roles import Role

pytestmark = pytest.mark.django_db


@pytest.fixture
def seeded():
    seed_demo_people()
    seed_demo_home_page()
    return seed_demo_intranet()


def test_seeding_creates_a_live_page_per_specialty_and_the_seven_standard_pages(seeded):
    from cms.models import HomePage, SpecialtyIndexPage, SpecialtyPage, StandardPage

    home = HomePage.objects.get()
    index = SpecialtyIndexPage.objects.child_of(home).get()
    specialty_pages = SpecialtyPage.objects.child_of(index)
    standard_pages = StandardPage.objects.child_of(home)

    assert sorted(specialty_pages.values_list("specialty__slug", flat=True)) == sorted(s for _, s in SPECIALTIES)
    assert sorted(standard_pages.values_list("slug", flat=True)) == sorted(STANDARD_SLUGS)
    assert len(STANDARD_SLUGS) == 7
    assert seeded == 1 + len(SPECIALTIES) + 7 + 1 + len(UPDATE_SLUGS)
    for page in [index, *specialty_pages, *standard_pages]:
        assert page.live and page.live_revision_id is not None, page.slug
    assert all(page.review_by and not page.is_stale for page in [*specialty_pages, *standard_pages])


def test_running_the_seed_twice_creates_nothing_new(seeded):
    from wagtail.models import Page, Revision

    counts = (Page.objects.count(), Revision.objects.count())

    assert seed_demo_intranet() == 0
    assert (Page.objects.count(), Revision.objects.count()) == counts


def test_every_demo_page_renders_for_a_clinician_with_real_prose(seeded, make_user, two_factor_ready):
    from cms.models import SpecialtyIndexPage, SpecialtyPage, StandardPage

    client = two_factor_ready(make_user(Role.CLINICIAN))
    pages = [*SpecialtyIndexPage.objects.all(), *SpecialtyPage.objects.all(), *StandardPage.objects.all()]

    for page in pages:
        response = client.get(page.url)
        assert response.status_code == 200, page.url
        html = response.content.decode()
        assert "lorem" not in html.lower(), page.url
        if isinstance(page, SpecialtyPage):
            assert f'href="/refer/?specialty={page.specialty.slug}"' in html, page.url

    for page in StandardPage.objects.all():
        article = BeautifulSoup(client.get(page.url).content, "html.parser").select_one("article")
        article.header.decompose()  # the title and intro
        words = len(article.get_text(" ", strip=True).split())
        assert 250 <= words <= 500, (page.slug, words)


def test_the_faq_page_uses_the_faq_block_with_eight_to_ten_questions(seeded):
    from cms.models import StandardPage

    faq = StandardPage.objects.get(slug="faq")
    blocks = [block for block in faq.body if block.block_type == "faq"]

    assert len(blocks) == 1
    assert 8 <= len(blocks[0].value["items"]) <= 10


def test_seed_demo_command_seeds_the_intranet_once(capsys):
    from django.core.management import call_command

    from cms.models import SpecialtyPage, StandardPage

    call_command("seed_demo")
    first = capsys.readouterr().out
    call_command("seed_demo")
    second = capsys.readouterr().out

    assert SpecialtyPage.objects.count() == len(SPECIALTIES)
    assert StandardPage.objects.count() == 7
    assert f"{1 + len(SPECIALTIES) + 7 + 1 + len(UPDATE_SLUGS)} new intranet pages" in first
    assert "0 new intranet pages" in second


def test_seeding_publishes_program_updates_one_asking_for_acknowledgement_and_one_for_a_department(seeded):
    from cms.models import ProgramUpdateIndexPage, ProgramUpdatePage

    index = ProgramUpdateIndexPage.objects.get()
    updates = ProgramUpdatePage.objects.child_of(index).live()

    assert sorted(updates.values_list("slug", flat=True)) == sorted(UPDATE_SLUGS)
    assert len(UPDATE_SLUGS) >= 3
    assert updates.filter(requires_acknowledgement=True, expires_on__isnull=False).count() == 1
    targeted = updates.filter(audience_everyone=False).get()
    assert list(targeted.audience_departments.values_list("code", flat=True)) == ["ed"]


def test_every_demo_update_renders_for_its_audience_with_real_prose(seeded, two_factor_ready):
    from cms.models import ProgramUpdatePage
    from portal.models import User

    client = two_factor_ready(User.objects.get(email="samuel.okafor@riverside.example.org"))  # Emergency

    for update in ProgramUpdatePage.objects.all():
        response = client.get(update.url)
        assert response.status_code == 200, update.url
        html = BeautifulSoup(response.content, "html.parser").find("main").get_text(" ", strip=True)
        assert "lorem" not in html.lower(), update.url
        assert len(html.split()) >= 120, f"{update.slug}: {len(html.split())} words"


def test_the_department_update_stays_out_of_sight_of_other_departments(seeded, two_factor_ready):
    from cms.models import ProgramUpdatePage
    from portal.models import User

    client = two_factor_ready(User.objects.get(email="maria.rivera@riverside.example.org"))  # Internal Medicine
    update = ProgramUpdatePage.objects.get(slug="emergency-department-referring-after-hours")

    assert client.get(update.url).status_code == 404


@pytest.mark.django_db(transaction=True)
def test_seed_demo_announces_the_updates_in_app_and_emails_nobody():
    # Real commits: the announcements run when seed_demo's transactions commit, as they would in production.
    from django.core import mail
    from django.core.management import call_command
    from wagtail.models import Locale, Page

    from portal.models import Notification

    Locale.objects.get_or_create(language_code="en")
    if not Page.objects.filter(depth=1).exists():
        Page.add_root(instance=Page(title="Root", slug="root"))

    call_command("seed_demo", stdout=io.StringIO())
    announced = Notification.objects.filter(event_key__startswith="update:").count()
    call_command("seed_demo", stdout=io.StringIO())

    assert announced > 0
    assert Notification.objects.filter(event_key__startswith="update:").count() == announced
    assert mail.outbox == []
