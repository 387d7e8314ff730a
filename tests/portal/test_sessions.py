"""Idle and absolute session limits, and sign-in required everywhere."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

pytestmark = pytest.mark.django_db


@pytest.fixture
def signed_in(client, two_factor_ready, clinician, home_page):
    return two_factor_ready(clinician)


def test_idle_session_ends_after_the_configured_time(signed_in):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        assert signed_in.get("/").status_code == 200
    with time_machine.travel(start + settings.SESSION_IDLE_TIMEOUT + timedelta(seconds=5), tick=False):
        response = signed_in.get("/")

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))
    assert "_auth_user_id" not in signed_in.session


def test_activity_within_the_idle_limit_keeps_the_session(signed_in):
    start = timezone.now()
    step = settings.SESSION_IDLE_TIMEOUT - timedelta(minutes=1)
    for i in range(4):  # 4 × 14 minutes = 56 minutes of steady work
        with time_machine.travel(start + step * i, tick=False):
            assert signed_in.get("/").status_code == 200


def test_polling_the_unread_badge_does_not_keep_an_idle_session_alive(signed_in):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        assert signed_in.get("/").status_code == 200
    # The open page polls every few minutes while the person is away.
    minute = timedelta(minutes=1)
    for m in range(1, int(settings.SESSION_IDLE_TIMEOUT / minute), 3):
        with time_machine.travel(start + minute * m, tick=False):
            assert signed_in.get(reverse("notification_badge"), HTTP_HX_REQUEST="true").status_code == 200

    with time_machine.travel(start + settings.SESSION_IDLE_TIMEOUT + timedelta(seconds=5), tick=False):
        poll = signed_in.get(reverse("notification_badge"), HTTP_HX_REQUEST="true")

    # The page is told to leave for the sign-in page instead of swapping in a login form.
    assert poll["HX-Redirect"] == reverse("account_login")
    assert "_auth_user_id" not in signed_in.session


def test_session_ends_after_the_absolute_lifetime_even_when_active(signed_in):
    start = timezone.now()
    step = settings.SESSION_IDLE_TIMEOUT - timedelta(minutes=1)
    at = start
    with time_machine.travel(at, tick=False):
        signed_in.get("/")
    while at - start < settings.SESSION_ABSOLUTE_LIFETIME - step:
        at += step
        with time_machine.travel(at, tick=False):
            assert signed_in.get("/").status_code == 200

    with time_machine.travel(start + settings.SESSION_ABSOLUTE_LIFETIME + timedelta(minutes=1), tick=False):
        response = signed_in.get("/")

    assert response.status_code == 302
    assert "_auth_user_id" not in signed_in.session


def test_expired_session_shows_why_on_the_sign_in_page(signed_in):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        signed_in.get("/")
    with time_machine.travel(start + settings.SESSION_IDLE_TIMEOUT + timedelta(minutes=1), tick=False):
        response = signed_in.get("/", follow=True)

    assert "You were signed out after 15 minutes without activity" in response.content.decode()


def test_session_cookie_is_http_only_and_dies_with_the_browser(client, leader):
    from tests.factories import TEST_PASSWORD

    response = client.post(reverse("account_login"), {"login": leader.email, "password": TEST_PASSWORD})

    cookie = response.cookies[settings.SESSION_COOKIE_NAME]
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Lax"
    assert cookie["expires"] == "" and cookie["max-age"] == ""
