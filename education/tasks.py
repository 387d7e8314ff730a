"""Required-training reminders, run daily by beat. A thin shell over the service."""

from __future__ import annotations

from celery import shared_task

from education import services


@shared_task(acks_late=True)
def send_training_reminders() -> int:
    """Send the day's training reminders; running it twice notifies nobody twice."""
    return services.training_reminders_send()
