"""The only writers of intranet records: reads and acknowledgements of program updates.

Functions are named ``<entity>_<verb>``, take keyword-only arguments and run in
a transaction.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from cms import selectors
from cms.models import ProgramUpdatePage, UpdateReceipt

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
