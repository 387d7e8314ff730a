"""Celery tasks for notification e-mail. Thin shells: ids in, idempotent.

Each e-mail is sent inside the transaction that holds its notification row
locked and marks it e-mailed, so a duplicated task or a second worker skips it
(``skip_locked``) and a task whose worker died is redelivered and finishes the
rows still unmarked.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone

from portal.models import Notification

logger = logging.getLogger(__name__)


def _absolute(link: str) -> str:
    return f"{settings.PORTAL_BASE_URL.rstrip('/')}{link or '/notifications/'}"


@shared_task(acks_late=True)
def email_notifications(notification_ids: list[int]) -> int:
    """Send the immediate e-mail of each notification that has not had it yet."""
    sent = 0
    for notification_id in notification_ids:
        with transaction.atomic():
            notification = (
                Notification.objects.select_for_update(skip_locked=True)
                .select_related("recipient")
                .filter(id=notification_id, emailed=False, email_delivery=Notification.EmailDelivery.IMMEDIATE)
                .first()
            )
            if notification is None:
                continue
            context = {
                "notification": notification,
                "portal_name": settings.PORTAL_NAME,
                "link": _absolute(notification.link),
                "preferences_url": _absolute("/notifications/preferences/"),
            }
            send_mail(
                subject=f"[{settings.PORTAL_NAME}] {notification.verb}",
                message=render_to_string("portal/email/notification.txt", context),
                from_email=None,
                recipient_list=[notification.recipient.email],
            )
            notification.emailed = True
            notification.emailed_at = timezone.now()
            notification.save(update_fields=["emailed", "emailed_at"])
            sent += 1
    logger.info("notification e-mails sent", extra={"count": sent})
    return sent


@shared_task(acks_late=True)
def send_daily_digests() -> int:
    """One e-mail per person gathering their digest notifications not yet e-mailed."""
    recipient_ids = (
        Notification.objects.filter(email_delivery=Notification.EmailDelivery.DIGEST, emailed=False)
        .values_list("recipient_id", flat=True)
        .distinct()
    )
    sent = 0
    for recipient_id in list(recipient_ids):
        with transaction.atomic():
            pending = list(
                Notification.objects.select_for_update(skip_locked=True)
                .select_related("recipient")
                .filter(recipient_id=recipient_id, email_delivery=Notification.EmailDelivery.DIGEST, emailed=False)
                .order_by("timestamp")
            )
            if not pending:
                continue
            body = render_to_string(
                "portal/email/digest.txt",
                {
                    "items": [(n, _absolute(n.link)) for n in pending],
                    "portal_name": settings.PORTAL_NAME,
                    "link": _absolute("/notifications/"),
                },
            )
            send_mail(
                subject=f"[{settings.PORTAL_NAME}] Your daily digest: {len(pending)} update(s)",
                message=body,
                from_email=None,
                recipient_list=[pending[0].recipient.email],
            )
            now = timezone.now()
            Notification.objects.filter(id__in=[n.id for n in pending]).update(emailed=True, emailed_at=now)
            sent += 1
    logger.info("daily digests sent", extra={"count": sent})
    return sent


@shared_task(acks_late=True)
def sweep_unsent_emails() -> int:
    """Queue immediate e-mails left unsent for a while (a lost enqueue, a broker outage)."""
    cutoff = timezone.now() - timedelta(minutes=5)
    by_batch: dict[int, list[int]] = defaultdict(list)
    ids = list(
        Notification.objects.filter(
            email_delivery=Notification.EmailDelivery.IMMEDIATE, emailed=False, timestamp__lt=cutoff
        ).values_list("id", flat=True)[:5000]
    )
    for index, notification_id in enumerate(ids):
        by_batch[index // 100].append(notification_id)
    for batch in by_batch.values():
        email_notifications.delay(batch)
    return len(ids)
