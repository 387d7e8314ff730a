"""Reads about people and notifications."""

from __future__ import annotations

from django.core.validators import slug_re
from django.db import connection
from django.db.models import QuerySet

from portal.models import Notification, NotificationPreference, Specialty, User
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


_SPECIALTY_COLUMNS = ("id", "name", "slug", "is_active")
_BIGINT_MAX = 2**63 - 1


def active_specialty(value: str) -> Specialty | None:
    """The active specialty with this slug (as deep links carry it), or with this primary key.

    Every referral submit validates its specialty. One indexed row is read with
    written-out SQL: building the ORM query cost more than running it.
    """
    if not slug_re.fullmatch(value):
        return None  # no slug or key looks like this (and a NUL byte would not even reach PostgreSQL)
    lookups = [("slug", value)]
    if value.isdigit() and int(value) <= _BIGINT_MAX:
        lookups.append(("id", int(value)))
    quote = connection.ops.quote_name
    table = quote(Specialty._meta.db_table)
    columns = ", ".join(quote(c) for c in _SPECIALTY_COLUMNS)
    with connection.cursor() as cursor:
        for column, key in lookups:
            cursor.execute(
                f"SELECT {columns} FROM {table} WHERE {quote(column)} = %s AND {quote('is_active')}",  # noqa: S608
                [key],
            )
            row = cursor.fetchone()
            if row is not None:
                return Specialty.from_db(connection.alias, _SPECIALTY_COLUMNS, row)
    return None
