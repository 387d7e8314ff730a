"""Editors see pages past their review-by date in Wagtail's reports."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from wagtail.models import Page

from cms import selectors
from portal.roles import Role

pytestmark = pytest.mark.django_db


def test_stale_pages_report_lists_a_page_past_its_review_by_date_and_not_a_fresh_one(
    client, editor, two_factor_ready, add_standard_page, add_specialty_page
):
    today = timezone.localdate()
    add_standard_page(title="Old referral guide", review_by=today - timedelta(days=3))
    add_standard_page(title="Fresh strategy page", review_by=today + timedelta(days=30))
    add_standard_page(title="Page with no review date")
    add_specialty_page(title="Stale cardiology page", review_by=today - timedelta(days=1))
    two_factor_ready(editor)

    response = client.get(reverse("cms_stale_pages"))

    assert response.status_code == 200
    html = response.content.decode()
    assert "Old referral guide" in html
    assert "Stale cardiology page" in html
    assert "Fresh strategy page" not in html
    assert "Page with no review date" not in html


def test_stale_pages_are_listed_oldest_review_date_first(add_standard_page):

    today = timezone.localdate()
    add_standard_page(title="Late", review_by=today - timedelta(days=1))
    add_standard_page(title="Very late", review_by=today - timedelta(days=100))

    titles = list(selectors.stale_pages(Page.objects.all()).values_list("title", flat=True))

    assert titles == ["Very late", "Late"]


def test_stale_pages_report_is_in_the_reports_menu(client, editor, two_factor_ready):
    two_factor_ready(editor)

    html = client.get(reverse("wagtailadmin_home")).content.decode()

    assert reverse("cms_stale_pages") in html


def test_stale_pages_report_exports_csv(client, editor, two_factor_ready, add_standard_page):
    add_standard_page(title="Old referral guide", review_by=timezone.localdate() - timedelta(days=3))
    two_factor_ready(editor)

    response = client.get(reverse("cms_stale_pages") + "?export=csv")

    assert response.status_code == 200
    body = b"".join(response.streaming_content).decode() if response.streaming else response.content.decode()
    assert "Old referral guide" in body and "Review by" in body


def test_people_without_page_permissions_cannot_open_the_report(client, make_user, two_factor_ready, home_page):
    two_factor_ready(make_user(Role.COORDINATOR))  # may use Wagtail's admin, may not edit pages

    response = client.get(reverse("cms_stale_pages"))

    assert response.status_code in (302, 403)
