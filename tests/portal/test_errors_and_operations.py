"""Errors reach people as plain pages, never stack traces; beat and SSO are wired."""

import pytest
from django.test import Client, override_settings
from django.urls import path

from portal.celery import app
from portal.roles import Role

pytestmark = pytest.mark.django_db


def _boom(request):
    raise RuntimeError("internal detail that must not leak")


urlpatterns = [path("boom/", _boom)]


@override_settings(ROOT_URLCONF=__name__, DEBUG=False)
def test_a_server_error_shows_a_plain_page_without_a_stack_trace(leader):
    client = Client(raise_request_exception=False)
    client.force_login(leader)

    response = client.get("/boom/")

    assert response.status_code == 500
    body = response.content.decode()
    assert "Something went wrong on our side" in body
    assert "Traceback" not in body and "internal detail" not in body


def test_unknown_page_shows_a_helpful_404(client, leader, home_page):
    client.force_login(leader)

    response = client.get("/no-such-page/")

    assert response.status_code == 404
    assert "We could not find that page" in response.content.decode()


def test_every_beat_job_names_a_registered_task():
    app.loader.import_default_modules()
    schedule = app.conf.beat_schedule

    assert {"notifications-daily-digest", "notifications-email-sweep"} <= set(schedule)
    for entry in schedule.values():
        assert entry["task"] in app.tasks, entry["task"]


def test_with_single_sign_on_on_signup_and_password_sign_in_are_closed(client, make_user, settings):
    from portal.models import User

    person = make_user(Role.LEADERSHIP)
    settings.OIDC_ENABLED = True
    settings.SOCIALACCOUNT_ONLY = True

    signup = client.post(
        "/accounts/signup/", {"email": "x@riverside.example.org", "password1": "a" * 20, "password2": "a" * 20}
    )
    login = client.post("/accounts/login/", {"login": person.email, "password": "a-long-test-password-41"})

    assert "the sign up is currently closed" in signup.content.decode()
    assert not User.objects.filter(email="x@riverside.example.org").exists()
    assert login.status_code == 403
    assert "_auth_user_id" not in client.session
