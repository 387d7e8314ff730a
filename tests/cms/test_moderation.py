"""Editors submit pages for moderation; Leadership approves and publishes; editors never reach referrals or people."""

from __future__ import annotations

import pytest
from django.urls import reverse
from wagtail.models import GroupApprovalTask, Page, WorkflowPage
from wagtail.test.utils.form_data import nested_form_data, streamfield

from cms import services
from cms.models import ProgramUpdatePage
from portal.models import Notification
from portal.roles import Role
from tests.factories import PATIENT_MARKER, DepartmentFactory, SpecialtyFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def intranet_editor(make_user):
    return make_user(Role.EDITOR, first_name="Nina", last_name="Alvarez")


def _update_form(department, **extra):
    data = nested_form_data(
        {
            "title": "Tumour board moves to Thursdays",
            "slug": "tumour-board-thursdays",
            "summary": "From next week the oncology tumour board meets on Thursdays at 8.",
            "body": streamfield([]),
            "expires_on": "",
        }
    )
    data["audience_departments"] = [str(department.pk)]
    data.update(extra)
    return data


def test_editors_may_add_and_change_pages_but_not_publish(intranet_editor, update_index):
    permissions = update_index.permissions_for_user(intranet_editor)

    assert permissions.can_add_subpage()
    assert permissions.can_edit()
    assert not permissions.can_publish()


def test_the_approval_task_of_the_tree_s_workflow_belongs_to_leadership(home_page):
    services.moderation_workflow_sync()

    workflow = WorkflowPage.objects.get(page=Page.get_first_root_node()).workflow
    task = GroupApprovalTask.objects.get(workflow_tasks__workflow=workflow)
    assert Role.LEADERSHIP.value in set(task.groups.values_list("name", flat=True))
    assert home_page.get_workflow() == workflow


def test_syncing_the_workflow_twice_changes_nothing(home_page):
    services.moderation_workflow_sync()
    services.moderation_workflow_sync()

    assert WorkflowPage.objects.filter(page=Page.get_first_root_node()).count() == 1
    assert GroupApprovalTask.objects.filter(name=services.MODERATION_WORKFLOW_NAME).count() <= 1
    assert GroupApprovalTask.objects.filter(active=True).count() == 1


def test_an_editor_cannot_publish_directly(client, intranet_editor, update_index):
    department = DepartmentFactory()
    services.moderation_workflow_sync()
    client.force_login(intranet_editor)
    url = reverse("wagtailadmin_pages:add", args=("cms", "programupdatepage", update_index.pk))

    client.post(url, _update_form(department, **{"action-publish": "action-publish"}))

    assert not ProgramUpdatePage.objects.live().exists()


def test_editor_submits_and_leadership_approves_and_publishes(
    client, make_user, intranet_editor, update_index, django_capture_on_commit_callbacks
):
    oncology = DepartmentFactory(name="Oncology", code="onc")
    member = make_user(Role.CLINICIAN, department=oncology)
    leader = make_user(Role.LEADERSHIP)
    services.moderation_workflow_sync()

    client.force_login(intranet_editor)
    add_url = reverse("wagtailadmin_pages:add", args=("cms", "programupdatepage", update_index.pk))
    response = client.post(add_url, _update_form(oncology, **{"action-submit": "action-submit"}))
    assert response.status_code == 302
    update = ProgramUpdatePage.objects.get()
    assert not update.live
    state = update.current_workflow_state
    assert state is not None and state.status == state.STATUS_IN_PROGRESS

    client.force_login(leader)
    approve_url = reverse(
        "wagtailadmin_pages:workflow_action", args=(update.pk, "approve", state.current_task_state.pk)
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(approve_url, {})

    update.refresh_from_db()
    assert update.live
    assert Notification.objects.filter(recipient=member, event_key=update.event_key).exists()
    assert not Notification.objects.filter(recipient=leader, event_key=update.event_key).exists()


@pytest.fixture
def a_referral(make_user):
    from referrals import services as referral_services
    from tests.factories import referral_data

    referral, _ = referral_services.referral_create(
        actor=make_user(Role.CLINICIAN), data=referral_data(SpecialtyFactory())
    )
    return referral


@pytest.mark.parametrize(
    "url_name",
    ["referral_create", "review_queue", "coordinator_board", "my_referrals", "referral_log_other_channel"],
)
def test_an_editor_cannot_reach_referral_views(client, intranet_editor, url_name):
    client.force_login(intranet_editor)

    assert client.get(reverse(url_name)).status_code == 403


@pytest.mark.parametrize(
    "url_name",
    ["wagtailusers_users:index", "wagtailusers_users:add", "wagtailusers_groups:index"],
)
def test_an_editor_is_turned_away_from_wagtail_user_administration(client, intranet_editor, url_name):
    client.force_login(intranet_editor)

    response = client.get(reverse(url_name))

    # Wagtail answers a missing permission by sending the person back to the admin's dashboard.
    assert response.status_code == 302
    assert response["Location"] == reverse("wagtailadmin_home")


@pytest.mark.parametrize("url_name", ["admin:index", "admin:portal_user_changelist"])
def test_an_editor_is_turned_away_from_the_django_admin(client, intranet_editor, url_name):
    client.force_login(intranet_editor)

    response = client.get(reverse(url_name))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_an_editor_can_reach_the_wagtail_page_editor(client, intranet_editor, update_index):
    client.force_login(intranet_editor)

    assert client.get(reverse("wagtailadmin_explore", args=(update_index.pk,))).status_code == 200


def test_an_editor_cannot_open_a_referral(client, intranet_editor, a_referral):
    client.force_login(intranet_editor)

    response = client.get(f"/referrals/{a_referral.reference}/")

    assert response.status_code in (403, 404)
    assert PATIENT_MARKER not in response.content.decode()
