"""Leadership's "Publish to its audience": the request only queues; the worker publishes, once, in their name."""

from __future__ import annotations

import pytest
from celery.signals import task_prerun
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from wagtail.admin.ui.menus.pages import get_page_header_buttons
from wagtail.models import PageLogEntry, Revision

from cms import services
from cms.models import ProgramUpdatePage
from cms.tasks import update_publish
from portal.models import Notification
from portal.roles import Role
from tests.factories import DepartmentFactory

pytestmark = pytest.mark.django_db

PUBLISH_BUTTON = "Publish to its audience"


@pytest.fixture
def tasks_run():
    """(name, args) of every Celery task run while the test runs."""
    seen = []

    def record(sender=None, args=None, **kwargs):
        seen.append((sender.name, tuple(args or ())))

    task_prerun.connect(record, weak=False)
    yield seen
    task_prerun.disconnect(record)


@pytest.fixture
def oncology():
    return DepartmentFactory(name="Oncology", code="onc")


@pytest.fixture
def intranet_editor(make_user):
    return make_user(Role.EDITOR, first_name="Nina", last_name="Alvarez")


@pytest.fixture
def draft_update(update_index, intranet_editor, oncology):
    """An update for Oncology written by the editor and saved, never published."""

    def _draft(title="Tumour board moves to Thursdays", departments=None):
        page = ProgramUpdatePage(
            title=title,
            summary="From next week the board meets on Thursdays at 8.",
            audience_everyone=False,
            live=False,
        )
        update_index.add_child(instance=page)
        page.audience_departments.set(departments if departments is not None else [oncology])
        page.save_revision(user=intranet_editor)
        page.refresh_from_db()
        return page

    return _draft


def _url(update) -> str:
    return reverse("cms_update_publish", args=[update.pk])


def _post(client, update, revision_id=None):
    return client.post(_url(update), {"revision_id": revision_id or update.latest_revision_id})


def _publish_log(update):
    return PageLogEntry.objects.filter(page_id=update.pk, action="wagtail.publish")


def _told(person):
    return list(Notification.objects.filter(recipient=person, event_key__contains=":revision:"))


# --- The request -------------------------------------------------------------------------------


def test_an_anonymous_visitor_is_sent_to_sign_in(client, draft_update):
    update = draft_update()

    response = _post(client, update)

    assert response.status_code == 302 and response["Location"].startswith(reverse("account_login"))


@pytest.mark.parametrize("role", [Role.CLINICIAN, Role.REVIEWER, Role.COORDINATOR, Role.EDITOR])
def test_someone_without_publish_rights_gets_403_with_the_reason_and_nothing_is_queued(
    two_factor_ready, make_user, draft_update, django_capture_on_commit_callbacks, role
):
    update = draft_update()
    client = two_factor_ready(make_user(role))

    page = client.get(_url(update))
    with django_capture_on_commit_callbacks() as callbacks:
        response = _post(client, update)

    for answer in (page, response):
        assert answer.status_code == 403
        assert "You do not have permission to publish this update" in answer.content.decode()
    assert callbacks == []
    update.refresh_from_db()
    assert not update.live
    assert not _publish_log(update).exists()


def test_the_post_queues_exactly_one_task_and_publishes_nothing_itself(
    client, leader, draft_update, django_capture_on_commit_callbacks, tasks_run
):
    update = draft_update()
    revisions = Revision.objects.count()
    client.force_login(leader)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = _post(client, update)

    assert response.status_code == 302
    assert response["Location"] == reverse("wagtailadmin_explore", args=[update.get_parent().pk])
    messages = [str(m) for m in response.wsgi_request._messages]
    assert any("goes live within a minute" in m and "notified" in m for m in messages)
    assert len(callbacks) == 1
    update.refresh_from_db()
    assert not update.live
    assert not _publish_log(update).exists()
    assert Revision.objects.count() == revisions
    assert Notification.objects.count() == 0

    callbacks[0]()  # what the broker would hand the worker (tasks run inline in tests)
    assert tasks_run[0] == ("cms.tasks.update_publish", (leader.pk, update.pk, update.latest_revision_id))
    update.refresh_from_db()
    assert update.live


def test_the_post_reads_the_update_s_page_row_once(client, leader, draft_update):
    update = draft_update()
    client.force_login(leader)
    next_url = reverse("wagtailadmin_explore", args=[update.get_parent().pk])

    with CaptureQueriesContext(connection) as queries:
        response = client.post(_url(update), {"revision_id": update.latest_revision_id, "next": next_url})

    assert response.status_code == 302 and response["Location"] == next_url
    page_reads = [q["sql"] for q in queries.captured_queries if q["sql"].startswith('SELECT "wagtailcore_page"')]
    assert len(page_reads) == 1, page_reads


def test_a_post_naming_an_older_revision_queues_nothing_and_says_why(
    client, leader, draft_update, django_capture_on_commit_callbacks
):
    update = draft_update()
    confirmed = update.latest_revision_id
    update.title = "Tumour board moves to Thursdays at 7"
    update.save_revision()
    client.force_login(leader)

    with django_capture_on_commit_callbacks() as callbacks:
        response = _post(client, update, revision_id=confirmed)

    assert response.status_code == 302
    assert response["Location"] == _url(update)
    messages = [str(m) for m in response.wsgi_request._messages]
    assert any("a newer version was saved" in m and "Nothing was published" in m for m in messages)
    assert callbacks == []


def test_a_post_for_an_update_already_live_queues_nothing(
    client, leader, add_update, django_capture_on_commit_callbacks
):
    update = add_update()
    client.force_login(leader)

    with django_capture_on_commit_callbacks() as callbacks:
        response = _post(client, update)

    assert response.status_code == 302
    assert callbacks == []
    assert any("already live" in str(m) for m in response.wsgi_request._messages)


def test_a_page_that_is_not_a_program_update_is_not_found(client, leader, add_standard_page):
    page = add_standard_page()
    page.save_revision()
    client.force_login(leader)

    assert client.get(_url(page)).status_code == 404
    assert client.post(_url(page), {"revision_id": page.latest_revision_id}).status_code == 404


def test_a_post_without_a_revision_is_a_bad_request(client, leader, draft_update):
    update = draft_update()
    client.force_login(leader)

    assert client.post(_url(update), {}).status_code == 400


# --- The confirmation page ----------------------------------------------------------------------


def test_the_confirmation_shows_the_version_its_author_and_the_audience(
    client, leader, make_user, draft_update, oncology
):
    for _ in range(3):
        make_user(Role.CLINICIAN, department=oncology)
    make_user(Role.CLINICIAN)  # outside the audience
    update = draft_update()
    client.force_login(leader)

    response = client.get(_url(update))

    html = response.content.decode()
    assert response.status_code == 200
    assert "Tumour board moves to Thursdays" in html
    assert f"Revision {update.latest_revision_id}" in html
    assert "Nina Alvarez" in html
    assert "3 people" in html
    assert "in Oncology" in html
    assert "No moderation workflow in progress" in html
    assert f'name="revision_id" value="{update.latest_revision_id}"' in html


def test_the_confirmation_is_a_portal_page_under_the_strict_csp(client, leader, draft_update):
    import re

    update = draft_update()
    client.force_login(leader)

    response = client.get(_url(update))

    assert "script-src 'self'" in response["Content-Security-Policy"]
    assert "unsafe-inline" not in response["Content-Security-Policy"].split("script-src", 1)[1].split(";")[0]
    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", response.content.decode()) == []  # no inline script


def test_the_confirmation_shows_the_version_that_goes_live_not_the_live_one(
    client, leader, make_user, add_update, oncology, django_capture_on_commit_callbacks
):
    make_user(Role.CLINICIAN, department=oncology)
    make_user(Role.CLINICIAN)
    with django_capture_on_commit_callbacks(execute=True):
        update = add_update(departments=[oncology])  # live, for Oncology: one person, notified
    draft = update.get_latest_revision_as_object()
    draft.audience_everyone = True
    draft.audience_departments.set([])
    draft.save_revision(user=leader)
    client.force_login(leader)

    html = client.get(_url(update)).content.decode()

    assert "3 people" in html  # the widened audience: the two clinicians and the leader
    assert "2 of them are notified" in html  # the Oncology member had it already


def test_the_confirmation_shows_a_workflow_in_progress(client, leader, intranet_editor, draft_update):
    update = draft_update()
    services.moderation_workflow_sync()
    state = update.get_workflow().start(update, intranet_editor)
    client.force_login(leader)

    html = client.get(_url(update)).content.decode()

    assert f"In progress: “{state.current_task_state.task.name}” in “{state.workflow.name}”" in html
    assert "submitted by Nina Alvarez" in html
    assert "Publishing approves it in your name" in html


def test_the_confirmation_query_count_does_not_grow_with_the_audience(
    client, leader, make_user, draft_update, oncology, count_queries
):
    update = draft_update()
    client.force_login(leader)
    client.get(_url(update))  # warm caches (content types, site)

    def queries() -> int:
        with count_queries() as seen:
            assert client.get(_url(update)).status_code == 200
        return len(seen)

    small = queries()
    for _ in range(20):
        make_user(Role.CLINICIAN, department=oncology)
    large = queries()

    assert large == small
    assert small <= 20


# --- The button ---------------------------------------------------------------------------------


def _header_labels(page, user) -> list[str]:
    return [button.label for button in get_page_header_buttons(page, user, None, "edit")]


def test_the_button_shows_on_an_update_with_unpublished_changes_to_who_may_publish(
    leader, intranet_editor, draft_update, add_update, add_standard_page
):
    draft = draft_update()
    live = add_update(title="Already out")
    changed_page = add_standard_page()
    changed_page.save_revision()
    changed_page.refresh_from_db()

    assert PUBLISH_BUTTON in _header_labels(draft, leader)
    assert PUBLISH_BUTTON not in _header_labels(draft, intranet_editor)
    assert PUBLISH_BUTTON not in _header_labels(live, leader)
    assert PUBLISH_BUTTON not in _header_labels(changed_page, leader)


def test_an_update_locked_by_someone_else_is_refused_and_offers_no_button(client, leader, make_user, draft_update):
    from django.utils import timezone

    update = draft_update()
    update.locked, update.locked_by, update.locked_at = True, make_user(Role.LEADERSHIP), timezone.now()
    update.save(update_fields=["locked", "locked_by", "locked_at"])
    client.force_login(leader)

    response = client.get(_url(update))

    assert response.status_code == 403 and "locked" in response.content.decode()
    assert PUBLISH_BUTTON not in _header_labels(update, leader)


def test_the_page_editor_links_to_the_confirmation_for_leadership_only(client, leader, intranet_editor, draft_update):
    update = draft_update()
    edit_url = reverse("wagtailadmin_pages:edit", args=[update.pk])

    client.force_login(leader)
    assert _url(update) in client.get(edit_url).content.decode()
    client.force_login(intranet_editor)
    assert _url(update) not in client.get(edit_url).content.decode()


def test_the_list_of_updates_offers_it_in_the_row_menu(client, leader, draft_update, update_index):
    update = draft_update()
    client.force_login(leader)

    html = client.get(reverse("wagtailadmin_explore", args=[update_index.pk])).content.decode()

    assert _url(update) in html


# --- The worker ---------------------------------------------------------------------------------


def test_the_task_publishes_the_revision_in_the_publisher_s_name_and_tells_them(
    leader, make_user, draft_update, oncology, django_capture_on_commit_callbacks, tasks_run
):
    member = make_user(Role.CLINICIAN, department=oncology)
    update = draft_update()

    with django_capture_on_commit_callbacks(execute=True):
        outcome = update_publish(leader.pk, update.pk, update.latest_revision_id)

    update.refresh_from_db()
    assert outcome == services.PublishOutcome.PUBLISHED
    assert update.live and update.live_revision_id == update.latest_revision_id
    assert list(_publish_log(update).values_list("user_id", flat=True)) == [leader.pk]
    # The audience job ran once, from our page_published receiver, and reached the member.
    assert [name for name, _ in tasks_run].count("cms.tasks.update_notify_audience") == 1
    assert Notification.objects.filter(recipient=member, event_key=update.event_key).exists()
    (told,) = _told(leader)
    assert "is live" in told.verb and told.email_delivery == Notification.EmailDelivery.NONE
    assert leader.email not in [m.to[0] for m in mail.outbox]


def test_running_the_task_twice_publishes_and_notifies_once(
    leader, make_user, draft_update, oncology, django_capture_on_commit_callbacks, tasks_run
):
    make_user(Role.CLINICIAN, department=oncology)
    update = draft_update()

    with django_capture_on_commit_callbacks(execute=True):
        first = update_publish(leader.pk, update.pk, update.latest_revision_id)
    with django_capture_on_commit_callbacks(execute=True):
        second = update_publish(leader.pk, update.pk, update.latest_revision_id)

    assert (first, second) == (services.PublishOutcome.PUBLISHED, services.PublishOutcome.ALREADY_LIVE)
    assert _publish_log(update).count() == 1
    assert [name for name, _ in tasks_run].count("cms.tasks.update_notify_audience") == 1
    assert Notification.objects.filter(event_key=update.event_key).count() == 1
    assert len(_told(leader)) == 1
    assert len(mail.outbox) == 1  # the member's


def test_the_task_refuses_a_revision_that_is_no_longer_the_latest_and_says_so(
    leader, intranet_editor, draft_update, django_capture_on_commit_callbacks, tasks_run
):
    update = draft_update()
    confirmed = update.latest_revision_id
    update.summary = "Corrected: the board meets at 7."
    update.save_revision(user=intranet_editor)

    with django_capture_on_commit_callbacks(execute=True):
        outcome = update_publish(leader.pk, update.pk, confirmed)

    update.refresh_from_db()
    assert outcome == services.PublishOutcome.STALE
    assert not update.live
    assert not _publish_log(update).exists()
    assert "cms.tasks.update_notify_audience" not in [name for name, _ in tasks_run]
    (told,) = _told(leader)
    assert "was not published" in told.verb and "newer version was saved by Nina Alvarez" in told.verb
    assert told.email_delivery == Notification.EmailDelivery.IMMEDIATE
    assert [m.to for m in mail.outbox] == [[leader.email]]


def test_the_task_refuses_someone_who_lost_publish_rights_since_asking(
    make_user, draft_update, django_capture_on_commit_callbacks
):
    from portal import services as people

    former = make_user(Role.LEADERSHIP)
    update = draft_update()
    people.user_roles_set(user=former, roles=[Role.EDITOR])

    with django_capture_on_commit_callbacks(execute=True):
        outcome = update_publish(former.pk, update.pk, update.latest_revision_id)

    update.refresh_from_db()
    assert outcome == services.PublishOutcome.REFUSED
    assert not update.live
    (told,) = _told(former)
    assert "do not have permission" in told.verb


def test_a_workflow_in_progress_is_approved_in_the_publisher_s_name_and_finished(
    client, leader, make_user, intranet_editor, draft_update, oncology, django_capture_on_commit_callbacks, tasks_run
):
    member = make_user(Role.CLINICIAN, department=oncology)
    update = draft_update()
    services.moderation_workflow_sync()
    state = update.get_workflow().start(update, intranet_editor)
    client.force_login(leader)

    with django_capture_on_commit_callbacks(execute=True):
        response = _post(client, update)

    assert response.status_code == 302
    state.refresh_from_db()
    task_state = state.current_task_state
    update.refresh_from_db()
    assert state.status == state.STATUS_APPROVED
    assert task_state.status == task_state.STATUS_APPROVED and task_state.finished_by_id == leader.pk
    assert update.live and update.current_workflow_state is None
    actions = dict(PageLogEntry.objects.filter(page_id=update.pk).values_list("action", "user_id"))
    assert actions["wagtail.workflow.approve"] == leader.pk
    assert actions["wagtail.publish"] == leader.pk
    assert "wagtail.workflow.cancel" not in actions
    assert [name for name, _ in tasks_run].count("cms.tasks.update_notify_audience") == 1
    assert Notification.objects.filter(recipient=member, event_key=update.event_key).exists()


def test_a_workflow_step_the_publisher_cannot_approve_is_refused_on_the_page_and_by_the_worker(
    two_factor_ready, make_user, intranet_editor, draft_update, django_capture_on_commit_callbacks
):
    # Administrators may publish pages but are not Leadership, whose step this is.
    administrator = make_user(Role.ADMINISTRATOR)
    update = draft_update()
    services.moderation_workflow_sync()
    state = update.get_workflow().start(update, intranet_editor)
    client = two_factor_ready(administrator)

    page = client.get(_url(update))
    # The request checks only the publish permission (administrators have it); the worker checks the rest.
    with django_capture_on_commit_callbacks(execute=True):
        response = _post(client, update)

    assert page.status_code == 403 and "you are not one of its approvers" in page.content.decode()
    assert response.status_code == 302
    update.refresh_from_db()
    state.refresh_from_db()
    assert not update.live
    assert state.status == state.STATUS_IN_PROGRESS
    (told,) = _told(administrator)
    assert "was not published" in told.verb and "you are not one of its approvers" in told.verb


def test_an_update_with_a_future_go_live_date_is_scheduled_once_and_the_publisher_told(
    leader, make_user, draft_update, oncology, django_capture_on_commit_callbacks
):
    make_user(Role.CLINICIAN, department=oncology)
    import datetime

    from django.utils import timezone

    update = draft_update()
    update.go_live_at = timezone.now() + datetime.timedelta(days=2)
    update.save_revision(user=leader)
    update.refresh_from_db()

    with django_capture_on_commit_callbacks(execute=True):
        first = update_publish(leader.pk, update.pk, update.latest_revision_id)
    with django_capture_on_commit_callbacks(execute=True):
        second = update_publish(leader.pk, update.pk, update.latest_revision_id)

    update.refresh_from_db()
    assert (first, second) == (services.PublishOutcome.SCHEDULED, services.PublishOutcome.SCHEDULED)
    assert not update.live
    assert Revision.objects.get(pk=update.latest_revision_id).approved_go_live_at is not None
    # Wagtail sends page_published when it schedules too; the audience job finds the update not live yet.
    assert not Notification.objects.filter(event_key=update.event_key).exists()
    (told,) = _told(leader)
    assert "is scheduled" in told.verb


def test_a_scheduled_update_goes_live_on_the_beat_once_its_time_comes_and_its_audience_is_told(
    leader, make_user, draft_update, oncology, django_capture_on_commit_callbacks
):
    import datetime

    import time_machine
    from django.utils import timezone

    from cms.tasks import publish_scheduled_pages

    reader = make_user(Role.CLINICIAN, department=oncology)
    update = draft_update()
    go_live = timezone.now() + datetime.timedelta(days=2)
    update.go_live_at = go_live
    update.save_revision(user=leader)
    update.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        update_publish(leader.pk, update.pk, update.latest_revision_id)

    with django_capture_on_commit_callbacks(execute=True):
        publish_scheduled_pages()  # before its time: nothing
    update.refresh_from_db()
    assert not update.live

    after_go_live = time_machine.travel(go_live + datetime.timedelta(minutes=1), tick=False)
    with after_go_live, django_capture_on_commit_callbacks(execute=True):
        publish_scheduled_pages()
    update.refresh_from_db()
    assert update.live
    assert set(Notification.objects.filter(event_key=update.event_key).values_list("recipient_id", flat=True)) >= {
        reader.pk
    }


def test_a_publish_that_fails_tells_the_publisher_and_leaves_the_update_unpublished(
    leader, draft_update, django_capture_on_commit_callbacks, monkeypatch
):
    update = draft_update()

    def broken(self, *args, **kwargs):
        raise RuntimeError("search index unavailable")

    monkeypatch.setattr(Revision, "publish", broken)
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError):
        update_publish(leader.pk, update.pk, update.latest_revision_id)

    update.refresh_from_db()
    assert not update.live
    (told,) = _told(leader)
    assert "could not be published" in told.verb
