"""A person signs in with e-mail, password and an authenticator code, sees the
home page, receives a notification without reloading, and signs out."""

from __future__ import annotations

import re

import pytest
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret, hotp_value, yield_hotp_counters_from_time

from portal import services
from portal.notification_kinds import NotificationKind
from portal.roles import Role
from tests.factories import TEST_PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _totp(secret):
    return f"{hotp_value(secret, next(yield_hotp_counters_from_time())):06d}"


def _sign_in(page, live_server, email, password=TEST_PASSWORD):
    page.goto(f"{live_server.url}/")
    assert "/accounts/login/" in page.url
    page.get_by_label(re.compile("^E-?mail", re.I)).fill(email)
    page.get_by_label(re.compile("^Password", re.I)).fill(password)
    page.get_by_role("button", name=re.compile("Sign in", re.I)).click()


def test_clinician_signs_in_with_two_factor_gets_a_notification_live_and_signs_out(
    page, live_server, wagtail_site, make_user, settings, axe
):
    settings.NOTIFICATION_POLL_SECONDS = 1
    person = make_user(Role.CLINICIAN, first_name="Maria", email="maria.test@riverside.example.org")
    secret = generate_totp_secret()
    TOTP.activate(person, secret)

    _sign_in(page, live_server, person.email)
    page.get_by_label(re.compile("code", re.I)).fill(_totp(secret))
    page.get_by_role("button", name=re.compile("Sign in|Verify|Authenticate", re.I)).click()

    page.get_by_role("heading", name="Welcome, Maria").wait_for()
    assert page.locator("#notification-badge .notification-count").count() == 0
    assert axe(page) == []

    services.notification_send(
        kind=NotificationKind.GENERAL,
        event_key="e2e:welcome",
        recipient_ids=[person.pk],
        verb="Your referral SO-2026-000042 was claimed",
    )
    badge = page.locator("#notification-badge .notification-count")
    badge.wait_for(timeout=10_000)  # the poll brings it in; no reload
    assert badge.inner_text().startswith("1")

    page.locator("#notification-badge").click()
    page.locator(".notification-list li").filter(has_text="Your referral SO-2026-000042 was claimed").wait_for()

    page.get_by_role("button", name=re.compile(re.escape(person.get_full_name()))).click()
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(r"/accounts/(login|logout)/"))
    if "/accounts/logout/" in page.url:  # allauth asks to confirm on GET; our menu posts directly
        page.get_by_role("button", name=re.compile("Sign out", re.I)).click()
    page.goto(f"{live_server.url}/")
    assert "/accounts/login/" in page.url
    assert page.csp_violations == []


def test_sign_in_page_has_no_serious_accessibility_findings(page, live_server, wagtail_site, axe):
    page.goto(f"{live_server.url}/accounts/login/")

    assert axe(page) == []
    assert page.csp_violations == []


def test_wrong_password_is_explained_in_the_browser(page, live_server, wagtail_site, make_user):
    person = make_user(Role.LEADERSHIP)

    _sign_in(page, live_server, person.email, password="not-the-right-one-1")

    page.get_by_text("The email address and/or password you specified are not correct.").wait_for()
    assert page.get_by_label(re.compile("^E-?mail", re.I)).input_value() == person.email
