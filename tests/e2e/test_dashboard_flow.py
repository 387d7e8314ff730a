"""The dashboard and My impact in a real browser: charts drawn under the strict CSP, a period change,
a CSV download, a clinician refused, and a clinician's points and rank moving when their referral is accepted."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from portal.roles import Role
from referrals import services
from tests.e2e.test_referral_flow import _signed_in_page
from tests.factories import SpecialtyFactory, referral_data
from tests.referrals.conftest import OPINION

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Counts the painted pixels of a chart's canvas: a blank canvas has none.
PAINTED_PIXELS = """(id) => {
    const canvas = document.getElementById(id);
    const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    let painted = 0;
    for (let i = 3; i < data.length; i += 4) { if (data[i] !== 0) painted++; }
    return painted;
}"""


def _program_with_history(make_user):
    cardiology = SpecialtyFactory(name="Cardiology", slug="cardiology")
    coordinator = make_user(Role.COORDINATOR)
    reviewer = make_user(Role.REVIEWER, review_specialties=[cardiology])
    clinician = make_user(Role.CLINICIAN, first_name="Maria", last_name="Rivera")
    for outcome in ("scheduled_here", "returned"):
        referral, _ = services.referral_create(actor=clinician, data=referral_data(cardiology))
        services.referral_accept(referral_id=referral.pk, actor=coordinator)
        services.referral_claim(referral_id=referral.pk, actor=reviewer)
        services.referral_start_review(referral_id=referral.pk, actor=reviewer)
        services.referral_deliver_opinion(referral_id=referral.pk, actor=reviewer, opinion=OPINION)
        services.referral_close(referral_id=referral.pk, actor=coordinator, outcome={"downstream_outcome": outcome})
    services.referral_create(actor=clinician, data=referral_data(cardiology))
    return cardiology, coordinator, reviewer, clinician


def test_a_leader_sees_the_charts_changes_the_period_and_downloads_a_csv(
    browser, live_server, wagtail_site, make_user, axe, tmp_path
):
    _program_with_history(make_user)
    page = _signed_in_page(browser, live_server, make_user(Role.LEADERSHIP))

    page.goto(f"{live_server.url}/dashboard/")
    page.locator('canvas[data-chart-drawn="true"]').first.wait_for()
    assert page.locator('canvas[data-chart-drawn="true"]').count() == 5
    for chart in ("chart-by-week", "chart-funnel", "chart-channel"):
        assert page.evaluate(PAINTED_PIXELS, chart) > 500, chart
    page.screenshot(path=str(tmp_path / "dashboard.png"), full_page=True)
    assert page.locator('[data-figure="submitted"]').inner_text() == "3"
    assert axe(page) == []

    page.get_by_label("Period", exact=True).select_option("12m")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url(re.compile(r"period=12m"))
    page.locator('canvas[data-chart-drawn="true"]').first.wait_for()

    with page.expect_download() as download_info:
        page.get_by_role("link", name=re.compile("CSV of funnel")).click()
    download = download_info.value
    assert download.suggested_filename.startswith("funnel-")
    lines = Path(download.path()).read_text(encoding="utf-8").splitlines()
    assert lines[0] == "Step,Referrals,% of submitted" and lines[1] == "Submitted,3,100.0"
    assert page.csp_violations == []
    page.context.close()


def test_a_clinician_is_refused_the_dashboard(browser, live_server, wagtail_site, make_user):
    page = _signed_in_page(browser, live_server, make_user(Role.CLINICIAN))

    response = page.goto(f"{live_server.url}/dashboard/")

    assert response.status == 403
    page.context.close()


def test_a_clinicians_points_and_rank_change_when_their_referral_is_accepted(
    browser, live_server, wagtail_site, make_user
):
    cardiology, coordinator, _, _ = _program_with_history(make_user)
    clinician = make_user(Role.CLINICIAN, first_name="Tom", last_name="Okafor")
    referral, _ = services.referral_create(actor=clinician, data=referral_data(cardiology))
    page = _signed_in_page(browser, live_server, clinician)

    page.goto(f"{live_server.url}/impact/")
    assert page.locator('[data-figure="points-month"]').inner_text() == "0"
    assert "Not ranked yet" in page.locator('[data-standing="month"]').inner_text()

    services.referral_accept(referral_id=referral.pk, actor=coordinator)
    page.reload()

    assert page.locator('[data-figure="points-month"]').inner_text() == "1"
    # Maria has 9 points (two referrals accepted and delivered, one scheduled here), their reviewer 4: Tom is third.
    standing = page.locator('[data-standing="month"]').inner_text()
    assert page.locator('[data-figure="rank-month"]').inner_text() == "3" and "of 3" in standing
    page.get_by_text(f"Referral accepted: {referral.reference}").wait_for()
    assert page.csp_violations == []
    page.context.close()
