"""Sign-in: hospital domains, verification, passwords, rate limits, admin paths, two-factor."""

from __future__ import annotations

import re

import pytest
from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret, hotp_value, yield_hotp_counters_from_time
from django.core import mail
from django.urls import reverse

from portal.models import Profile, User
from portal.roles import Role
from tests.factories import TEST_PASSWORD

pytestmark = pytest.mark.django_db

STRONG_PASSWORD = "quiet-harbour-lantern-77"


def _signup(client, email, password=STRONG_PASSWORD, password2=None):
    return client.post(
        reverse("account_signup"),
        {"email": email, "password1": password, "password2": password2 or password},
    )


def _login(client, email, password):
    return client.post(reverse("account_login"), {"login": email, "password": password})


def _current_totp_code(secret: str) -> str:
    counter = next(yield_hotp_counters_from_time())
    return f"{hotp_value(secret, counter):06d}"


# --- Sign-up ---------------------------------------------------------------------


def test_signup_with_outside_domain_is_refused_with_a_clear_message_and_keeps_the_address(client):
    response = _signup(client, "someone@gmail.com")

    assert response.status_code == 200
    assert "Use your hospital e-mail address (@riverside.example.org)" in response.content.decode()
    assert 'value="someone@gmail.com"' in response.content.decode()
    assert not User.objects.filter(email="someone@gmail.com").exists()


def test_signup_with_hospital_domain_creates_person_with_profile_and_sends_verification(client):
    response = _signup(client, "new.nurse@riverside.example.org")

    assert response.status_code == 302
    user = User.objects.get(email="new.nurse@riverside.example.org")
    assert Profile.objects.filter(user=user).exists()
    assert not EmailAddress.objects.get(user=user).verified
    assert len(mail.outbox) == 1
    assert "new.nurse@riverside.example.org" in mail.outbox[0].to


def test_unverified_address_cannot_sign_in(client):
    _signup(client, "unverified@riverside.example.org")
    client.logout()

    response = _login(client, "unverified@riverside.example.org", STRONG_PASSWORD)

    assert response.status_code == 302
    assert response["Location"] == reverse("account_email_verification_sent")
    assert "_auth_user_id" not in client.session


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("Short-pw-1", "at least 12 characters"),
        ("password1234", "too common"),
    ],
)
def test_weak_passwords_are_refused(client, password, message):
    response = _signup(client, "weak@riverside.example.org", password=password)

    assert message in response.content.decode()
    assert not User.objects.filter(email="weak@riverside.example.org").exists()


# --- Password reset --------------------------------------------------------------


def test_password_reset_does_not_reveal_whether_an_account_exists(client, clinician):
    known = client.post(reverse("account_reset_password"), {"email": clinician.email})
    unknown = client.post(reverse("account_reset_password"), {"email": "nobody@riverside.example.org"})

    assert known.status_code == unknown.status_code == 302
    assert known["Location"] == unknown["Location"]
    # Both addresses receive a mail (the unknown one says there is no account),
    # so neither the page nor the mail count tells an attacker anything.
    assert len(mail.outbox) == 2


# --- Sign-in and rate limits --------------------------------------------------------


def test_wrong_password_shows_a_clear_message_and_keeps_the_address(client, clinician):
    response = _login(client, clinician.email, "not-the-password-123")

    body = response.content.decode()
    assert response.status_code == 200
    assert "The email address and/or password you specified are not correct." in body
    assert f'value="{clinician.email}"' in body
    assert "_auth_user_id" not in client.session


def test_repeated_failed_sign_ins_are_rate_limited_even_with_the_right_password(client, clinician):
    for _ in range(5):
        _login(client, clinician.email, "wrong-password-123")

    response = _login(client, clinician.email, TEST_PASSWORD)

    assert "Too many failed login attempts" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_clinician_without_totp_is_sent_to_set_it_up_before_any_page(client, clinician, home_page):
    response = _login(client, clinician.email, TEST_PASSWORD)
    assert response.status_code == 302

    for path in ["/", reverse("notification_list"), reverse("notification_preferences")]:
        page = client.get(path)
        assert page.status_code == 302, path
        assert page["Location"] == reverse("mfa_activate_totp")


def test_leadership_without_patient_data_access_is_not_forced_to_two_factor(client, leader, home_page):
    _login(client, leader.email, TEST_PASSWORD)

    assert client.get("/").status_code == 200


def test_totp_user_must_enter_a_valid_code_before_the_session_is_signed_in(client, clinician, home_page):
    secret = generate_totp_secret()
    TOTP.activate(clinician, secret)

    response = _login(client, clinician.email, TEST_PASSWORD)
    assert response["Location"] == reverse("mfa_authenticate")
    assert "_auth_user_id" not in client.session

    bad = client.post(reverse("mfa_authenticate"), {"code": "000000"})
    assert bad.status_code == 200
    assert "Incorrect code." in bad.content.decode()
    assert "_auth_user_id" not in client.session

    good = client.post(reverse("mfa_authenticate"), {"code": _current_totp_code(secret)})
    assert good.status_code == 302
    assert client.get("/").status_code == 200


def test_activating_totp_issues_recovery_codes(client, clinician):
    _login(client, clinician.email, TEST_PASSWORD)
    # allauth asks for the password again before changing authenticators.
    client.post(reverse("account_reauthenticate"), {"password": TEST_PASSWORD})
    page = client.get(reverse("mfa_activate_totp"))
    secret = page.context["form"].secret

    response = client.post(reverse("mfa_activate_totp"), {"code": _current_totp_code(secret)})

    assert response.status_code == 302
    types = set(Authenticator.objects.filter(user=clinician).values_list("type", flat=True))
    assert types == {Authenticator.Type.TOTP, Authenticator.Type.RECOVERY_CODES}


def test_recovery_code_signs_in_when_the_phone_is_lost(client, clinician, home_page):
    from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes

    TOTP.activate(clinician, generate_totp_secret())
    codes = RecoveryCodes.activate(clinician).get_unused_codes()

    _login(client, clinician.email, TEST_PASSWORD)
    response = client.post(reverse("mfa_authenticate"), {"code": codes[0]})

    assert response.status_code == 302
    assert client.get("/").status_code == 200


# --- Admin login paths ---------------------------------------------------------------


@pytest.mark.parametrize("path", ["/django-admin/login/", "/cms-admin/login/", "/_util/login/"])
def test_posting_a_password_to_an_admin_login_does_not_sign_anyone_in(client, make_user, path):
    admin_user = make_user(Role.ADMINISTRATOR, is_staff=True, is_superuser=True)

    response = client.post(path, {"username": admin_user.email, "password": TEST_PASSWORD})

    assert "_auth_user_id" not in client.session
    assert response.status_code in (302, 405)
    if response.status_code == 302:
        assert response["Location"].startswith(reverse("account_login"))


@pytest.mark.parametrize("path", ["/django-admin/", "/cms-admin/"])
def test_admin_pages_send_anonymous_visitors_to_the_portal_sign_in(client, path):
    response = client.get(path, follow=True)

    assert response.status_code == 200
    assert response.request["PATH_INFO"] == reverse("account_login")


def test_wagtail_admin_login_redirect_keeps_the_next_address(client):
    response = client.get("/cms-admin/login/?next=/cms-admin/pages/")

    assert response.status_code == 302
    assert re.match(r"^/accounts/login/\?next=.*cms-admin", response["Location"])
