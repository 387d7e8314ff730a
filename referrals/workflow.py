"""The referral lifecycle: states, moves, and who may make each move.

One table, no I/O. ``referrals.services`` is the only code that changes a
referral's status, and it asks this module first. The state names map one to
one onto HL7 FHIR R4 (Task.status, ServiceRequest.status), so an export is a
lookup in ``FHIR_STATUS``.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import models


class Status(models.TextChoices):
    SUBMITTED = "submitted", "Submitted"
    ACCEPTED = "accepted", "Accepted — open in the review queue"
    CLAIMED = "claimed", "Claimed by a reviewer"
    IN_REVIEW = "in_review", "In review"
    OPINION_DELIVERED = "opinion_delivered", "Opinion delivered"
    CLOSED = "closed", "Closed"
    DECLINED = "declined", "Declined"
    CANCELLED = "cancelled", "Cancelled"
    ENTERED_IN_ERROR = "entered_in_error", "Entered in error"


TERMINAL = frozenset({Status.CLOSED, Status.DECLINED, Status.CANCELLED, Status.ENTERED_IN_ERROR})
OPEN = frozenset(set(Status) - TERMINAL)

# (Task.status, ServiceRequest.status) for each state: unique pairs, so the
# mapping is one to one in both directions.
FHIR_STATUS: dict[Status, tuple[str, str]] = {
    Status.SUBMITTED: ("requested", "active"),
    Status.ACCEPTED: ("accepted", "active"),
    Status.CLAIMED: ("ready", "active"),
    Status.IN_REVIEW: ("in-progress", "active"),
    Status.OPINION_DELIVERED: ("completed", "active"),
    Status.CLOSED: ("completed", "completed"),
    Status.DECLINED: ("rejected", "revoked"),
    Status.CANCELLED: ("cancelled", "revoked"),
    Status.ENTERED_IN_ERROR: ("entered-in-error", "entered-in-error"),
}


class Capacity(models.TextChoices):
    """How a person stands towards one referral (computed per referral)."""

    REFERRER = "referrer", "Referrer"
    COORDINATOR = "coordinator", "Coordinator"
    SPECIALTY_REVIEWER = "specialty_reviewer", "Reviewer of the specialty"
    OWNER = "owner", "Claiming reviewer"


class Action(models.TextChoices):
    ACCEPT = "accept", "Accept"
    DECLINE = "decline", "Decline"
    CANCEL = "cancel", "Cancel"
    CLAIM = "claim", "Claim"
    ASSIGN = "assign", "Assign to a reviewer"
    RELEASE = "release", "Release back to the queue"
    REASSIGN = "reassign", "Reassign"
    START_REVIEW = "start_review", "Start review"
    DELIVER_OPINION = "deliver_opinion", "Deliver opinion"
    CLOSE = "close", "Close"
    ENTER_IN_ERROR = "enter_in_error", "Mark entered in error"


@dataclass(frozen=True)
class Move:
    sources: frozenset[Status]
    target: Status | None  # None: the state stays (reassign)
    # Who may make the move, and from which of the sources (None: all sources).
    allowed: dict[Capacity, frozenset[Status] | None]
    reason_required: bool = False


def _s(*states: Status) -> frozenset[Status]:
    return frozenset(states)


C = Capacity
S = Status

TRANSITIONS: dict[Action, Move] = {
    Action.ACCEPT: Move(_s(S.SUBMITTED), S.ACCEPTED, {C.COORDINATOR: None}),
    Action.DECLINE: Move(_s(S.SUBMITTED), S.DECLINED, {C.COORDINATOR: None}, reason_required=True),
    Action.CANCEL: Move(
        frozenset(OPEN), S.CANCELLED, {C.COORDINATOR: None, C.REFERRER: _s(S.SUBMITTED)}, reason_required=True
    ),
    Action.CLAIM: Move(_s(S.ACCEPTED), S.CLAIMED, {C.SPECIALTY_REVIEWER: None}),
    Action.ASSIGN: Move(_s(S.ACCEPTED), S.CLAIMED, {C.COORDINATOR: None}),
    Action.RELEASE: Move(
        _s(S.CLAIMED, S.IN_REVIEW), S.ACCEPTED, {C.OWNER: None, C.COORDINATOR: None}, reason_required=True
    ),
    Action.REASSIGN: Move(_s(S.CLAIMED, S.IN_REVIEW), None, {C.COORDINATOR: None}, reason_required=True),
    Action.START_REVIEW: Move(_s(S.CLAIMED), S.IN_REVIEW, {C.OWNER: None, C.COORDINATOR: None}),
    Action.DELIVER_OPINION: Move(_s(S.IN_REVIEW), S.OPINION_DELIVERED, {C.OWNER: None}),
    Action.CLOSE: Move(_s(S.OPINION_DELIVERED), S.CLOSED, {C.COORDINATOR: None}),
    Action.ENTER_IN_ERROR: Move(
        frozenset(set(Status) - {S.ENTERED_IN_ERROR}), S.ENTERED_IN_ERROR, {C.COORDINATOR: None}, reason_required=True
    ),
}


class TransitionNotAllowed(Exception):
    """A move that the table does not allow; the message names the move and the state."""

    def __init__(self, action: Action, status: Status, why: str = ""):
        self.action = Action(action)
        self.status = Status(status)
        message = f"Cannot {self.action.label.lower()} a referral that is {self.status.label.lower()}"
        super().__init__(f"{message}: {why}" if why else f"{message}.")


def check(action: Action, status: Status, capacities: set[Capacity]) -> Move:
    """Return the move if these capacities may make it from this state; raise otherwise."""
    move = TRANSITIONS[Action(action)]
    if status not in move.sources:
        raise TransitionNotAllowed(action, status)
    for capacity in capacities:
        if capacity in move.allowed and (move.allowed[capacity] is None or status in move.allowed[capacity]):
            return move
    raise TransitionNotAllowed(action, status, "you do not have a role that may do this now")


def allowed_actions(status: Status, capacities: set[Capacity]) -> list[Action]:
    """The moves these capacities may make from this state, in table order."""
    allowed = []
    for action in TRANSITIONS:
        try:
            check(action, status, capacities)
        except TransitionNotAllowed:
            continue
        allowed.append(action)
    return allowed
