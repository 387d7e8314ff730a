"""Referral notifications and service-level reminders. Ids in, idempotent."""

from __future__ import annotations

import logging

from celery import shared_task
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from portal import services as portal_services
from portal.notification_kinds import NotificationKind
from referrals import selectors
from referrals.models import CreditEntry, Referral, ReferralEvent
from referrals.workflow import OPEN, Action

logger = logging.getLogger(__name__)

Kind = ReferralEvent.Kind


def _recipients_and_message(event: ReferralEvent) -> list[tuple[list[int], str, str]]:
    """[(recipient ids, notification kind, verb)] for one event. Verbs name the reference only."""
    r = event.referral
    ref = r.reference
    referrer = [r.referrer_id] if r.referrer_id else []
    owner = [r.reviewer_id] if r.reviewer_id else []
    coordinators = selectors.coordinator_ids()
    out: list[tuple[list[int], str, str]] = []
    if event.kind == Kind.CREATED:
        out.append((coordinators, NotificationKind.NEW_REFERRAL, f"New referral {ref} to triage"))
    elif event.kind == Kind.TRANSITION:
        action = event.action
        if action == Action.ACCEPT:
            out.append(
                (
                    selectors.specialty_reviewer_ids(r.specialty_id),
                    NotificationKind.CASE_OPEN,
                    f"Case {ref} is open in the {r.specialty.name} queue",
                )
            )
            out.append((referrer, NotificationKind.REFERRAL_PROGRESS, f"Your referral {ref} was accepted"))
        elif action == Action.DECLINE:
            out.append((referrer, NotificationKind.REFERRAL_PROGRESS, f"Your referral {ref} was declined"))
        elif action in (Action.CLAIM, Action.ASSIGN):
            out.append((referrer, NotificationKind.REFERRAL_PROGRESS, f"Your referral {ref} was claimed by a reviewer"))
            if action == Action.ASSIGN:
                out.append((owner, NotificationKind.CASE_ACTIVITY, f"Case {ref} was assigned to you"))
        elif action == Action.RELEASE:
            out.append((coordinators, NotificationKind.CASE_ACTIVITY, f"Case {ref} was released back to the queue"))
            out.append(
                (
                    selectors.specialty_reviewer_ids(r.specialty_id),
                    NotificationKind.CASE_OPEN,
                    f"Case {ref} is open again in the {r.specialty.name} queue",
                )
            )
        elif action == Action.REASSIGN:
            previous = event.detail.get("from_reviewer")
            out.append((owner, NotificationKind.CASE_ACTIVITY, f"Case {ref} was reassigned to you"))
            out.append(
                (
                    [previous] if previous else [],
                    NotificationKind.CASE_ACTIVITY,
                    f"Case {ref} was reassigned to another reviewer",
                )
            )
        elif action == Action.START_REVIEW:
            out.append((referrer, NotificationKind.REFERRAL_PROGRESS, f"Review of your referral {ref} has started"))
        elif action == Action.DELIVER_OPINION:
            out.append((referrer, NotificationKind.REFERRAL_PROGRESS, f"The second opinion for {ref} is ready"))
            out.append((coordinators, NotificationKind.CASE_ACTIVITY, f"Opinion delivered on {ref}: ready to close"))
        elif action == Action.CLOSE:
            out.append((referrer + owner, NotificationKind.REFERRAL_PROGRESS, f"Referral {ref} was closed"))
        elif action == Action.CANCEL:
            out.append(
                (referrer + owner + coordinators, NotificationKind.CASE_ACTIVITY, f"Referral {ref} was cancelled")
            )
        elif action == Action.ENTER_IN_ERROR:
            out.append(
                (referrer + owner, NotificationKind.CASE_ACTIVITY, f"Referral {ref} was marked entered in error")
            )
    elif event.kind == Kind.INFO_REQUESTED:
        out.append(
            (referrer, NotificationKind.CASE_ACTIVITY, f"A question about your referral {ref} needs your answer")
        )
    elif event.kind == Kind.INFO_ANSWERED:
        asked_by = event.detail.get("asked_by")
        out.append(
            (
                [asked_by] if asked_by else coordinators,
                NotificationKind.CASE_ACTIVITY,
                f"The referrer answered your question on {ref}",
            )
        )
    elif event.kind == Kind.NOTE:
        out.append((referrer + owner, NotificationKind.CASE_ACTIVITY, f"New note on {ref}"))
    elif event.kind == Kind.CLOCK_BREACHED:
        people = coordinators + (owner if event.detail.get("clock") == "review" else [])
        out.append((people, NotificationKind.SERVICE_LEVEL, f"{ref} is past its {event.detail.get('clock')} target"))
    elif event.kind == Kind.RECORDS_RECEIVED:
        out.append((owner, NotificationKind.CASE_ACTIVITY, f"Records for {ref} have arrived"))
    return out


@shared_task(acks_late=True)
def notify_referral_event(event_id: int) -> int:
    """Notify the people concerned by one event; running it twice notifies nobody twice."""
    event = ReferralEvent.objects.select_related("referral__specialty").filter(pk=event_id).first()
    if event is None:
        return 0
    created = 0
    for index, (recipient_ids, kind, verb) in enumerate(_recipients_and_message(event)):
        recipients = [rid for rid in recipient_ids if rid and rid != event.actor_id]
        if not recipients:
            continue
        created += portal_services.notification_send(
            kind=kind,
            event_key=f"referral-event:{event.pk}:{index}",
            recipient_ids=recipients,
            verb=verb,
            link=f"/referrals/{event.referral.reference}/",
        )
    return created


@shared_task(acks_late=True)
def notify_credit_entry(entry_id: int) -> int:
    """Tell the person of one ledger entry: credit earned, or reversed. Running it twice tells nobody twice."""
    entry = CreditEntry.objects.filter(pk=entry_id).values("person_id", "points", "reason").first()
    if entry is None:
        return 0
    points = entry["points"]
    if points == 0:  # a rule set to no points: nothing to tell
        return 0
    unit = "point" if abs(points) == 1 else "points"
    # The reason names the rule and the reference number (or the course), never patient data.
    if points > 0:
        verb = f"You earned {points} {unit} of credit: {entry['reason']}"
    else:
        verb = f"{-points} {unit} of credit taken back: {entry['reason']}"
    return portal_services.notification_send(
        kind=NotificationKind.CREDIT_EARNED,
        event_key=f"credit-entry:{entry_id}",
        recipient_ids=[entry["person_id"]],
        verb=verb,
        link=reverse("my_impact"),
    )


@shared_task(acks_late=True)
def find_clock_breaches() -> int:
    """Record and announce each referral past its current clock's target, once per breach."""
    from referrals.clocks import CLOCK_OF_STATUS

    now = timezone.now()
    candidates = list(
        Referral.objects.filter(
            status__in=list(CLOCK_OF_STATUS),
            clock_due_at__lt=now,
            clock_paused_at__isnull=True,
            clock_breach_notified_at__isnull=True,
        ).values_list("id", flat=True)[:1000]
    )
    found = 0
    for referral_id in candidates:
        with transaction.atomic():
            referral = (
                Referral.objects.select_for_update(skip_locked=True)
                .filter(pk=referral_id, clock_breach_notified_at__isnull=True, clock_paused_at__isnull=True)
                .first()
            )
            if referral is None or referral.status not in OPEN or referral.clock_due_at >= now:
                continue
            clock = CLOCK_OF_STATUS[referral.status]
            referral.clock_breach_notified_at = now
            referral.save(update_fields=["clock_breach_notified_at", "updated_at"])
            event = ReferralEvent.objects.create(
                referral=referral,
                kind=Kind.CLOCK_BREACHED,
                detail={"clock": clock, "due_at": referral.clock_due_at.isoformat()},
                created_at=now,
            )
            notify_referral_event.delay_on_commit(event.pk)
            found += 1
    logger.info("service-level breaches recorded", extra={"count": found})
    return found


@shared_task(acks_late=True, ignore_result=True)
def refresh_dashboard_rollup() -> int | None:
    """Bring the dashboard's rollup up to date (a run that finds another one running does nothing)."""
    from referrals import rollups

    return rollups.refresh_referral_facts()
