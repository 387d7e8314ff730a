"""A strict Content-Security-Policy on the portal's pages, and no inline script to break it."""

import re

import pytest
from django.urls import reverse

from portal.roles import PATIENT_DATA_ROLES, Role

pytestmark = pytest.mark.django_db

INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
INLINE_HANDLER = re.compile(r"\son[a-z]+\s*=", re.IGNORECASE)
INLINE_STYLE = re.compile(r"<style\b|\sstyle\s*=", re.IGNORECASE)


def _assert_strict_page(response):
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert "frame-ancestors 'none'" in policy
    html = response.content.decode()
    assert not INLINE_SCRIPT.search(html), INLINE_SCRIPT.search(html).group(0)
    assert not INLINE_HANDLER.search(html), INLINE_HANDLER.search(html).group(0)
    assert not INLINE_STYLE.search(html), INLINE_STYLE.search(html).group(0)


@pytest.mark.parametrize("url_name", ["account_login", "account_signup", "account_reset_password"])
def test_sign_in_pages_send_a_strict_policy_and_no_inline_code(client, url_name):
    _assert_strict_page(client.get(reverse(url_name)))


def test_signed_in_pages_send_a_strict_policy_and_no_inline_code(client, make_user, home_page, two_factor_ready):
    person = make_user(Role.CLINICIAN, Role.REVIEWER, Role.COORDINATOR, Role.LEADERSHIP)
    two_factor_ready(person)
    for path in ["/", reverse("notification_list"), reverse("notification_preferences"), "/search/?q=opinion"]:
        response = client.get(path)
        assert response.status_code == 200, path
        _assert_strict_page(response)


def test_layout_has_landmarks_a_skip_link_and_the_refer_button(client, clinician, home_page, two_factor_ready):
    two_factor_ready(clinician)
    html = client.get("/").content.decode()

    assert 'href="#main"' in html and 'id="main"' in html
    assert "<header" in html and "<nav" in html and "<main" in html and "<footer" in html
    assert "Refer a patient" in html
    assert 'id="notification-badge"' in html and 'hx-get="/notifications/badge/"' in html
    assert '<html lang="en">' in html


@pytest.mark.parametrize(
    ("roles", "visible", "hidden"),
    [
        ((Role.CLINICIAN,), ["My referrals", "Learn"], ["Review queue", "Dashboard"]),
        ((Role.CLINICIAN, Role.REVIEWER), ["Review queue"], ["Dashboard"]),
        ((Role.LEADERSHIP,), ["Dashboard"], ["Review queue"]),
        ((Role.COORDINATOR,), ["Board", "Dashboard"], ["Review queue"]),
        ((Role.CLINICIAN,), ["My referrals"], ["Board"]),
        # Leadership and editors see aggregates only: nothing to refer or follow.
        ((Role.LEADERSHIP,), ["Learn", "My impact"], ["My referrals", "Refer"]),
        ((Role.EDITOR,), ["Learn"], ["My referrals", "Refer", "Dashboard"]),
    ],
)
def test_navigation_is_shown_by_role(client, make_user, home_page, two_factor_ready, roles, visible, hidden):
    two_factor_ready(make_user(*roles))
    nav = client.get("/").content.decode().split('<nav class="navbar', 1)[1].split("</nav>", 1)[0]

    for label in visible:
        assert f">{label}</a>" in nav, label
    for label in hidden:
        assert f">{label}</a>" not in nav, label
    assert ("Refer a patient</a>" in nav) == any(Role(r) in PATIENT_DATA_ROLES for r in roles)


def test_demo_mode_shows_that_two_factor_is_relaxed(client, clinician, home_page, settings):
    settings.MFA_REQUIRED_FOR_PATIENT_DATA = False
    client.force_login(clinician)

    html = client.get("/").content.decode()

    assert "Demo mode: two-factor sign-in is relaxed" in html


def test_home_page_query_count_does_not_grow_with_notifications(
    client, clinician, home_page, two_factor_ready, django_assert_max_num_queries
):
    from portal import services

    two_factor_ready(clinician)
    client.get("/")
    # 17 measured: the page, my referrals, updates, my credit and rank, training, the departments' board, the badge.
    with django_assert_max_num_queries(17):
        assert client.get("/").status_code == 200
    services.notification_send(kind="general", event_key="bulk", recipient_ids=[clinician.pk], verb="Program news")
    for i in range(40):
        services.notification_send(kind="general", event_key=f"bulk:{i}", recipient_ids=[clinician.pk], verb="News")
    with django_assert_max_num_queries(17):
        assert client.get("/").status_code == 200
