"""The only writers of referrals. One function per move or flag, each:

locks the referral row, asks ``referrals.workflow`` whether this person may
make this move from the current state, writes the change and exactly one
``ReferralEvent``, and queues the notifications after commit (ids only).
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from portal.models import Profile, User
from referrals import clocks, rollups
from referrals.models import (
    DEFAULT_CREDIT_RULES,
    Channel,
    CreditEntry,
    CreditRule,
    DownstreamOutcome,
    HoldReason,
    RecordsLocation,
    ReferenceCounter,
    Referral,
    ReferralEvent,
)
from referrals.permissions import capacities_of
from referrals.workflow import OPEN, TERMINAL, Action, Capacity, Status, check

# States that end a referral without an opinion; ``Referral.ended_at`` records when.
ENDING = frozenset({Status.DECLINED, Status.CANCELLED, Status.ENTERED_IN_ERROR})


class ReferralError(Exception):
    """A request the referral cannot take (bad reviewer, missing reason, records incomplete)."""


# Fields a referral form may set; everything else is set by the system.
CREATE_FIELDS = (
    "patient_name",
    "patient_mrn",
    "patient_dob",
    "patient_phone",
    "preferred_language",
    "interpreter_needed",
    "specialty",
    "question",
    "reason_category",
    "diagnosis",
    "icd10_code",
    "urgency",
    "decision_needed_by",
    "records_location",
    "preferred_reviewer",
    "coverage",
    "patient_consented",
    "previous_referral",
)


def _notify_after_commit(event: ReferralEvent) -> None:
    from referrals.tasks import notify_referral_event

    notify_referral_event.delay_on_commit(event.pk)


def _new_event(referral, *, kind, actor, action="", from_status="", to_status="", note="", detail=None, at=None):
    return ReferralEvent(
        referral=referral,
        kind=kind,
        action=action,
        actor=actor,
        from_status=from_status,
        to_status=to_status,
        note=note,
        detail=detail or {},
        created_at=at or timezone.now(),
    )


def _event(referral, **fields):
    event = _new_event(referral, **fields)
    event.save(force_insert=True)
    _notify_after_commit(event)
    return event


def _next_reference(year: int) -> str:
    """Take the year's next number. Gap-free: the counter row stays locked until
    the creating transaction commits, and the increment rolls back with it."""
    table = ReferenceCounter._meta.db_table
    increment = f"UPDATE {table} SET last_number = last_number + 1 WHERE year = %s RETURNING last_number"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(increment, [year])
        row = cursor.fetchone()
        if row is None:  # the year's first referral
            ReferenceCounter.objects.bulk_create([ReferenceCounter(year=year, last_number=0)], ignore_conflicts=True)
            cursor.execute(increment, [year])
            row = cursor.fetchone()
    return f"SO-{year}-{row[0]:06d}"


@functools.cache
def _insert_plan(model) -> tuple[str, tuple]:
    """An INSERT's column list and its fields in that order, built once per model."""
    fields = tuple(f for f in model._meta.concrete_fields if not f.primary_key)
    return ", ".join(connection.ops.quote_name(f.column) for f in fields), fields


def _insert_values(obj, *, computed: dict[str, tuple[str, list]]) -> tuple[str, str, list]:
    """The column list, value list and parameters of one INSERT of ``obj``.

    Values come from each field as ``save()`` would write them (``pre_save``
    fills ``auto_now`` fields, ``get_db_prep_save`` adapts); a column named in
    ``computed`` takes that SQL expression (and its parameters) instead.
    """
    columns, fields = _insert_plan(type(obj))
    values, params = [], []
    for field in fields:
        if field.column in computed:
            expression, expression_params = computed[field.column]
            values.append(expression)
            params.extend(expression_params)
        else:
            value = field.get_db_prep_save(field.pre_save(obj, add=True), connection)
            if value is None:
                # Written as psycopg would bind it, but as SQL text: psycopg
                # caches a statement's parsing only up to 50 parameters, and
                # a new referral's dozens of empty columns would push it over.
                values.append("NULL")
            else:
                values.append("%s")
                params.append(value)
    return columns, ", ".join(values), params


def _create_numbered_in_one_statement(referral: Referral, event: ReferralEvent, year: int) -> None:
    """PostgreSQL: take the year's number, insert the referral and its event, in one statement.

    Every creation waits for the counter row, so how long it stays locked
    caps how many referrals a second the portal can take. Here it is locked
    for one statement's execution and its commit; the three-statement path
    kept it through two more round trips, and those grew with every Python
    thread waiting for the interpreter lock in between. Still gap-free: a
    statement that fails (a repeated token) takes its increment back with it.
    """
    quote = connection.ops.quote_name
    counter = quote(ReferenceCounter._meta.db_table)
    number = "(SELECT last_number FROM number)"
    referral_columns, referral_values, referral_params = _insert_values(
        referral,
        # SO-YYYY-NNNNNN: six digits at least; never cut a seventh off.
        computed={
            "reference": (
                f"'SO-' || %s || '-' || lpad({number}::text, greatest(6, length({number}::text)), '0')",
                [str(year)],
            )
        },
    )
    event_columns, event_values, event_params = _insert_values(
        event, computed={"referral_id": ("(SELECT id FROM new_referral)", [])}
    )
    sql = f"""
        WITH number AS (
            INSERT INTO {counter} (year, last_number) VALUES (%s, 1)
            ON CONFLICT (year) DO UPDATE SET last_number = {counter}.last_number + 1
            RETURNING last_number
        ), new_referral AS (
            INSERT INTO {quote(Referral._meta.db_table)} ({referral_columns}) VALUES ({referral_values})
            RETURNING id, reference
        ), new_event AS (
            INSERT INTO {quote(ReferralEvent._meta.db_table)} ({event_columns}) VALUES ({event_values})
            RETURNING id
        )
        SELECT new_referral.id, new_referral.reference, new_event.id FROM new_referral, new_event
    """  # noqa: S608 (identifiers come from the models; every value is a parameter or NULL)
    with connection.cursor() as cursor:
        cursor.execute(sql, [year, *referral_params, *event_params])
        referral.pk, referral.reference, event.pk = cursor.fetchone()
    for saved in (referral, event):
        saved._state.adding = False
        saved._state.db = connection.alias
    event.referral = referral


def referral_create(
    *,
    actor: User,
    data: dict,
    submission_token: uuid.UUID | None = None,
    referrer: User | None = None,
    channel: str = Channel.STAFF_PORTAL,
    channel_partner: str = "",
) -> tuple[Referral, bool]:
    """Create a referral; a repeated submission token returns the first one instead.

    Returns (referral, created).
    """
    token = submission_token or uuid.uuid4()
    _validate_new_referral(data)
    if channel == Channel.STAFF_PORTAL:
        referrer = actor
    # Every read happens before the counter lock: creations queue behind it
    # only for the number and the two inserts.
    now = timezone.now()
    department_id = _department_id_of(referrer) if referrer else None
    referral = Referral(
        submission_token=token,
        status=Status.SUBMITTED,
        referrer=referrer,
        department_id=department_id,
        created_by=actor,
        channel=channel,
        channel_partner=channel_partner if channel == Channel.CONCIERGE else "",
        submitted_at=now,
        **{field: data[field] for field in CREATE_FIELDS if field in data},
    )
    referral.clock_due_at = clocks.due_for(Status.SUBMITTED, referral.specialty_id, referral.urgency, now)
    event = _new_event(
        referral,
        kind=ReferralEvent.Kind.CREATED,
        actor=actor,
        to_status=Status.SUBMITTED,
        detail={"channel": channel},
        at=now,
    )
    year = timezone.localdate(now).year
    # A repeated token fails the unique constraint (a concurrent twin waits on
    # the counter lock until the first has committed); rolling back returns
    # its number, so references stay gap-free.
    try:
        if connection.vendor != "postgresql":
            with transaction.atomic():
                referral.reference = _next_reference(year)
                referral.save(force_insert=True)
                event.referral = referral
                event.save(force_insert=True)
        elif connection.in_atomic_block:
            with transaction.atomic():  # a savepoint, so a repeated token can still be answered
                _create_numbered_in_one_statement(referral, event, year)
        else:
            _create_numbered_in_one_statement(referral, event, year)  # commits on its own
    except IntegrityError:
        # A double submit: answer with the referral the first one created.
        existing = _existing_submission(token, actor)
        if existing is None:
            raise
        return existing, False
    _notify_after_commit(event)
    return referral, True


def _department_id_of(person: User) -> int | None:
    """The person's department from their profile (already loaded for the signed-in person)."""
    try:
        return person.profile.department_id
    except Profile.DoesNotExist:
        return None


def _existing_submission(token: uuid.UUID, actor: User) -> Referral | None:
    """The referral an earlier submit of this form created, if any.

    A token belongs to the person whose form carried it; someone else's token
    is refused rather than answered with their referral.
    """
    existing = Referral.objects.filter(submission_token=token).first()
    if existing is not None and existing.created_by_id != actor.pk:
        raise ReferralError("This form was already used. Open the referral form again to start a new referral.")
    return existing


def _validate_new_referral(data: dict) -> None:
    """Rules that hold whatever the entry path (form, other channel, import)."""
    if not data.get("patient_consented"):
        raise ReferralError("The patient must agree to the referral before it is sent.")
    specialty = data.get("specialty")
    if specialty is None or not specialty.is_active:
        raise ReferralError("Choose a specialty that currently accepts second opinion referrals.")
    dob = data.get("patient_dob")
    if dob is None or dob >= timezone.localdate():
        raise ReferralError("The date of birth must be in the past.")
    for field in ("patient_name", "patient_mrn", "question"):
        if not str(data.get(field) or "").strip():
            raise ReferralError(f"The {field.replace('_', ' ').replace('patient ', '')} is required.")
    reviewer = data.get("preferred_reviewer")
    if reviewer is not None and specialty.pk not in reviewer.review_specialty_ids:
        raise ReferralError(f"{reviewer} does not review {specialty}.")


# What a claim reads and writes: who may claim (referrer, reviewer, specialty, status),
# what it sets, and what restarting the clock reads. The queue's busiest write
# locks these columns only; building a SELECT of all sixty cost more than running it.
CLAIM_FIELDS = (
    "reference",
    "status",
    "referrer",
    "reviewer",
    "specialty",
    "urgency",
    "claimed_at",
    "info_requested_at",
    "hold_reason",
    "hold_since",
    "ended_at",
    "clock_due_at",
    "clock_paused_at",
    "clock_breach_notified_at",
    "updated_at",
)


def _locked(referral_id: int | None = None, *, reference: str | None = None, fields=None) -> Referral:
    """The referral row, locked until the transaction ends; ``fields`` loads only those (the rest on access)."""
    referrals = Referral.objects.select_for_update()
    if fields is not None:
        referrals = referrals.only(*fields)
    if reference is not None:
        return referrals.get(reference=reference)
    return referrals.get(pk=referral_id)


def _require_reason(reason: str, action: Action) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ReferralError(f"Give a reason to {Action(action).label.lower()}.")
    return reason


def _restart_clock(referral: Referral, now) -> None:
    referral.clock_due_at = clocks.due_for(referral.status, referral.specialty_id, referral.urgency, now)
    referral.clock_breach_notified_at = None
    paused = bool(referral.info_requested_at or referral.hold_reason)
    referral.clock_paused_at = now if (paused and referral.clock_due_at) else None


def _move(
    referral_id: int | None,
    *,
    actor: User,
    action: Action,
    reason: str = "",
    detail: dict | None = None,
    apply=None,
    locked: Referral | None = None,
    capacities: set[Capacity] | None = None,
) -> Referral:
    """``locked``: the row already read with FOR UPDATE in this transaction (with ``capacities``), not read again."""
    referral = locked if locked is not None else _locked(referral_id)
    if capacities is None:
        capacities = capacities_of(actor, referral)
    move = check(action, Status(referral.status), capacities)
    if move.reason_required:
        reason = _require_reason(reason, action)
    now = timezone.now()
    from_status = referral.status
    before = _field_values(referral)
    if apply is not None:
        apply(referral, now)
    if move.target is not None:
        referral.status = move.target
    if referral.status in ENDING:
        referral.ended_at = now
    if referral.status in TERMINAL:
        referral.info_requested_at = referral.hold_since = None
        referral.hold_reason = ""
    if referral.status != from_status:
        _restart_clock(referral, now)
        _credit_for_move(referral, action, now)
    # Write only what the move changed: a claim should not rewrite sixty columns.
    # A field the move set while it was deferred is in ``after`` only.
    after = _field_values(referral)
    changed = [name for name, value in after.items() if name not in before or value != before[name]]
    referral.save(update_fields=[*changed, "updated_at"])
    _event(
        referral,
        kind=ReferralEvent.Kind.TRANSITION,
        actor=actor,
        action=action,
        from_status=from_status,
        to_status=referral.status,
        note=reason,
        detail=detail,
        at=now,
    )
    return referral


def _field_values(referral: Referral) -> dict:
    """The loaded fields' values (a field left out by ``only()`` is not read: that would query it)."""
    deferred = referral.get_deferred_fields()
    return {
        f.attname: getattr(referral, f.attname)
        for f in Referral._meta.concrete_fields
        if not f.primary_key and f.attname not in deferred
    }


def _check_reviewer(referral: Referral, reviewer: User) -> None:
    if not reviewer.is_active or referral.specialty_id not in reviewer.review_specialty_ids:
        raise ReferralError(f"{reviewer} does not review {referral.specialty}.")


@transaction.atomic
def referral_accept(*, referral_id: int, actor: User, note: str = "") -> Referral:
    def apply(r, now):
        r.accepted_at = now

    return _move(referral_id, actor=actor, action=Action.ACCEPT, reason=note, apply=apply)


@transaction.atomic
def referral_decline(*, referral_id: int, actor: User, reason: str) -> Referral:
    return _move(referral_id, actor=actor, action=Action.DECLINE, reason=reason)


@transaction.atomic
def referral_cancel(*, referral_id: int, actor: User, reason: str) -> Referral:
    return _move(referral_id, actor=actor, action=Action.CANCEL, reason=reason)


@transaction.atomic
def referral_claim(
    *,
    actor: User,
    referral_id: int | None = None,
    reference: str | None = None,
    authorize: Callable[[Referral, set[Capacity]], None] | None = None,
) -> Referral:
    """The first reviewer wins; everyone after is told it is already claimed.

    By ``reference`` with ``authorize``, the caller decides who may see and
    claim on the row this claim locks, before anything is written (it raises
    to refuse, which rolls back): the claim screen reads the referral once, not
    once to decide and again under the lock. A missing reference raises
    ``Referral.DoesNotExist``.
    """
    referral = _locked(referral_id, reference=reference, fields=CLAIM_FIELDS)
    capacities = capacities_of(actor, referral)
    if authorize is not None:
        authorize(referral, capacities)

    def apply(r, now):
        r.reviewer = actor
        r.claimed_at = now

    return _move(
        referral.pk,
        actor=actor,
        action=Action.CLAIM,
        detail={"reviewer": actor.pk},
        apply=apply,
        locked=referral,
        capacities=capacities,
    )


@transaction.atomic
def referral_assign(*, referral_id: int, actor: User, reviewer: User, note: str = "") -> Referral:
    referral = _locked(referral_id)
    check(Action.ASSIGN, Status(referral.status), capacities_of(actor, referral))
    _check_reviewer(referral, reviewer)

    def apply(r, now):
        r.reviewer = reviewer
        r.claimed_at = now

    return _move(
        referral_id, actor=actor, action=Action.ASSIGN, reason=note, detail={"reviewer": reviewer.pk}, apply=apply
    )


@transaction.atomic
def referral_release(*, referral_id: int, actor: User, reason: str) -> Referral:
    def apply(r, now):
        detail["from_reviewer"] = r.reviewer_id
        r.reviewer = None
        r.claimed_at = None
        r.review_started_at = None

    detail: dict = {}
    return _move(referral_id, actor=actor, action=Action.RELEASE, reason=reason, detail=detail, apply=apply)


@transaction.atomic
def referral_reassign(*, referral_id: int, actor: User, reviewer: User, reason: str) -> Referral:
    referral = _locked(referral_id)
    check(Action.REASSIGN, Status(referral.status), capacities_of(actor, referral))
    _check_reviewer(referral, reviewer)
    if referral.reviewer_id == reviewer.pk:
        raise ReferralError(f"{reviewer} already owns {referral.reference}.")
    detail = {"from_reviewer": referral.reviewer_id, "reviewer": reviewer.pk}

    def apply(r, now):
        r.reviewer = reviewer

    return _move(referral_id, actor=actor, action=Action.REASSIGN, reason=reason, detail=detail, apply=apply)


@transaction.atomic
def referral_start_review(*, referral_id: int, actor: User) -> Referral:
    referral = _locked(referral_id)
    check(Action.START_REVIEW, Status(referral.status), capacities_of(actor, referral))
    if not referral.records_complete:
        raise ReferralError(f"{referral.reference}: review starts when the outside records have arrived.")

    def apply(r, now):
        r.review_started_at = now

    return _move(referral_id, actor=actor, action=Action.START_REVIEW, apply=apply)


OPINION_REQUIRED = ("opinion_summary", "opinion_answer", "diagnosis_outcome", "treatment_outcome")
OPINION_OPTIONAL = ("clinical_impact", "recommendations", "trial_candidate")


@transaction.atomic
def referral_deliver_opinion(*, referral_id: int, actor: User, opinion: dict) -> Referral:
    missing = [f for f in OPINION_REQUIRED if not opinion.get(f)]
    if missing:
        raise ReferralError("The opinion needs: " + ", ".join(f.replace("_", " ") for f in missing) + ".")

    def apply(r, now):
        for field in OPINION_REQUIRED + OPINION_OPTIONAL:
            if field in opinion:
                setattr(r, field, opinion[field])
        r.opinion_delivered_at = now

    return _move(referral_id, actor=actor, action=Action.DELIVER_OPINION, apply=apply)


CLOSE_FIELDS = ("downstream_outcome", "appointment_date", "recommendation_followed")


@transaction.atomic
def referral_close(*, referral_id: int, actor: User, outcome: dict) -> Referral:
    if not outcome.get("downstream_outcome"):
        raise ReferralError("Closing needs the downstream outcome.")

    def apply(r, now):
        for field in CLOSE_FIELDS:
            if field in outcome:
                setattr(r, field, outcome[field])
        r.recommendation_followed = outcome.get("recommendation_followed") or "unknown"
        r.closed_at = now

    return _move(referral_id, actor=actor, action=Action.CLOSE, apply=apply)


@transaction.atomic
def referral_enter_in_error(*, referral_id: int, actor: User, reason: str) -> Referral:
    return _move(referral_id, actor=actor, action=Action.ENTER_IN_ERROR, reason=reason)


# --- Flags and notes: not states, but each one event -------------------------------


def _flag_guard(referral: Referral, actor: User, allowed: set[Capacity], what: str) -> None:
    if referral.status not in OPEN:
        raise ReferralError(f"{referral.reference} is {Status(referral.status).label.lower()}: cannot {what}.")
    if not capacities_of(actor, referral) & allowed:
        raise ReferralError(f"You cannot {what} on {referral.reference}.")


def _pause(referral: Referral, now) -> None:
    if referral.clock_due_at and referral.clock_paused_at is None:
        referral.clock_paused_at = now


def _resume_if_clear(referral: Referral, now) -> None:
    if referral.info_requested_at or referral.hold_reason or referral.clock_paused_at is None:
        return
    if referral.clock_due_at:
        paused_days = clocks.business_days_between(referral.clock_paused_at, now)
        referral.clock_due_at = clocks.add_business_days(referral.clock_due_at, paused_days)
        if referral.clock_due_at > now:
            # The pause moved the deadline out: missing the new one is a new breach.
            referral.clock_breach_notified_at = None
    referral.clock_paused_at = None


@transaction.atomic
def referral_request_info(*, referral_id: int, actor: User, question: str) -> Referral:
    referral = _locked(referral_id)
    _flag_guard(referral, actor, {Capacity.COORDINATOR, Capacity.OWNER}, "ask the referrer a question")
    question = (question or "").strip()
    if not question:
        raise ReferralError("Write the question for the referrer.")
    now = timezone.now()
    referral.info_requested_at = now
    referral.info_requested_by = actor
    _pause(referral, now)
    referral.save()
    _event(referral, kind=ReferralEvent.Kind.INFO_REQUESTED, actor=actor, note=question, at=now)
    return referral


@transaction.atomic
def referral_answer_info(*, referral_id: int, actor: User, answer: str) -> Referral:
    referral = _locked(referral_id)
    _flag_guard(referral, actor, {Capacity.REFERRER, Capacity.COORDINATOR}, "answer the question")
    if referral.info_requested_at is None:
        raise ReferralError(f"No question is open on {referral.reference}.")
    answer = (answer or "").strip()
    if not answer:
        raise ReferralError("Write your answer.")
    now = timezone.now()
    detail = {"asked_by": referral.info_requested_by_id}
    referral.info_requested_at = None
    referral.info_requested_by = None
    _resume_if_clear(referral, now)
    referral.save()
    _event(referral, kind=ReferralEvent.Kind.INFO_ANSWERED, actor=actor, note=answer, detail=detail, at=now)
    return referral


@transaction.atomic
def referral_hold(*, referral_id: int, actor: User, reason: str, note: str = "") -> Referral:
    referral = _locked(referral_id)
    _flag_guard(referral, actor, {Capacity.COORDINATOR, Capacity.OWNER}, "put the case on hold")
    if reason not in HoldReason.values:
        raise ReferralError("Choose why the case is on hold.")
    reason = HoldReason(reason)
    now = timezone.now()
    referral.hold_reason = reason
    referral.hold_since = referral.hold_since or now
    _pause(referral, now)
    referral.save()
    _event(referral, kind=ReferralEvent.Kind.HOLD_SET, actor=actor, note=note, detail={"reason": reason}, at=now)
    return referral


@transaction.atomic
def referral_clear_hold(*, referral_id: int, actor: User, note: str = "") -> Referral:
    referral = _locked(referral_id)
    _flag_guard(referral, actor, {Capacity.COORDINATOR, Capacity.OWNER}, "clear the hold")
    if not referral.hold_reason:
        raise ReferralError(f"{referral.reference} is not on hold.")
    now = timezone.now()
    referral.hold_reason = ""
    referral.hold_since = None
    _resume_if_clear(referral, now)
    referral.save()
    _event(referral, kind=ReferralEvent.Kind.HOLD_CLEARED, actor=actor, note=note, at=now)
    return referral


@transaction.atomic
def referral_add_note(*, referral_id: int, actor: User, body: str) -> ReferralEvent:
    referral = _locked(referral_id)
    if not capacities_of(actor, referral) & {Capacity.REFERRER, Capacity.COORDINATOR, Capacity.OWNER}:
        raise ReferralError(f"You cannot leave notes on {referral.reference}.")
    body = (body or "").strip()
    if not body:
        raise ReferralError("The note is empty.")
    return _event(referral, kind=ReferralEvent.Kind.NOTE, actor=actor, note=body)


@transaction.atomic
def referral_request_records(*, referral_id: int, actor: User, note: str = "") -> Referral:
    referral = _locked(referral_id)
    _flag_guard(referral, actor, {Capacity.COORDINATOR}, "request records")
    now = timezone.now()
    referral.records_location = RecordsLocation.OUTSIDE
    referral.records_requested_at = now
    referral.records_received_at = None
    referral.save()
    _event(referral, kind=ReferralEvent.Kind.RECORDS_REQUESTED, actor=actor, note=note, at=now)
    return referral


@transaction.atomic
def referral_receive_records(*, referral_id: int, actor: User, note: str = "") -> Referral:
    referral = _locked(referral_id)
    _flag_guard(referral, actor, {Capacity.COORDINATOR, Capacity.OWNER}, "mark records received")
    if referral.records_received_at is not None:
        raise ReferralError(f"Records for {referral.reference} are already marked received.")
    now = timezone.now()
    referral.records_received_at = now
    referral.save()
    _event(referral, kind=ReferralEvent.Kind.RECORDS_RECEIVED, actor=actor, note=note, at=now)
    return referral


# --- The read log ---------------------------------------------------------------------


def patient_data_access_record(*, user: User, referrals, view: str, ip_address: str | None) -> int:
    """Append one row per referral whose patient data this response shows.

    Called by every view that renders patient data (detail, lists, search
    results). Rows are never changed: the database refuses UPDATE and DELETE.
    """
    from referrals.models import PatientDataAccess

    now = timezone.now()
    rows = [
        PatientDataAccess(user=user, referral_id=r.pk, view=view, ip_address=ip_address, accessed_at=now)
        for r in referrals
    ]
    PatientDataAccess.objects.bulk_create(rows, batch_size=500)
    return len(rows)


# --- Credit: written inside the transition that earns it ----------------------------------
#
# Claims, releases and the rest earn nothing and run no credit query: only the
# moves below touch the ledger. The unique constraints on CreditEntry make a
# replayed move, a double click or a retried task credit once.

_REVERSING = frozenset({Action.DECLINE, Action.CANCEL, Action.ENTER_IN_ERROR})


def _credit_for_move(referral: Referral, action: Action, now) -> None:
    if action == Action.ACCEPT:
        _credit_award(referral.referrer_id, CreditRule.Code.REFERRAL_ACCEPTED, referral=referral, now=now)
    elif action == Action.DELIVER_OPINION:
        _credit_award(referral.referrer_id, CreditRule.Code.OPINION_DELIVERED, referral=referral, now=now)
        _credit_award(referral.reviewer_id, CreditRule.Code.REVIEW_DELIVERED, referral=referral, now=now)
    elif action == Action.CLOSE and referral.downstream_outcome == DownstreamOutcome.SCHEDULED_HERE:
        _credit_award(referral.referrer_id, CreditRule.Code.SCHEDULED_HERE, referral=referral, now=now)
    elif action in _REVERSING:
        _credit_reverse_referral(referral, action, now)


def _credit_rule(code: str) -> CreditRule:
    name, points, description = DEFAULT_CREDIT_RULES[CreditRule.Code(code)]
    # Migration 0004 seeds the rules; recreate one only if it went missing (a flushed test database).
    rule, _ = CreditRule.objects.get_or_create(
        code=code, defaults={"name": name, "points": points, "description": description}
    )
    return rule


def _credit_award(person_id, code, *, referral=None, course=None, now=None):
    """Append one entry unless this person already has it for this referral (or course) and rule."""
    if person_id is None:  # a referral from another channel has no staff referrer
        return None
    rule = _credit_rule(code)
    if not rule.is_active:
        return None
    if referral is not None and referral.referrer_id == person_id:
        department_id = referral.department_id
    else:
        department_id = Profile.objects.filter(user_id=person_id).values_list("department_id", flat=True).first()
    subject = referral.reference if referral is not None else (course.title if course is not None else "")
    entry = CreditEntry(
        person_id=person_id,
        department_id=department_id,
        rule=rule,
        referral=referral,
        course=course,
        points=rule.points,
        reason=f"{rule.name}: {subject}"[:200],
        created_at=now or timezone.now(),
    )
    if not _credit_append(entry):
        return None  # already credited: the constraint is the guarantee, not a prior read
    return entry


def _credit_append(entry: CreditEntry) -> bool:
    """Insert one ledger entry and add it to its month's rollup; False when the ledger refused a duplicate."""
    try:
        with transaction.atomic():  # a savepoint: a duplicate leaves the outer transaction usable
            entry.save(force_insert=True)
    except IntegrityError:
        return False
    rollups.credit_month_add(entry)
    from referrals.tasks import notify_credit_entry

    # The person hears of it once the transaction that earned (or reversed) it commits.
    notify_credit_entry.delay_on_commit(entry.pk)
    return True


def _credit_reverse_referral(referral: Referral, action: Action, now) -> int:
    """Compensating entries for everything this referral earned, for everyone, once each."""
    originals = CreditEntry.objects.filter(referral=referral, reverses__isnull=True, reversals__isnull=True)
    label = Action(action).label.lower()
    reversals = [
        CreditEntry(
            person_id=entry.person_id,
            department_id=entry.department_id,
            rule_id=entry.rule_id,
            referral_id=referral.pk,
            points=-entry.points,
            reverses=entry,
            reason=f"Reversed ({label}): {referral.reference}",
            created_at=now,
        )
        for entry in originals
    ]
    # One by one (a referral earns at most a few entries): a concurrent reversal of the same
    # entry is refused by one_reversal_per_credit_entry, and only what was written is rolled up.
    return sum(_credit_append(entry) for entry in reversals)


@transaction.atomic
def credit_award_course_completion(*, person: User, course_page, actor: User | None = None) -> CreditEntry | None:
    """Credit a completed course, exactly once per person and course.

    Called by the education app when a completion passes; returns the new
    entry, or None when this person was already credited for this course.
    """
    return _credit_award(person.pk, CreditRule.Code.COURSE_COMPLETED, course=course_page, now=timezone.now())
