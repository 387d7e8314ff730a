"""Reads about people and notifications."""

from __future__ import annotations

from django.db.models import QuerySet

from portal.models import Notification, NotificationPreference, User
from portal.notification_kinds import NotificationKind


def notifications_for(*, user: User, only_unread: bool = False) -> QuerySet[Notification]:
    qs = Notification.objects.filter(recipient=user, deleted=False).order_by("-timestamp")
    if only_unread:
        qs = qs.filter(unread=True)
    return qs.only("id", "verb", "link", "timestamp", "unread", "level", "kind")


def unread_count(*, user: User) -> int:
    return Notification.objects.filter(recipient=user, unread=True, deleted=False).count()


def notification_preferences_for(*, user: User) -> dict[str, str]:
    chosen = dict(NotificationPreference.objects.filter(user=user).values_list("kind", "delivery"))
    return {kind.value: chosen.get(kind.value, NotificationPreference.Delivery.IMMEDIATE) for kind in NotificationKind}
