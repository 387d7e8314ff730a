"""The only writers of people, roles and notifications.

Functions are named ``<entity>_<verb>``, take keyword-only arguments and run in
a transaction. Side effects (e-mail) are queued after commit.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from allauth.account.models import EmailAddress
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.db import connection, transaction
from django.utils import timezone

from portal.models import Department, Notification, NotificationPreference, Profile, Specialty, User
from portal.notification_kinds import NotificationKind
from portal.roles import ROLE_COLLECTION_PERMISSIONS, ROLE_PAGE_PERMISSIONS, ROLE_PERMISSIONS, Role

logger = logging.getLogger(__name__)

NOTIFICATION_BATCH_SIZE = 500
# Ids per e-mail task: a batch larger than this queues several, so workers share a big audience's mail.
NOTIFICATION_EMAIL_TASK_SIZE = 1000


# --- Roles and people -----------------------------------------------------------


@transaction.atomic
def role_groups_sync() -> None:
    """Create the role groups and give each exactly its listed permissions."""
    for role in Role:
        group, _ = Group.objects.get_or_create(name=role.value)
        group.permissions.set(_permissions(ROLE_PERMISSIONS.get(role, [])))
        _tree_permissions_sync(group, role)


def _permissions(dotted_names: list[str]) -> list[Permission]:
    found = []
    for dotted in dotted_names:
        app_label, codename = dotted.split(".")
        permission = Permission.objects.filter(content_type__app_label=app_label, codename=codename).first()
        if permission is not None:
            found.append(permission)
    return found


def _tree_permissions_sync(group: Group, role: Role) -> None:
    """Give the role exactly its listed rights over the page tree and the root collection."""
    from wagtail.models import Collection, GroupCollectionPermission, GroupPagePermission, Page

    root_page = Page.get_first_root_node()
    if root_page is not None:
        wanted = _permissions(ROLE_PAGE_PERMISSIONS.get(role, []))
        GroupPagePermission.objects.filter(group=group, page=root_page).exclude(permission__in=wanted).delete()
        for permission in wanted:
            GroupPagePermission.objects.get_or_create(group=group, page=root_page, permission=permission)
    root_collection = Collection.get_first_root_node()
    if root_collection is not None:
        wanted = _permissions(ROLE_COLLECTION_PERMISSIONS.get(role, []))
        GroupCollectionPermission.objects.filter(group=group, collection=root_collection).exclude(
            permission__in=wanted
        ).delete()
        for permission in wanted:
            GroupCollectionPermission.objects.get_or_create(
                group=group, collection=root_collection, permission=permission
            )


@transaction.atomic
def profile_ensure(*, user: User) -> Profile:
    profile, _ = Profile.objects.get_or_create(user=user)
    return profile


@transaction.atomic
def user_create(
    *,
    email: str,
    password: str | None,
    first_name: str = "",
    last_name: str = "",
    department: Department | None = None,
    job_role: str = Profile.JobRole.OTHER,
    title: str = "",
    roles: Iterable[Role] = (),
    review_specialties: Iterable[Specialty] = (),
    email_verified: bool = True,
    is_staff: bool = False,
    is_superuser: bool = False,
) -> User:
    """Create a person with profile, roles and a (verified) primary e-mail address."""
    user = User.objects.create_user(
        email=email,
        password=password,
        first_name=first_name,
        last_name=last_name,
        is_staff=is_staff,
        is_superuser=is_superuser,
    )
    Profile.objects.create(user=user, department=department, job_role=job_role, title=title)
    user.profile.review_specialties.set(review_specialties)
    user.groups.set(Group.objects.filter(name__in=[Role(r).value for r in roles]))
    EmailAddress.objects.create(user=user, email=user.email, primary=True, verified=email_verified)
    return user


@transaction.atomic
def user_roles_set(*, user: User, roles: Iterable[Role]) -> None:
    user.groups.set(Group.objects.filter(name__in=[Role(r).value for r in roles]))
    user.forget_standing()


# --- Notifications ----------------------------------------------------------------


def _email_delivery_for(recipient_ids: list[int], kind: str, force_email: bool) -> dict[int, str]:
    """Each recipient's e-mail delivery for this kind (default: immediately)."""
    chosen = dict(
        NotificationPreference.objects.filter(user_id__in=recipient_ids, kind=kind).values_list("user_id", "delivery")
    )
    delivery = {}
    for user_id in recipient_ids:
        preference = chosen.get(user_id, NotificationPreference.Delivery.IMMEDIATE)
        if force_email:
            # A critical message is e-mailed even to people who turned the kind off.
            delivery[user_id] = Notification.EmailDelivery.IMMEDIATE
        elif preference == NotificationPreference.Delivery.OFF:
            delivery[user_id] = Notification.EmailDelivery.NONE
        else:
            delivery[user_id] = preference
    return delivery


def notification_send(
    *,
    kind: NotificationKind | str,
    event_key: str,
    recipient_ids: Iterable[int],
    verb: str,
    actor: User | None = None,
    link: str = "",
    level: str = Notification.LEVELS.info,
    force_email: bool = False,
    email: bool = True,
    batch_size: int = NOTIFICATION_BATCH_SIZE,
) -> int:
    """Notify each recipient once for an event, in-app and by e-mail per preference.

    ``verb`` and ``link`` must name reference numbers and ids only, never
    patient data: they travel in e-mails. Safe to call again for the same event:
    a recipient who already has it is skipped (unique recipient + event_key).
    ``email=False`` keeps it in-app only, whatever the preference (a
    confirmation the recipient asked for a moment ago, not news).
    Each batch of ``batch_size`` recipients is one transaction and queues one
    e-mail task per NOTIFICATION_EMAIL_TASK_SIZE e-mails it owes (at most one
    for batches no larger). Returns the number of notifications created.
    """
    ids = sorted(set(recipient_ids))
    created_total = 0
    actor_type = ContentType.objects.get_for_model(User)
    for start in range(0, len(ids), batch_size):
        created_total += _notification_send_batch(
            kind=str(kind),
            event_key=event_key,
            recipient_ids=ids[start : start + batch_size],
            verb=verb,
            actor_type=actor_type,
            actor_id=actor.pk if actor else None,
            link=link,
            level=level,
            force_email=force_email,
            email=email,
        )
    return created_total


@transaction.atomic
def _notification_send_batch(
    *, kind, event_key, recipient_ids, verb, actor_type, actor_id, link, level, force_email, email=True
) -> int:
    immediate_ids, created = _notification_insert()(
        kind=kind,
        event_key=event_key,
        recipient_ids=recipient_ids,
        verb=verb,
        actor_type=actor_type,
        actor_id=actor_id,
        link=link,
        level=level,
        force_email=force_email,
        email=email,
        now=timezone.now(),
    )
    if immediate_ids:
        from portal.tasks import email_notifications

        for start in range(0, len(immediate_ids), NOTIFICATION_EMAIL_TASK_SIZE):
            email_notifications.delay_on_commit(immediate_ids[start : start + NOTIFICATION_EMAIL_TASK_SIZE])
    logger.info("notifications created", extra={"event_key": event_key, "kind": kind, "count": created})
    return created


def _notification_insert():
    """The batch writer for this database: one INSERT … SELECT on PostgreSQL, the portable bulk path elsewhere."""
    return _notification_insert_select if connection.vendor == "postgresql" else _notification_insert_bulk


def _notification_insert_select(
    *, kind, event_key, recipient_ids, verb, actor_type, actor_id, link, level, force_email, now, email=True
) -> tuple[list[int], int]:
    """One ``INSERT … SELECT`` for the batch (PostgreSQL); returns the new immediate-e-mail ids and the count.

    Raw SQL because the ORM has no INSERT … SELECT: building 1,000 model instances
    and reading the preferences and the existing rows back into Python per batch
    cost over ten times the insert itself. The preference is joined in SQL with
    the same rule as ``_email_delivery_for``; ``ON CONFLICT DO NOTHING`` on the
    unique (recipient, event_key) skips people who already have the event, and
    ``RETURNING`` names only the rows inserted now, so a rerun e-mails nobody twice.
    """
    table = connection.ops.quote_name(Notification._meta.db_table)
    users = connection.ops.quote_name(User._meta.db_table)
    preferences = connection.ops.quote_name(NotificationPreference._meta.db_table)
    sql = f"""
        INSERT INTO {table}
            (level, recipient_id, unread, actor_content_type_id, actor_object_id, verb, timestamp,
             public, deleted, emailed, kind, event_key, link, email_delivery)
        SELECT %(level)s, u.id, TRUE, %(actor_type)s, COALESCE(%(actor_id)s, u.id::text), %(verb)s, %(now)s,
            TRUE, FALSE, FALSE, %(kind)s, %(event_key)s, %(link)s,
            CASE
                WHEN NOT %(email)s THEN %(none)s
                WHEN %(force_email)s THEN %(immediate)s
                WHEN p.delivery IS NULL THEN %(immediate)s
                WHEN p.delivery = %(off)s THEN %(none)s
                ELSE p.delivery
            END
        FROM {users} u
        LEFT JOIN {preferences} p ON p.user_id = u.id AND p.kind = %(kind)s
        WHERE u.id = ANY(%(ids)s)
        ORDER BY u.id
        ON CONFLICT (recipient_id, event_key) DO NOTHING
        RETURNING id, email_delivery
    """  # noqa: S608 - only the models' own table names are formatted in, quoted; every value is a parameter
    params = {
        "level": level,
        "actor_type": actor_type.pk,
        # django-notifications requires an actor; the system acts as the recipient.
        "actor_id": str(actor_id) if actor_id else None,
        "verb": verb,
        "now": now,
        "kind": kind,
        "event_key": event_key,
        "link": link,
        "force_email": force_email,
        "email": email,
        "immediate": Notification.EmailDelivery.IMMEDIATE,
        "off": NotificationPreference.Delivery.OFF,
        "none": Notification.EmailDelivery.NONE,
        "ids": list(recipient_ids),
    }
    with connection.cursor() as cursor:
        cursor.execute(sql.strip(), params)
        rows = cursor.fetchall()
    return [pk for pk, delivery in rows if delivery == Notification.EmailDelivery.IMMEDIATE], len(rows)


def _notification_insert_bulk(
    *, kind, event_key, recipient_ids, verb, actor_type, actor_id, link, level, force_email, now, email=True
) -> tuple[list[int], int]:
    """The portable batch (SQLite and any other backend): bulk_create of the recipients who lack the event."""
    already = set(
        Notification.objects.filter(event_key=event_key, recipient_id__in=recipient_ids).values_list(
            "recipient_id", flat=True
        )
    )
    fresh = [rid for rid in recipient_ids if rid not in already]
    if not fresh:
        return [], 0
    if email:
        delivery = _email_delivery_for(fresh, kind, force_email)
    else:
        delivery = dict.fromkeys(fresh, Notification.EmailDelivery.NONE)
    Notification.objects.bulk_create(
        [
            Notification(
                recipient_id=rid,
                # django-notifications requires an actor; the system acts as the recipient.
                actor_content_type=actor_type,
                actor_object_id=str(actor_id or rid),
                verb=verb,
                level=level,
                kind=kind,
                event_key=event_key,
                link=link,
                timestamp=now,
                email_delivery=delivery[rid],
            )
            for rid in fresh
        ],
        # A concurrent run of the same event may have inserted some meanwhile.
        ignore_conflicts=True,
    )
    immediate_ids = list(
        Notification.objects.filter(
            event_key=event_key,
            recipient_id__in=fresh,
            email_delivery=Notification.EmailDelivery.IMMEDIATE,
            emailed=False,
        ).values_list("id", flat=True)
    )
    return immediate_ids, len(fresh)


@transaction.atomic
def notification_preferences_set(*, user: User, deliveries: dict[str, str]) -> None:
    """Store one delivery choice per kind for this person."""
    for kind, delivery in deliveries.items():
        NotificationKind(kind)  # refuses unknown kinds
        NotificationPreference.objects.update_or_create(user=user, kind=kind, defaults={"delivery": delivery})


def notification_open(*, user: User, notification_id: int) -> str | None:
    """Mark one of this person's notifications read and give its link; None when it is not theirs."""
    mine = Notification.objects.filter(pk=notification_id, recipient=user, deleted=False)
    link = mine.values_list("link", flat=True).first()
    if link is None:
        return None
    mine.filter(unread=True).update(unread=False)
    return link


def notification_mark_emailed(*, notification_ids: list[int]) -> None:
    Notification.objects.filter(id__in=notification_ids).update(emailed=True, emailed_at=timezone.now())


@transaction.atomic
def profile_leaderboard_visibility_set(*, user: User, hidden: bool) -> None:
    """Show or hide this person's name on public leaderboards; their credit still counts for their department."""
    Profile.objects.filter(pk=profile_ensure(user=user).pk).update(hide_from_leaderboards=hidden)
