"""The referral loop in a real browser: deep link → one submit → accept → claim →
opinion → the clinician sees the outcome and the notification."""

from __future__ import annotations

import re

import pytest
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from django.conf import settings
from django.test import Client

from portal.roles import Role
from referrals.models import Referral
from tests.factories import PATIENT_MARKER, SpecialtyFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _signed_in_page(browser, live_server, user):
    """A browser context carrying a signed-in session for this person (two-factor set up)."""
    TOTP.activate(user, generate_totp_secret())
    client = Client()
    client.force_login(user)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                "url": live_server.url,
            }
        ]
    )
    page = context.new_page()
    page.csp_violations = []
    page.on("console", lambda m: page.csp_violations.append(m.text) if "Content Security Policy" in m.text else None)
    return page


def test_clinician_refers_from_a_deep_link_and_sees_the_opinion(browser, live_server, wagtail_site, make_user, axe):
    cardiology = SpecialtyFactory(name="Cardiology", slug="cardiology")
    clinician = make_user(Role.CLINICIAN, first_name="Maria")
    coordinator = make_user(Role.COORDINATOR)
    reviewer = make_user(Role.REVIEWER, review_specialties=[cardiology], first_name="Anita", last_name="Patel")

    # 1. The clinician follows an EHR toolbar link and refers in one submit.
    page = _signed_in_page(browser, live_server, clinician)
    page.goto(
        f"{live_server.url}/refer/?specialty=cardiology&mrn=MRN-0042&name={PATIENT_MARKER.replace(' ', '%20')}"
        "&dob=1961-05-17&urgency=urgent"
    )
    assert page.get_by_label(re.compile("Patient name")).input_value() == PATIENT_MARKER
    assert page.get_by_label(re.compile("Medical record number")).input_value() == "MRN-0042"
    assert axe(page) == []
    page.get_by_label(re.compile("Question for the second opinion")).fill(
        "Valve replacement now, or continued surveillance?"
    )
    page.get_by_label(re.compile("The patient agreed")).check()
    page.get_by_role("button", name=re.compile("Send the referral")).click()
    page.get_by_text(re.compile(r"Referral SO-\d{4}-\d{6} sent")).wait_for()
    referral = Referral.objects.get()
    assert referral.reference in page.content()
    assert referral.urgency == "urgent" and referral.specialty == cardiology

    # 2. The coordinator accepts it.
    office = _signed_in_page(browser, live_server, coordinator)
    office.goto(f"{live_server.url}/referrals/{referral.reference}/")
    office.get_by_role("button", name="Accept", exact=True).click()
    office.get_by_role("status").filter(has_text=f"{referral.reference} accepted").wait_for()

    # 3. The reviewer finds it in the queue, claims it, reviews and delivers the opinion.
    desk = _signed_in_page(browser, live_server, reviewer)
    desk.goto(f"{live_server.url}/review/")
    assert PATIENT_MARKER not in desk.content()  # no identifiers in the queue
    desk.get_by_role("button", name=re.compile("Claim")).first.click()
    desk.get_by_role("status").filter(has_text=f"You claimed {referral.reference}").wait_for()
    desk.goto(f"{live_server.url}/referrals/{referral.reference}/")
    desk.get_by_role("button", name="Start review").click()
    desk.locator("#action-deliver-opinion summary").click()
    form = desk.locator("#action-deliver-opinion form")
    form.get_by_label(re.compile("Summary")).fill("Echo and CT reviewed with the referring team's notes.")
    form.get_by_label(re.compile("Answer")).fill("Replace the valve now: symptoms with moderate-severe stenosis.")
    form.get_by_label(re.compile("Diagnosis outcome")).select_option("refined")
    form.get_by_label(re.compile("Treatment outcome")).select_option("confirmed")
    form.get_by_role("button", name=re.compile("Deliver")).click()
    desk.locator(".alert-success").filter(has_text=f"The opinion on {referral.reference}").wait_for()

    # 4. The clinician sees the outcome and the notification.
    page.goto(f"{live_server.url}/referrals/{referral.reference}/")
    page.get_by_text("Replace the valve now").wait_for()
    badge = page.locator("#notification-badge .notification-count")
    assert int(badge.get_attribute("data-count")) >= 1
    page.locator("#notification-badge").click()
    page.get_by_role("link", name=f"The second opinion for {referral.reference} is ready").wait_for()

    for p in (page, office, desk):
        assert p.csp_violations == []
        p.context.close()
