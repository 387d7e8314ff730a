"""The only writers of intranet records: reads and acknowledgements of program updates, their publishing.

Functions are named ``<entity>_<verb>``, take keyword-only arguments and run in
a transaction.
"""

from __future__ import annotations

import logging
from functools import partial

from django.db import transaction
from django.utils import timezone

from cms import selectors
from cms.models import ProgramUpdatePage, UpdateReceipt

logger = logging.getLogger(__name__)

# Recipients per transaction when an update is announced: each batch is one
# INSERT … SELECT (about 0.2 s for 5,000 people) and a commit, whose fixed cost
# (the WAL flush) is what smaller batches multiply; its e-mails go out in tasks
# of 1,000 ids (portal.services.NOTIFICATION_EMAIL_TASK_SIZE), so N people
# still cost at most ceil(N/1000) e-mail tasks.
UPDATE_BATCH_SIZE = 5000


class UpdateError(Exception):
    """A request about a program update that cannot be done; the message says why."""


@transaction.atomic
def update_read_record(*, update_id: int, actor) -> UpdateReceipt:
    """Record that ``actor`` opened the update; the first opening counts, later ones change nothing."""
    receipt, _ = UpdateReceipt.objects.get_or_create(
        update_id=update_id, user=actor, defaults={"read_at": timezone.now()}
    )
    return receipt


@transaction.atomic
def update_acknowledge(*, update_id: int, actor) -> UpdateReceipt:
    """Record that ``actor`` confirmed reading an update that asks for it; a second click changes nothing."""
    update = ProgramUpdatePage.objects.filter(pk=update_id).only("id", "requires_acknowledgement").first()
    if update is None or not update.requires_acknowledgement:
        raise UpdateError("This update does not ask for an acknowledgement.")
    now = timezone.now()
    receipt, _ = UpdateReceipt.objects.select_for_update().get_or_create(
        update_id=update_id, user=actor, defaults={"read_at": now}
    )
    if receipt.acknowledged_at is None:
        receipt.acknowledged_at = now
        receipt.save(update_fields=["acknowledged_at"])
    return receipt


def update_audience_notify(*, update_id: int) -> int:
    """Notify everyone in a live, unexpired update's audience once; return how many were notified now.

    Not one transaction: each batch commits on its own (portal.services.notification_send),
    so a worker that dies mid-way leaves whole batches and a rerun fills in the rest.
    The event key is the update's, so publishing again reaches only people new to the audience.
    """
    from portal.models import Notification
    from portal.notification_kinds import NotificationKind
    from portal.services import notification_send

    update = ProgramUpdatePage.objects.live().filter(pk=update_id).first()
    if update is None or update.is_expired:
        return 0
    recipient_ids = list(selectors.audience_of(update).values_list("id", flat=True))
    return notification_send(
        kind=NotificationKind.UPDATE_PUBLISHED,
        event_key=update.event_key,
        recipient_ids=recipient_ids,
        verb=f"{'Critical update' if update.critical else 'Program update'}: {update.title[:200]}",
        link=update.get_url() or "",
        level=Notification.LEVELS.warning if update.critical else Notification.LEVELS.info,
        force_email=update.critical,
        batch_size=UPDATE_BATCH_SIZE,
    )


# --- Publishing an update to its audience ----------------------------------------------
#
# Leadership's publish request only queues cms.tasks.update_publish (update_publish_queue);
# the worker publishes through Wagtail (update_publish_revision), whose page_published
# signal then queues the audience job as for any publish (cms/signal_handlers.py). Wagtail's
# inline publish (two page saves, a revision, log entries, search and reference index) is
# some 20x a trivial request's time, so the person's request does none of it (the intranet
# benchmark measures both).


class UpdatePublishRefused(UpdateError):
    """The person may not publish this update (the screens answer 403); the message says why."""


class UpdatePublishStale(UpdateError):
    """The version the person confirmed is no longer the update's latest; nothing was queued."""


class UpdateAlreadyLive(UpdateError):
    """The update's latest version is already live; nothing to publish."""


class PublishOutcome:
    PUBLISHED = "published"
    ALREADY_LIVE = "already_live"
    SCHEDULED = "scheduled"
    STALE = "stale"
    REFUSED = "refused"
    MISSING = "missing"
    FAILED = "failed"


def update_publish_queue(*, actor, update, revision_id: int) -> None:
    """Queue the publish of ``update``'s revision ``revision_id`` for ``actor``; the worker publishes it.

    ``update`` is the program update's page (its base Page row is enough).

    The request's checks: ``actor`` has Wagtail's publish permission on the
    update (else UpdatePublishRefused), the revision is still its latest (else
    UpdatePublishStale) and not live yet (else UpdateAlreadyLive). Locks and the
    workflow step were checked on the confirmation page a moment ago and are
    checked again by the worker under the page's lock (update_publish_revision),
    which tells the person if they stop the publish: the request stays a few
    queries. Writes nothing: one task with ids, queued after the request's transaction.
    """
    from cms.tasks import update_publish

    refusal = selectors.update_publish_permission_refusal(user=actor, page=update)
    if refusal:
        raise UpdatePublishRefused(refusal)
    if revision_id != update.latest_revision_id:
        raise UpdatePublishStale(
            f"“{update.draft_title}” changed after you opened the confirmation: a newer version was saved. "
            "Check that version below, then publish again. Nothing was published."
        )
    if not update.has_unpublished_changes:
        raise UpdateAlreadyLive(f"“{update.title}” is already live in its latest version.")
    update_publish.delay_on_commit(actor.pk, update.pk, revision_id)


def update_publish_revision(*, actor, page_id: int, revision_id: int) -> str:
    """Publish revision ``revision_id`` of program update ``page_id`` as ``actor`` (the worker's half).

    Under a lock on the page row: nothing happens when that revision is already
    live or scheduled (a rerun or a double click), or when a newer revision
    exists or ``actor`` may no longer publish (both told to the actor). A
    moderation workflow in progress is approved in ``actor``'s name, so it ends
    properly and Wagtail publishes on that final approval; otherwise Wagtail
    publishes the revision with ``user=actor``. Either way Wagtail's log names
    the person, and its page_published signal queues the audience job.
    The actor hears the outcome after the commit. Returns a PublishOutcome.
    """
    title = ""
    try:
        with transaction.atomic():
            outcome, title, reason = _update_publish_locked(actor=actor, page_id=page_id, revision_id=revision_id)
            # After the commit: a publish that rolls back announces nothing.
            transaction.on_commit(
                partial(
                    _publish_outcome_notify,
                    actor=actor,
                    page_id=page_id,
                    revision_id=revision_id,
                    outcome=outcome,
                    title=title,
                    reason=reason,
                )
            )
    except Exception:
        logger.exception("program update publish failed", extra={"page_id": page_id, "revision_id": revision_id})
        _publish_outcome_notify(
            actor=actor, page_id=page_id, revision_id=revision_id, outcome=PublishOutcome.FAILED, title=title
        )
        raise
    logger.info("program update publish", extra={"page_id": page_id, "revision_id": revision_id, "outcome": outcome})
    return outcome


def _update_publish_locked(*, actor, page_id: int, revision_id: int) -> tuple[str, str, str]:
    """The publish itself, inside the caller's transaction: (outcome, title, reason)."""
    from wagtail.models import Page, Revision

    # Serialises two runs for one update (a redelivered task, two leaders): the second sees the first's result.
    if not Page.objects.select_for_update().filter(pk=page_id).exists():
        return PublishOutcome.MISSING, "", ""
    update = ProgramUpdatePage.objects.get(pk=page_id)
    title = update.draft_title or update.title
    if update.live and update.live_revision_id == revision_id:
        return PublishOutcome.ALREADY_LIVE, update.title, ""
    revision = Revision.objects.for_instance(update).filter(pk=revision_id).first()
    if revision is None or update.latest_revision_id != revision_id:
        newer = Revision.objects.select_related("user").filter(pk=update.latest_revision_id).first()
        by = selectors.user_display_name(newer.user) if newer is not None else "someone"
        logger.info(
            "program update publish refused: newer revision",
            extra={"page_id": page_id, "revision_id": revision_id, "latest_revision_id": update.latest_revision_id},
        )
        return PublishOutcome.STALE, title, f"a newer version was saved by {by} after you confirmed"
    if revision.approved_go_live_at is not None and update.go_live_at and update.go_live_at > timezone.now():
        return PublishOutcome.SCHEDULED, title, ""
    refusal = selectors.update_publish_refusal(user=actor, page=update)
    if refusal:
        return PublishOutcome.REFUSED, title, refusal
    task_state = update.current_workflow_task_state
    if task_state is not None:
        # The workflow's last step (update_publish_refusal checked it is, and that actor approves it):
        # Wagtail finishes the workflow and publishes the latest revision, the one confirmed.
        task_state.task.specific.on_action(
            task_state, actor, "approve", comment="Approved and published with “Publish to its audience”."
        )
    else:
        revision.publish(user=actor)
    update.refresh_from_db(fields=["live", "live_revision", "go_live_at"])
    if update.live and update.live_revision_id == revision_id:
        return PublishOutcome.PUBLISHED, title, ""
    if update.go_live_at and update.go_live_at > timezone.now():
        return PublishOutcome.SCHEDULED, title, ""
    raise UpdateError(f"revision {revision_id} of page {page_id} is not live after publishing")


def _publish_outcome_notify(*, actor, page_id, revision_id, outcome, title, reason="") -> None:
    """Tell the person who asked for the publish how it went: once per (update, revision, outcome)."""
    from django.urls import reverse

    from portal.models import Notification
    from portal.notification_kinds import NotificationKind
    from portal.services import notification_send

    if not title and outcome != PublishOutcome.MISSING:
        title = ProgramUpdatePage.objects.filter(pk=page_id).values_list("draft_title", flat=True).first() or ""
    title = (title or "The program update")[:150]
    edit_link = reverse("wagtailadmin_pages:edit", args=[page_id])
    live = outcome in (PublishOutcome.PUBLISHED, PublishOutcome.ALREADY_LIVE)
    if live:
        update = ProgramUpdatePage.objects.filter(pk=page_id).first()
        verb, link, key = f"“{title}” is live: its audience is being notified.", (update and update.url) or "", "live"
    elif outcome == PublishOutcome.SCHEDULED:
        verb, link, key = f"“{title}” is scheduled: its audience is notified when it goes live.", edit_link, "scheduled"
    elif outcome == PublishOutcome.MISSING:
        verb, link, key = "The program update you asked to publish was deleted before it went live.", "", "missing"
    elif outcome == PublishOutcome.FAILED:
        verb = f"“{title}” could not be published: an error stopped it and nothing changed. Try again."
        link, key = edit_link, f"failed:{timezone.now():%Y%m%d%H%M%S}"
    else:
        verb, link, key = f"“{title}” was not published: {reason[:150]}", edit_link, outcome
    notification_send(
        kind=NotificationKind.GENERAL,
        event_key=f"update:{page_id}:revision:{revision_id}:{key}",
        recipient_ids=[actor.pk],
        verb=verb[:255],
        link=link,
        level=Notification.LEVELS.success if live else Notification.LEVELS.warning,
        # Success is in-app only: the person asked for it a minute ago (and an e-mail per publish would
        # be noise). What went wrong is e-mailed as their preference says: it needs them to act.
        email=outcome not in (PublishOutcome.PUBLISHED, PublishOutcome.ALREADY_LIVE, PublishOutcome.SCHEDULED),
    )


# Someone who has not acknowledged a required update hears again this often.
UPDATE_REMINDER_EVERY_DAYS = 3


def update_reminders_send(*, today=None) -> int:
    """Remind the audience members who have not acknowledged each required, unexpired update.

    One reminder per person per period of UPDATE_REMINDER_EVERY_DAYS since the
    update was first published: the period's number is in the event key, so
    running this twice in a period reminds nobody twice. Returns how many were reminded.
    """
    from django.db.models import Q

    from portal.models import Notification
    from portal.notification_kinds import NotificationKind
    from portal.services import notification_send

    today = today or timezone.localdate()
    updates = (
        ProgramUpdatePage.objects.live()
        .filter(requires_acknowledgement=True, first_published_at__isnull=False)
        .filter(Q(expires_on__isnull=True) | Q(expires_on__gte=today))
        .prefetch_related("audience_departments", "audience_roles")
    )
    reminded = 0
    for update in updates:
        period = (today - timezone.localdate(update.first_published_at)).days // UPDATE_REMINDER_EVERY_DAYS
        if period < 1:
            continue  # the publish notification itself is the first nudge
        acknowledged = UpdateReceipt.objects.filter(update_id=update.pk, acknowledged_at__isnull=False).values(
            "user_id"
        )
        recipient_ids = list(selectors.audience_of(update).exclude(id__in=acknowledged).values_list("id", flat=True))
        reminded += notification_send(
            kind=NotificationKind.UPDATE_PUBLISHED,
            event_key=f"update:{update.pk}:reminder:{period}",
            recipient_ids=recipient_ids,
            verb=f"Reminder: please read and acknowledge “{update.title[:180]}”",
            link=update.get_url() or "",
            level=Notification.LEVELS.warning,
            force_email=update.critical,
            batch_size=UPDATE_BATCH_SIZE,
        )
    return reminded


# --- Moderation workflow -------------------------------------------------------------

MODERATION_WORKFLOW_NAME = "Leadership approval"


@transaction.atomic
def moderation_workflow_sync() -> None:
    """Make sure the whole page tree runs through a workflow whose approval task belongs to Leadership.

    Editors (add and change, no publish) submit; Leadership approves and
    publishes. Wagtail's default workflow on the root page is reused when it
    exists; other groups an administrator added to the task are kept.
    """
    from django.contrib.auth.models import Group
    from wagtail.models import GroupApprovalTask, Page, Workflow, WorkflowPage, WorkflowTask

    from portal.roles import Role

    root = Page.get_first_root_node()
    if root is None:
        return
    leadership, _ = Group.objects.get_or_create(name=Role.LEADERSHIP.value)
    assigned = WorkflowPage.objects.filter(page=root).select_related("workflow").first()
    if assigned is not None:
        workflow = assigned.workflow
    else:
        workflow, _ = Workflow.objects.get_or_create(name=MODERATION_WORKFLOW_NAME, defaults={"active": True})
        WorkflowPage.objects.create(page=root, workflow=workflow)
    task = GroupApprovalTask.objects.filter(workflow_tasks__workflow=workflow, active=True).first()
    if task is None:
        task = GroupApprovalTask.objects.create(name=MODERATION_WORKFLOW_NAME)
        WorkflowTask.objects.create(workflow=workflow, task=task, sort_order=0)
    task.groups.add(leadership)
