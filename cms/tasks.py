"""Celery tasks for program updates. Thin shells: ids in, idempotent (event keys per update)."""

from __future__ import annotations

from celery import shared_task


@shared_task(acks_late=True)
def update_publish(actor_id: int, page_id: int, revision_id: int) -> str:
    """Publish the revision a person confirmed on "Publish to its audience"; safe to run twice."""
    from cms import services
    from portal.models import User

    actor = User.objects.filter(pk=actor_id).first()
    if actor is None:  # removed since they asked: nobody to publish as, nor to tell
        return services.PublishOutcome.REFUSED
    return services.update_publish_revision(actor=actor, page_id=page_id, revision_id=revision_id)


@shared_task(acks_late=True)
def update_notify_audience(update_id: int) -> int:
    """Notify the audience of a just-published update, in batches; safe to run again."""
    from cms import services

    return services.update_audience_notify(update_id=update_id)


@shared_task(acks_late=True)
def remind_unacknowledged_updates() -> int:
    """Beat: remind who has not acknowledged a required update; once per reminder period, safe to rerun."""
    from cms import services

    return services.update_reminders_send()


@shared_task(acks_late=True)
def publish_scheduled_pages() -> None:
    """Put live the pages whose approved go-live time has come, and take down the expired (Wagtail's command).

    Wagtail only schedules; nothing else publishes a scheduled update. Its
    ``page_published`` then queues the audience job as any publish does.
    """
    from django.core.management import call_command

    call_command("publish_scheduled")
