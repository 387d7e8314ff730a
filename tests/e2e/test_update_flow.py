"""A program update in a real browser: an editor drafts it for one department and submits it, leadership
approves and publishes it in Wagtail's admin, a member of that department is notified, opens and
acknowledges it, and someone outside the department never sees it."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from portal.roles import Role
from tests.e2e.test_referral_flow import _signed_in_page
from tests.factories import DepartmentFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TITLE = "Tumour board moves to Thursdays"


@pytest.fixture
def update_index(wagtail_site):
    from cms import services
    from cms.models import HomePage, ProgramUpdateIndexPage

    services.moderation_workflow_sync()  # a transactional test flushed the one made after migrate
    index = ProgramUpdateIndexPage(title="Program updates", slug="updates")
    HomePage.objects.get().add_child(instance=index)
    index.save_revision().publish()
    return index


def test_department_update_goes_from_draft_to_acknowledged_and_stays_out_of_other_departments(
    browser, live_server, update_index, make_user, axe
):
    from cms.models import ProgramUpdatePage, UpdateReceipt

    oncology = DepartmentFactory(name="Oncology", code="onc")
    emergency = DepartmentFactory(name="Emergency Medicine", code="ed")
    editor = make_user(Role.EDITOR, first_name="Nina", department=None)
    leader = make_user(Role.LEADERSHIP, first_name="Robert", department=None)
    member = make_user(Role.CLINICIAN, first_name="Wei", department=oncology)
    outsider = make_user(Role.CLINICIAN, first_name="Samuel", department=emergency)

    # 1. The editor drafts the update for Oncology in Wagtail's admin and submits it for approval.
    desk = _signed_in_page(browser, live_server, editor)
    desk.goto(live_server.url + reverse("wagtailadmin_pages:add", args=("cms", "programupdatepage", update_index.pk)))
    desk.locator("#id_title").fill(TITLE)
    desk.locator("#id_summary").fill("From next week the oncology tumour board meets on Thursdays at 8.")
    desk.locator("#id_audience_everyone").uncheck()
    desk.get_by_label("Oncology", exact=True).check()
    desk.locator("#id_requires_acknowledgement").check()
    desk.get_by_role("button", name="More actions").click()
    desk.get_by_role("button", name=re.compile("Submit to")).click()
    desk.get_by_text(re.compile("submitted", re.IGNORECASE)).first.wait_for()
    update = ProgramUpdatePage.objects.get()
    assert not update.live
    assert update.current_workflow_state is not None  # waiting for Leadership's approval

    # 2. Leadership approves and publishes it.
    office = _signed_in_page(browser, live_server, leader)
    office.goto(live_server.url + reverse("wagtailadmin_pages:edit", args=(update.pk,)))
    office.get_by_role("button", name="More actions").click()
    with office.expect_navigation():
        office.get_by_role("button", name="Approve and Publish").click()
    office.locator(".messages").get_by_text(TITLE).first.wait_for()
    update.refresh_from_db()
    assert update.live

    # 3. The Oncology member sees the notification, opens the update and acknowledges it.
    reader = _signed_in_page(browser, live_server, member)
    reader.goto(f"{live_server.url}/")
    badge = reader.locator("#notification-badge .notification-count")
    assert int(badge.get_attribute("data-count")) >= 1
    reader.locator("#notification-badge").click()
    reader.get_by_role("link", name=f"Program update: {TITLE}").first.click()
    reader.get_by_role("heading", name=TITLE).wait_for()
    assert axe(reader) == []
    reader.get_by_role("button", name="I have read this").click()
    reader.get_by_text("You have acknowledged this update").wait_for()
    receipt = UpdateReceipt.objects.get(update=update, user=member)
    assert receipt.read_at is not None and receipt.acknowledged_at is not None

    # 4. Someone in another department never sees it: not on Home, not in the list, not by its address.
    other = _signed_in_page(browser, live_server, outsider)
    other.goto(f"{live_server.url}/")
    assert TITLE not in other.content()
    other.goto(f"{live_server.url}/updates/")
    assert TITLE not in other.content()
    response = other.goto(f"{live_server.url}{update.url}")
    assert response.status == 404
    assert TITLE not in other.content()

    for p in (reader, other):
        assert p.csp_violations == []
    for p in (desk, office, reader, other):
        p.context.close()


def test_leadership_publishes_an_update_with_publish_to_its_audience(
    browser, live_server, update_index, make_user, axe
):
    from cms.models import ProgramUpdatePage

    oncology = DepartmentFactory(name="Oncology", code="onc")
    leader = make_user(Role.LEADERSHIP, first_name="Robert", last_name="Adams", department=None)
    member = make_user(Role.CLINICIAN, first_name="Wei", department=oncology)
    update = ProgramUpdatePage(title=TITLE, summary="Thursdays at 8.", audience_everyone=False, live=False)
    update_index.add_child(instance=update)
    update.audience_departments.set([oncology])
    update.save_revision(user=leader)

    # 1. From the page editor's header menu, Leadership opens the confirmation: what goes live and to whom.
    office = _signed_in_page(browser, live_server, leader)
    office.goto(live_server.url + reverse("wagtailadmin_pages:edit", args=(update.pk,)))
    office.get_by_role("button", name="Actions", exact=True).click()
    office.get_by_role("link", name="Publish to its audience").click()
    office.get_by_role("heading", name=f"Publish “{TITLE}” to its audience").wait_for()
    assert "in Oncology" in office.content()
    assert axe(office) == []

    # 2. Confirming queues the publish (tests run tasks inline, after the request's commit) and returns to the admin.
    with office.expect_navigation():
        office.get_by_role("button", name="Publish to 1 person").click()
    office.get_by_text("it goes live within a minute").first.wait_for()
    update.refresh_from_db()
    assert update.live

    # 3. The member is notified and opens it.
    reader = _signed_in_page(browser, live_server, member)
    reader.goto(f"{live_server.url}/")
    reader.locator("#notification-badge").click()
    reader.get_by_role("link", name=f"Program update: {TITLE}").first.click()
    reader.get_by_role("heading", name=TITLE).wait_for()

    for p in (office, reader):
        assert p.csp_violations == []
        p.context.close()
