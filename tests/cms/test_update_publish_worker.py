""" "Publish to its audience" end to end through a real Celery worker process (PostgreSQL, Redis)."""

from __future__ import annotations

import time

import pytest
from django.urls import reverse

from portal.models import Notification
from portal.roles import Role
from tests.factories import DepartmentFactory

pytestmark = [pytest.mark.worker, pytest.mark.postgres, pytest.mark.redis]


def _wait_for(condition, timeout=30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return False


@pytest.fixture
def update_index(real_worker):
    """Transactional tests flush Wagtail's root page, site and locale: build them again, then the updates index."""
    from wagtail.models import Locale, Page

    from cms.models import HomePage, ProgramUpdateIndexPage
    from portal.demo import seed_demo_home_page

    Locale.objects.get_or_create(language_code="en")
    if not Page.objects.filter(depth=1).exists():
        Page.add_root(instance=Page(title="Root", slug="root"))
    seed_demo_home_page()
    index = ProgramUpdateIndexPage(title="Program updates", slug="updates")
    HomePage.objects.get().add_child(instance=index)
    index.save_revision().publish()
    return index


def test_the_worker_publishes_what_the_request_queued_in_the_publisher_s_name(
    real_worker, update_index, make_user, client
):
    from wagtail.models import PageLogEntry

    from cms.models import ProgramUpdatePage

    oncology = DepartmentFactory(name="Oncology", code="onc")
    member = make_user(Role.CLINICIAN, department=oncology)
    outsider = make_user(Role.CLINICIAN)
    leader = make_user(Role.LEADERSHIP)
    update = ProgramUpdatePage(
        title="Tumour board moves to Thursdays", summary="Thursdays at 8.", audience_everyone=False, live=False
    )
    update_index.add_child(instance=update)
    update.audience_departments.set([oncology])
    revision = update.save_revision(user=leader)
    client.force_login(leader)

    response = client.post(reverse("cms_update_publish", args=[update.pk]), {"revision_id": revision.pk})

    assert response.status_code == 302
    log = real_worker.log_path
    assert _wait_for(lambda: Notification.objects.filter(recipient=member, event_key=update.event_key).exists()), (
        log.read_text()[-3000:]
    )
    update.refresh_from_db()
    assert update.live and update.live_revision_id == revision.pk
    assert list(
        PageLogEntry.objects.filter(page_id=update.pk, action="wagtail.publish").values_list("user_id", flat=True)
    ) == [leader.pk]
    assert not Notification.objects.filter(recipient=outsider, event_key=update.event_key).exists()
    assert _wait_for(lambda: Notification.objects.filter(recipient=leader, verb__contains="is live").exists())
    assert _wait_for(lambda: len(real_worker.mails()) == 1)
    assert member.email in real_worker.mails()[0]
