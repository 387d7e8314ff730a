"""The referral screens: refer, my referrals, the review queue, my cases, the coordinator board, the detail page.

Views read through ``referrals.selectors`` and write only through
``referrals.services``. Patient data rules hold on every view here:

- a response that shows a referral's patient name, MRN, date of birth or phone
  appends one ``PatientDataAccess`` row per referral it shows;
- every response is ``Cache-Control: no-store`` (``never_cache``);
- a person without a patient-data role (leadership only) gets 403 on lists
  and 404 on a referral, and a referral someone may not see is a 404 (its
  existence is not revealed);
- URLs, messages and notifications name the reference, never the patient.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from allauth.core.internal.httpkit import get_client_ip
from django.contrib import messages
from django.core.exceptions import ImproperlyConfigured, PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from portal.roles import Role
from referrals import forms as referral_forms
from referrals import selectors, services
from referrals.filters import BoardFilter
from referrals.models import Channel, DownstreamOutcome, HoldReason, RecordsLocation, Referral, ReferralEvent, Urgency
from referrals.permissions import capacities_of
from referrals.selectors import Visibility, visibility_of
from referrals.services import ReferralError
from referrals.workflow import OPEN, Action, Capacity, Status, TransitionNotAllowed, allowed_actions, check

PAGE_SIZE = 25


# --- Helpers ------------------------------------------------------------------------------


def _client_ip(request) -> str | None:
    try:
        return get_client_ip(request)
    except ImproperlyConfigured:  # a proxy count that does not match must not lose the read from the log
        return request.META.get("REMOTE_ADDR")


def _log_patient_data_access(request, referrals) -> None:
    """One append-only row per referral whose patient data this response shows."""
    referrals = list(referrals)
    if referrals:
        services.patient_data_access_record(
            user=request.user,
            referrals=referrals,
            view=request.resolver_match.url_name,
            ip_address=_client_ip(request),
        )


def _require_patient_data_role(user) -> None:
    if not user.can_see_patient_data:
        raise PermissionDenied


def _require_coordinator(user) -> None:
    if not user.has_role(Role.COORDINATOR):
        raise PermissionDenied


def _page(request, queryset):
    return Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))


def _reviewer_name(user) -> str:
    return user.get_full_name() or user.email


def next_step(referral: Referral) -> str:
    """A plain-language line for the referrer: what happens next (or what happened)."""
    status = referral.status
    if status == Status.SUBMITTED:
        text = (
            "The program office triages urgent referrals the same business day."
            if referral.urgency == Urgency.URGENT
            else "The program office triages it within 2 business days."
        )
    elif status == Status.ACCEPTED:
        text = f"Waiting for a reviewer in {referral.specialty.name} to claim it."
    elif status == Status.CLAIMED:
        text = f"Dr {_reviewer_name(referral.reviewer)} is reviewing; the review starts when the records are complete."
    elif status == Status.IN_REVIEW:
        text = f"Dr {_reviewer_name(referral.reviewer)} is reviewing."
    elif status == Status.OPINION_DELIVERED:
        text = "Read the opinion; the office will close the loop."
    elif status == Status.CLOSED:
        outcome = DownstreamOutcome(referral.downstream_outcome).label if referral.downstream_outcome else ""
        text = f"Closed. Outcome: {outcome.lower()}." if outcome else "Closed."
    elif status == Status.DECLINED:
        text = "The program office declined it; the reason is on the referral."
    elif status == Status.CANCELLED:
        text = "Cancelled; nothing more will happen on it."
    else:
        text = "Marked as entered in error (a duplicate or a mistake); it counts nowhere."
    if status in OPEN and referral.info_requested_at:
        text = f"A question for you is waiting: answer it on the referral. {text}"
    if status in OPEN and referral.hold_reason:
        text = f"{text} On hold: {HoldReason(referral.hold_reason).label.lower()}."
    return text


# Short labels for the status badge in tables (the detail page shows the full label).
STATUS_SHORT = {
    Status.SUBMITTED: "Submitted",
    Status.ACCEPTED: "In the queue",
    Status.CLAIMED: "Claimed",
    Status.IN_REVIEW: "In review",
    Status.OPINION_DELIVERED: "Opinion delivered",
    Status.CLOSED: "Closed",
    Status.DECLINED: "Declined",
    Status.CANCELLED: "Cancelled",
    Status.ENTERED_IN_ERROR: "Entered in error",
}


def _decorate_rows(rows, now) -> None:
    """What a table row shows beyond the fields: short status, flags, the next step."""
    for referral in rows:
        referral.status_short = STATUS_SHORT[Status(referral.status)]
        referral.breached = _is_breached(referral, now)
        referral.records_outstanding = _records_outstanding(referral)


def _is_breached(referral: Referral, now) -> bool:
    return bool(
        referral.status in OPEN
        and referral.clock_due_at
        and referral.clock_paused_at is None
        and referral.clock_due_at < now
    )


def _records_outstanding(referral: Referral) -> bool:
    return referral.records_location == RecordsLocation.OUTSIDE and referral.records_received_at is None


# --- Refer --------------------------------------------------------------------------------


def _form_context(request, form, *, other_channel: bool) -> dict:
    profile = getattr(request.user, "profile", None)
    return {
        "form": form,
        "other_channel": other_channel,
        "referrer_name": request.user.get_full_name() or request.user.email,
        "department": profile.department if profile else None,
    }


def _redirect_to_existing(request, existing) -> object:
    messages.info(request, f"This referral was already sent as {existing.reference}: here it is.")
    return redirect("referral_detail", reference=existing.reference)


def _own_earlier_submission(request, token_value: str):
    """The referral this person's earlier submission of the same form created, if any."""
    try:
        token = referral_forms.ReferralForm.base_fields["submission_token"].clean(token_value)
    except ValidationError:
        return None
    if not token:
        return None
    existing = selectors.referral_by_submission_token(token)
    if existing is not None and existing.created_by_id == request.user.pk:
        return existing
    return None


@never_cache
@require_http_methods(["GET", "POST"])
def referral_create(request):
    """One short form; a deep link prefills it; a double submit creates one referral."""
    _require_patient_data_role(request.user)
    if request.method == "POST":
        form = referral_forms.ReferralForm(request.POST, user=request.user)
        if not form.is_valid():
            # A resubmit of a form already sent goes to its referral even if it
            # no longer validates; a valid resubmit is caught by the service.
            existing = _own_earlier_submission(request, request.POST.get("submission_token"))
            if existing is not None:
                return _redirect_to_existing(request, existing)
        else:
            try:
                referral, created = services.referral_create(
                    actor=request.user, data=form.referral_data(), submission_token=form.submission_token_value()
                )
            except ReferralError as exc:
                form.add_error(None, str(exc))
            else:
                if not created:
                    return _redirect_to_existing(request, referral)
                messages.success(request, f"Referral {referral.reference} sent. {next_step(referral)}")
                return redirect("referral_detail", reference=referral.reference)
    else:
        form = referral_forms.ReferralForm(initial=referral_forms.deep_link_initial(request.GET), user=request.user)
    return render(request, "referrals/referral_form.html", _form_context(request, form, other_channel=False))


@never_cache
@require_http_methods(["GET", "POST"])
def referral_log_other_channel(request):
    """A coordinator logs a referral that came through a concierge partner, the public web or another way."""
    _require_coordinator(request.user)
    if request.method == "POST":
        form = referral_forms.OtherChannelReferralForm(request.POST, user=request.user)
        if not form.is_valid():
            existing = _own_earlier_submission(request, request.POST.get("submission_token"))
            if existing is not None:
                return _redirect_to_existing(request, existing)
        else:
            try:
                referral, created = services.referral_create(
                    actor=request.user,
                    data=form.referral_data(),
                    submission_token=form.submission_token_value(),
                    channel=form.cleaned_data["channel"],
                    channel_partner=form.cleaned_data["channel_partner"].strip(),
                    referrer=form.cleaned_data["referrer_email"],
                )
            except ReferralError as exc:
                form.add_error(None, str(exc))
            else:
                if not created:
                    return _redirect_to_existing(request, referral)
                messages.success(request, f"Referral {referral.reference} logged ({Channel(referral.channel).label}).")
                return redirect("referral_detail", reference=referral.reference)
    else:
        form = referral_forms.OtherChannelReferralForm(
            initial=referral_forms.deep_link_initial(request.GET), user=request.user
        )
    return render(request, "referrals/referral_form.html", _form_context(request, form, other_channel=True))


# --- Lists --------------------------------------------------------------------------------


@never_cache
@require_http_methods(["GET"])
def my_referrals(request):
    """Every referral I made, any channel, any state, with what happens next."""
    _require_patient_data_role(request.user)
    page = _page(request, selectors.referrals_made_by(user=request.user))
    rows = list(page.object_list)
    _decorate_rows(rows, timezone.now())
    for referral in rows:
        referral.next_step = next_step(referral)
    _log_patient_data_access(request, rows)
    return render(request, "referrals/my_referrals.html", {"page_obj": page, "referrals": rows})


@never_cache
@require_http_methods(["GET"])
def review_queue(request):
    """Open cases in my specialties: enough to decide whether to claim, no patient identity."""
    user = request.user
    if not user.has_role(Role.REVIEWER):
        if user.has_role(Role.COORDINATOR):
            return redirect(f"{reverse('coordinator_board')}?status={Status.ACCEPTED}")
        raise PermissionDenied
    page = _page(request, selectors.review_queue_for(user=user))
    return render(
        request,
        "referrals/review_queue.html",
        {"page_obj": page, "referrals": list(page.object_list), "has_specialties": bool(user.review_specialty_ids)},
    )


@never_cache
@require_http_methods(["GET"])
def my_cases(request):
    """The cases I own (claimed, in review), with the patient's name."""
    _require_patient_data_role(request.user)
    page = _page(request, selectors.cases_of(user=request.user))
    rows = list(page.object_list)
    _decorate_rows(rows, timezone.now())
    _log_patient_data_access(request, rows)
    return render(request, "referrals/my_cases.html", {"page_obj": page, "referrals": rows})


@never_cache
@require_http_methods(["GET", "POST"])
def coordinator_board(request):
    """Every referral, filterable; search by reference or exact MRN is posted (no MRN in the URL)."""
    _require_coordinator(request.user)
    board = BoardFilter(request.GET or None, queryset=selectors.board())
    queryset = board.qs if board.is_bound and board.is_valid() else selectors.board()
    term = (request.POST.get("q") if request.method == "POST" else request.GET.get("q")) or ""
    term = term.strip()[:60]
    if term:
        queryset = queryset.filter(selectors.search_filter(term))
    page = _page(request, queryset) if not term else Paginator(queryset, PAGE_SIZE).get_page(1)
    rows = list(page.object_list)
    _decorate_rows(rows, timezone.now())
    _log_patient_data_access(request, rows)
    return render(
        request,
        "referrals/coordinator_board.html",
        {
            "filter": board,
            "page_obj": page,
            "referrals": rows,
            "term": term,
            "filtered": bool(board.is_bound and any(v for k, v in request.GET.items() if k != "page")),
        },
    )


# --- Detail and actions ---------------------------------------------------------------------


@dataclass(frozen=True)
class ActionSpec:
    slug: str
    label: str
    form_class: type
    run: Callable
    success: str
    move: Action | None = None  # a move of the transition table; None for flags and notes
    style: str = "outline-secondary"
    one_click: bool = False  # a button, no fields to fill in
    form_kwargs: dict = field(default_factory=dict)


F = referral_forms


def _reason_form(verb: str):
    return {"action_label": verb}


ACTIONS: dict[str, ActionSpec] = {
    spec.slug: spec
    for spec in [
        ActionSpec(
            "accept",
            "Accept",
            F.EmptyActionForm,
            lambda r, actor, d: services.referral_accept(referral_id=r.pk, actor=actor),
            "{ref} accepted: it is open in the {specialty} review queue.",
            move=Action.ACCEPT,
            style="primary",
            one_click=True,
        ),
        ActionSpec(
            "claim",
            "Claim this case",
            F.EmptyActionForm,
            lambda r, actor, d: services.referral_claim(referral_id=r.pk, actor=actor),
            "You claimed {ref}. It is in your cases.",
            move=Action.CLAIM,
            style="primary",
            one_click=True,
        ),
        ActionSpec(
            "assign",
            "Assign to a reviewer",
            F.AssignForm,
            lambda r, actor, d: services.referral_assign(
                referral_id=r.pk, actor=actor, reviewer=d["reviewer"], note=d.get("note", "")
            ),
            "{ref} assigned to a reviewer.",
            move=Action.ASSIGN,
            style="primary",
        ),
        ActionSpec(
            "start-review",
            "Start review",
            F.EmptyActionForm,
            lambda r, actor, d: services.referral_start_review(referral_id=r.pk, actor=actor),
            "Review of {ref} started.",
            move=Action.START_REVIEW,
            style="primary",
            one_click=True,
        ),
        ActionSpec(
            "deliver-opinion",
            "Deliver the opinion",
            F.OpinionForm,
            lambda r, actor, d: services.referral_deliver_opinion(referral_id=r.pk, actor=actor, opinion=d),
            "The opinion on {ref} is delivered to the referrer.",
            move=Action.DELIVER_OPINION,
            style="primary",
        ),
        ActionSpec(
            "close",
            "Close the case",
            F.CloseForm,
            lambda r, actor, d: services.referral_close(
                referral_id=r.pk, actor=actor, outcome={k: v for k, v in d.items() if v not in ("", None)}
            ),
            "{ref} closed.",
            move=Action.CLOSE,
            style="primary",
        ),
        ActionSpec(
            "request-info",
            "Ask the referrer a question",
            F.RequestInfoForm,
            lambda r, actor, d: services.referral_request_info(referral_id=r.pk, actor=actor, question=d["question"]),
            "Your question on {ref} was sent to the referrer.",
        ),
        ActionSpec(
            "answer-info",
            "Answer the question",
            F.AnswerInfoForm,
            lambda r, actor, d: services.referral_answer_info(referral_id=r.pk, actor=actor, answer=d["answer"]),
            "Your answer on {ref} was sent.",
            style="primary",
        ),
        ActionSpec(
            "request-records",
            "Request outside records",
            F.EmptyActionForm,
            lambda r, actor, d: services.referral_request_records(referral_id=r.pk, actor=actor),
            "Records requested for {ref}.",
            one_click=True,
        ),
        ActionSpec(
            "receive-records",
            "Mark records received",
            F.EmptyActionForm,
            lambda r, actor, d: services.referral_receive_records(referral_id=r.pk, actor=actor),
            "Records for {ref} marked received.",
            one_click=True,
        ),
        ActionSpec(
            "hold",
            "Put on hold",
            F.HoldForm,
            lambda r, actor, d: services.referral_hold(
                referral_id=r.pk, actor=actor, reason=d["reason"], note=d.get("note", "")
            ),
            "{ref} is on hold.",
        ),
        ActionSpec(
            "clear-hold",
            "Clear the hold",
            F.EmptyActionForm,
            lambda r, actor, d: services.referral_clear_hold(referral_id=r.pk, actor=actor),
            "The hold on {ref} is cleared.",
            one_click=True,
        ),
        ActionSpec(
            "note",
            "Add a note",
            F.NoteForm,
            lambda r, actor, d: services.referral_add_note(referral_id=r.pk, actor=actor, body=d["body"]),
            "Note added to {ref}.",
        ),
        ActionSpec(
            "reassign",
            "Reassign",
            F.ReassignForm,
            lambda r, actor, d: services.referral_reassign(
                referral_id=r.pk, actor=actor, reviewer=d["reviewer"], reason=d["reason"]
            ),
            "{ref} reassigned.",
            move=Action.REASSIGN,
        ),
        ActionSpec(
            "release",
            "Release back to the queue",
            F.ReasonForm,
            lambda r, actor, d: services.referral_release(referral_id=r.pk, actor=actor, reason=d["reason"]),
            "{ref} released back to the queue.",
            move=Action.RELEASE,
            form_kwargs=_reason_form("release"),
        ),
        ActionSpec(
            "decline",
            "Decline",
            F.ReasonForm,
            lambda r, actor, d: services.referral_decline(referral_id=r.pk, actor=actor, reason=d["reason"]),
            "{ref} declined. The referrer is told.",
            move=Action.DECLINE,
            style="outline-danger",
            form_kwargs=_reason_form("decline"),
        ),
        ActionSpec(
            "cancel",
            "Cancel the referral",
            F.ReasonForm,
            lambda r, actor, d: services.referral_cancel(referral_id=r.pk, actor=actor, reason=d["reason"]),
            "{ref} cancelled.",
            move=Action.CANCEL,
            style="outline-danger",
            form_kwargs=_reason_form("cancel"),
        ),
        ActionSpec(
            "enter-in-error",
            "Mark entered in error",
            F.ReasonForm,
            lambda r, actor, d: services.referral_enter_in_error(referral_id=r.pk, actor=actor, reason=d["reason"]),
            "{ref} marked entered in error.",
            move=Action.ENTER_IN_ERROR,
            style="outline-danger",
            form_kwargs=_reason_form("mark it entered in error"),
        ),
    ]
}
# The slug of each move of the transition table (an action URL accepts either spelling).
SLUG_OF_MOVE = {spec.move: spec.slug for spec in ACTIONS.values() if spec.move is not None}


def _flag_slugs(referral: Referral, capacities: set[Capacity]) -> list[str]:
    """Flags and notes this person may set now (the services check the same rules)."""
    staff = bool(capacities & {Capacity.COORDINATOR, Capacity.OWNER})
    slugs = []
    if referral.status in OPEN:
        if staff and referral.info_requested_at is None:
            slugs.append("request-info")
        if referral.info_requested_at and capacities & {Capacity.REFERRER, Capacity.COORDINATOR}:
            slugs.append("answer-info")
        if Capacity.COORDINATOR in capacities and not _records_outstanding(referral):
            slugs.append("request-records")
        if staff and _records_outstanding(referral):
            slugs.append("receive-records")
        if staff:
            slugs.append("clear-hold" if referral.hold_reason else "hold")
    if capacities & {Capacity.REFERRER, Capacity.COORDINATOR, Capacity.OWNER}:
        slugs.append("note")
    return slugs


def available_action_slugs(referral: Referral, capacities: set[Capacity]) -> list[str]:
    """Every action this person may take on this referral now, in the order the page shows them."""
    moves = allowed_actions(Status(referral.status), capacities)
    slugs = {SLUG_OF_MOVE[m] for m in moves}
    if "start-review" in slugs and not referral.records_complete:
        slugs.discard("start-review")  # the page says review starts when the records arrive
    slugs.update(_flag_slugs(referral, capacities))
    return [slug for slug in ACTIONS if slug in slugs]


def _action_form(spec: ActionSpec, referral: Referral, data=None):
    return spec.form_class(data, referral=referral, auto_id=f"{spec.slug}-%s", **spec.form_kwargs)


def _referral_visible_or_404(request, reference: str, *, select=selectors.referral_for_detail):
    """The referral, how this person stands towards it and what they may see; 404 if nothing."""
    if not request.user.can_see_patient_data:
        raise Http404("No such referral")
    referral = select(reference.strip().upper())
    if referral is None:
        raise Http404("No such referral")
    capacities = capacities_of(request.user, referral)
    visibility = visibility_of(request.user, referral, capacities)
    return referral, capacities, visibility


def _render_detail(request, referral, capacities, visibility, *, bound: tuple[str, object] | None = None, status=200):
    full = visibility == Visibility.FULL
    referral.breached = _is_breached(referral, timezone.now())
    referral.records_outstanding = _records_outstanding(referral)
    actions = []
    slugs = available_action_slugs(referral, capacities)
    if bound and bound[0] not in slugs:
        slugs.append(bound[0])  # the refused form stays on the page, next to its error
    for slug in slugs:
        spec = ACTIONS[slug]
        form = bound[1] if bound and bound[0] == slug else _action_form(spec, referral)
        actions.append({"spec": spec, "form": form, "open": bool(bound and bound[0] == slug)})
    context = {
        "referral": referral,
        "full": full,
        "actions": actions,
        "primary_actions": [a for a in actions if a["spec"].style == "primary"],
        "other_actions": [a for a in actions if a["spec"].style != "primary"],
        "capacities": capacities,
        "is_referrer": Capacity.REFERRER in capacities,
        "next_step": next_step(referral),
        "breached": referral.breached,
        "awaiting_records_to_start": (
            referral.status == Status.CLAIMED
            and not referral.records_complete
            and bool(capacities & {Capacity.OWNER, Capacity.COORDINATOR})
        ),
    }
    if full:
        events = list(selectors.timeline_of(referral))
        named = selectors.people_by_ids(
            value
            for event in events
            for key, value in event.detail.items()
            if key in ("reviewer", "from_reviewer", "asked_by")
        )
        for event in events:
            event.reviewer_named = named.get(event.detail.get("reviewer"))
            event.from_reviewer_named = named.get(event.detail.get("from_reviewer"))
            reason = event.detail.get("reason")
            event.hold_label = HoldReason(reason).label if reason in HoldReason.values else ""
        context["events"] = events
        context["open_question"] = (
            next((e for e in reversed(events) if e.kind == ReferralEvent.Kind.INFO_REQUESTED), None)
            if referral.info_requested_at
            else None
        )
        _log_patient_data_access(request, [referral])
    return render(request, "referrals/referral_detail.html", context, status=status)


@never_cache
@require_http_methods(["GET"])
def referral_detail(request, reference: str):
    """What this person may see of one referral, and the moves they may make now."""
    referral, capacities, visibility = _referral_visible_or_404(request, reference)
    if visibility == Visibility.NONE:
        raise Http404("No such referral")
    return _render_detail(request, referral, capacities, visibility)


def _conflict(request, referral: Referral, message: str, *, already_claimed: bool = False):
    """409: the move is not allowed from the referral's state; nothing changed."""
    can_see = visibility_of(request.user, referral) != Visibility.NONE
    return render(
        request,
        "referrals/conflict.html",
        {"referral": referral, "message": message, "already_claimed": already_claimed, "can_see": can_see},
        status=409,
    )


def _claim_conflict(request, referral: Referral, exc: TransitionNotAllowed | None = None):
    message = str(exc or TransitionNotAllowed(Action.CLAIM, Status(referral.status)))
    already = Status(referral.status) in (Status.CLAIMED, Status.IN_REVIEW) or (
        exc is not None and exc.status in (Status.CLAIMED, Status.IN_REVIEW)
    )
    return _conflict(request, referral, message, already_claimed=already)


class _ClaimRefused(Exception):
    """Raised on the locked row to refuse a claim (rolls the claim's transaction back); answered after it."""

    def __init__(self, referral: Referral, *, already_mine: bool = False, conflict: TransitionNotAllowed | None = None):
        super().__init__(referral.reference)
        self.referral = referral
        self.already_mine = already_mine
        self.conflict = conflict


def _claim(request, spec: ActionSpec, reference: str):
    """Claim in one locked read: the same answers as any action, decided on the row the claim locks.

    Who may see and claim is decided inside the claim's transaction on its
    SELECT … FOR UPDATE, so the queue's busiest write reads the referral once;
    every refusal is answered after the rollback, without holding the lock.
    """
    user = request.user
    if not user.can_see_patient_data:
        raise Http404("No such referral")

    def authorize(referral: Referral, capacities: set[Capacity]) -> None:
        claimed = referral.status in (Status.CLAIMED, Status.IN_REVIEW)
        if claimed and referral.reviewer_id == user.pk:
            raise _ClaimRefused(referral, already_mine=True)
        if claimed and Capacity.SPECIALTY_REVIEWER in capacities:
            # Another reviewer was quicker: say so, without showing more of the case.
            raise _ClaimRefused(referral)
        if visibility_of(user, referral, capacities) == Visibility.NONE:
            raise Http404("No such referral")
        try:
            check(Action.CLAIM, Status(referral.status), capacities)
        except TransitionNotAllowed as exc:
            raise _ClaimRefused(referral, conflict=exc) from exc
        # A claim posts no fields (its form is the EmptyActionForm): nothing else to validate.

    try:
        referral = services.referral_claim(actor=user, reference=reference.strip().upper(), authorize=authorize)
    except Referral.DoesNotExist as exc:
        raise Http404("No such referral") from exc
    except _ClaimRefused as refused:
        if refused.already_mine:
            messages.info(request, f"You have already claimed {refused.referral.reference}.")
            return redirect("referral_detail", reference=refused.referral.reference)
        if refused.conflict is not None:
            return _conflict(request, refused.referral, str(refused.conflict))
        return _claim_conflict(request, refused.referral)
    messages.success(request, spec.success.format(ref=referral.reference))
    return redirect("referral_detail", reference=referral.reference)


@never_cache
@require_POST
def referral_action(request, reference: str, action: str):
    """One move or flag, posted from the detail page (or the queue's Claim button)."""
    spec = ACTIONS.get(action.replace("_", "-"))
    if spec is None:
        raise Http404("No such action")
    if spec.move == Action.CLAIM:
        return _claim(request, spec, reference)
    referral, capacities, visibility = _referral_visible_or_404(
        request, reference, select=selectors.referral_for_action
    )
    user = request.user
    if visibility == Visibility.NONE:
        raise Http404("No such referral")

    if spec.move is not None:
        try:
            check(spec.move, Status(referral.status), capacities)
        except TransitionNotAllowed as exc:
            return _conflict(request, referral, str(exc))
    elif spec.slug not in _flag_slugs(referral, capacities):
        return _conflict(
            request,
            referral,
            f"Cannot {spec.label.lower()} on a referral that is {Status(referral.status).label.lower()}"
            " with the roles you hold now.",
        )

    form = _action_form(spec, referral, request.POST)
    if not form.is_valid():
        return _render_detail(
            request,
            selectors.referral_for_detail(referral.reference),
            capacities,
            visibility,
            bound=(spec.slug, form),
            status=400,
        )
    try:
        spec.run(referral, user, form.cleaned_data)
    except TransitionNotAllowed as exc:
        return _conflict(request, referral, str(exc))
    except ReferralError as exc:
        form.add_error(None, str(exc))
        return _render_detail(
            request,
            selectors.referral_for_detail(referral.reference),
            capacities,
            visibility,
            bound=(spec.slug, form),
            status=400,
        )
    messages.success(request, spec.success.format(ref=referral.reference, specialty=referral.specialty.name))
    return redirect("referral_detail", reference=referral.reference)
