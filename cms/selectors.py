"""Reads for intranet pages: specialty pages, their reviewers and live figures, stale pages.

Figures are aggregates over referrals; nothing here reads a patient field.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import timedelta

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

FIGURES_WINDOW_DAYS = 90
# Enough delivered opinions for a stable median; bounds the rows read per page view.
TURNAROUND_SAMPLE_LIMIT = 500


@dataclass(frozen=True)
class SpecialtyFigures:
    open_cases: int
    delivered_count: int  # opinions in the sample behind the median
    median_business_days: float | None
    window_days: int = FIGURES_WINDOW_DAYS


def specialty_pages_under(index_page) -> QuerySet:
    from cms.models import SpecialtyPage

    return (
        SpecialtyPage.objects.child_of(index_page)
        .live()
        .select_related("specialty")
        .only("id", "title", "url_path", "path", "depth", "summary", "specialty__name", "specialty__slug")
        .order_by("title")
    )


def specialty_reviewers(specialty_id: int) -> list:
    """Active reviewers of a specialty: names and job titles only."""
    from referrals.selectors import reviewers_of

    return list(
        reviewers_of(specialty_id)
        .select_related("profile")
        .only("id", "first_name", "last_name", "email", "profile__id", "profile__title")
    )


def specialty_figures(specialty_id: int) -> SpecialtyFigures:
    """Open cases in the queue and the median review-start → opinion turnaround, in business days.

    Two queries on the referral table (a count and a bounded list of two
    timestamps) and, when there are opinions, one for holidays.
    """
    from referrals.clocks import holidays_between, is_business_day
    from referrals.models import Referral
    from referrals.workflow import Status

    now = timezone.now()
    open_cases = Referral.objects.filter(specialty_id=specialty_id).aggregate(
        n=Count("id", filter=Q(status=Status.ACCEPTED))
    )["n"]
    spans = list(
        Referral.objects.filter(
            specialty_id=specialty_id,
            opinion_delivered_at__gte=now - timedelta(days=FIGURES_WINDOW_DAYS),
            review_started_at__isnull=False,
        )
        .order_by("-opinion_delivered_at")
        .values_list("review_started_at", "opinion_delivered_at")[:TURNAROUND_SAMPLE_LIMIT]
    )
    if not spans:
        return SpecialtyFigures(open_cases=open_cases, delivered_count=0, median_business_days=None)

    days = [(timezone.localtime(start).date(), timezone.localtime(end).date()) for start, end in spans]
    first = min(start for start, _ in days) + timedelta(days=1)
    last = max(end for _, end in days)
    holidays = holidays_between(first, last) if last >= first else set()

    def business_days(start, end) -> int:
        # Same rule as referrals.clocks.business_days_between, with the holidays read once.
        span = (end - start).days
        return sum(1 for n in range(1, span + 1) if is_business_day(start + timedelta(days=n), holidays))

    median = statistics.median(business_days(start, end) for start, end in days)
    return SpecialtyFigures(open_cases=open_cases, delivered_count=len(days), median_business_days=median)


def specialties_matching(query: str) -> list:
    """Active specialties whose name contains the words searched for, with their page if any."""
    from portal.models import Specialty

    query = query.strip()
    if not query:
        return []
    return list(
        Specialty.objects.filter(is_active=True, name__icontains=query).select_related("page").order_by("name")[:10]
    )


def stale_pages(pages: QuerySet) -> QuerySet:
    """Of ``pages``, those whose review-by date has passed, oldest first, with that date annotated."""
    from django.db.models.functions import Coalesce

    today = timezone.localdate()
    return (
        pages.filter(Q(standardpage__review_by__lt=today) | Q(specialtypage__review_by__lt=today))
        .annotate(review_by=Coalesce("standardpage__review_by", "specialtypage__review_by"))
        .order_by("review_by", "title")
    )


# --- Program updates ---------------------------------------------------------------
#
# Audience rule: an update is for everyone, or for the people who match every
# kind of choice made on it: in one of its departments (when departments are
# chosen) and holding one of its roles (when roles are chosen). "Oncology" +
# "Reviewer" therefore means the oncology reviewers, not everyone in either.


def can_manage_updates(user) -> bool:
    """Editors and leadership see every update and its reach, whatever its audience."""
    from portal.roles import UPDATE_MANAGER_ROLES

    return user.is_superuser or bool(user.role_names & UPDATE_MANAGER_ROLES)


def _department_id(user) -> int | None:
    profile = getattr(user, "profile", None)
    return profile.department_id if profile is not None else None


def audience_q(user) -> Q:
    """The program updates whose audience includes ``user``, as a filter on ProgramUpdatePage."""
    from django.db.models import Exists, OuterRef

    from cms.models import ProgramUpdatePage

    departments = ProgramUpdatePage.audience_departments.through.objects.filter(programupdatepage_id=OuterRef("pk"))
    roles = ProgramUpdatePage.audience_roles.through.objects.filter(programupdatepage_id=OuterRef("pk"))
    department_id = _department_id(user)
    any_department, any_role = Exists(departments), Exists(roles)
    my_department = Exists(departments.filter(department_id=department_id)) if department_id else None
    # role_names is read once per request already; joining on the group name saves a query.
    my_role = Exists(roles.filter(group__name__in=user.role_names))
    department_ok = ~Q(any_department) | (Q(my_department) if my_department is not None else Q(pk__in=[]))
    return Q(audience_everyone=True) | ((Q(any_department) | Q(any_role)) & department_ok & (~Q(any_role) | Q(my_role)))


def updates_for(*, user, under=None, current_only: bool = False) -> QuerySet:
    """Live program updates for this person's audience, newest first."""
    from cms.models import ProgramUpdatePage

    qs = ProgramUpdatePage.objects.live().filter(audience_q(user))
    if under is not None:
        qs = qs.child_of(under)
    if current_only:
        qs = qs.filter(Q(expires_on__isnull=True) | Q(expires_on__gte=timezone.localdate()))
    return qs.only(
        "id",
        "title",
        "url_path",
        "path",
        "depth",
        "summary",
        "first_published_at",
        "requires_acknowledgement",
        "critical",
        "expires_on",
    ).order_by("-first_published_at", "-id")


def update_is_for(*, user, update) -> bool:
    from cms.models import ProgramUpdatePage

    return ProgramUpdatePage.objects.filter(pk=update.pk).filter(audience_q(user)).exists()


def visible_update_ids(*, user) -> list[int]:
    return list(updates_for(user=user).values_list("id", flat=True))


def hidden_update_ids(*, user) -> list[int]:
    """Program updates this person is not in the audience of (for excluding them from search)."""
    from cms.models import ProgramUpdatePage

    return list(ProgramUpdatePage.objects.exclude(audience_q(user)).values_list("id", flat=True))


def with_acknowledged_by(updates: QuerySet, *, user) -> QuerySet:
    """Mark each update ``acknowledged_by_me``: in the updates' own query, so the count never depends on which ask."""
    from django.db.models import Exists, OuterRef

    from cms.models import UpdateReceipt

    return updates.annotate(
        acknowledged_by_me=Exists(
            UpdateReceipt.objects.filter(update_id=OuterRef("pk"), user_id=user.pk, acknowledged_at__isnull=False)
        )
    )


def acknowledged_update_ids(*, user, update_ids) -> set[int]:
    from cms.models import UpdateReceipt

    if not update_ids:
        return set()
    return set(
        UpdateReceipt.objects.filter(user=user, update_id__in=update_ids, acknowledged_at__isnull=False).values_list(
            "update_id", flat=True
        )
    )


def audience_of(update) -> QuerySet:
    """The active people an update is for (evaluated now: someone who joined a department since is included)."""
    from django.db.models import Exists, OuterRef

    from portal.models import User

    people = User.objects.filter(is_active=True)
    if update.audience_everyone:
        return people
    department_ids = [d.pk for d in update.audience_departments.all()]
    group_ids = [g.pk for g in update.audience_roles.all()]
    if not department_ids and not group_ids:
        return people.none()
    if department_ids:
        people = people.filter(profile__department_id__in=department_ids)
    if group_ids:
        people = people.filter(
            Exists(User.groups.through.objects.filter(user_id=OuterRef("pk"), group_id__in=group_ids))
        )
    return people


def audience_label(update) -> str:
    if update.audience_everyone:
        return "Everyone"
    parts = []
    departments = [d.name for d in update.audience_departments.all()]
    roles = [g.name for g in update.audience_roles.all()]
    if departments:
        parts.append(", ".join(departments))
    if roles:
        parts.append(", ".join(roles))
    return " — ".join(parts) if parts else "Nobody yet"


@dataclass(frozen=True)
class ReachRow:
    department: str
    audience: int
    opened: int
    acknowledged: int

    @staticmethod
    def _percent(part: int, whole: int) -> float:
        return round(100 * part / whole, 1) if whole else 0.0

    @property
    def opened_percent(self) -> float:
        return self._percent(self.opened, self.audience)

    @property
    def acknowledged_percent(self) -> float:
        return self._percent(self.acknowledged, self.audience)


@dataclass(frozen=True)
class Reach:
    rows: list[ReachRow]
    total: ReachRow


def update_reach(*, update) -> Reach:
    """Share of the audience who opened and who acknowledged the update, by department (one query)."""
    from django.db.models import Exists, OuterRef

    from cms.models import UpdateReceipt

    receipts = UpdateReceipt.objects.filter(update_id=update.pk, user_id=OuterRef("pk"))
    grouped = (
        audience_of(update)
        .order_by()
        .values("profile__department__name")
        .annotate(
            audience=Count("id"),
            opened=Count("id", filter=Q(Exists(receipts))),
            acknowledged=Count("id", filter=Q(Exists(receipts.filter(acknowledged_at__isnull=False)))),
        )
        .order_by("profile__department__name")
    )
    rows = [
        ReachRow(
            department=row["profile__department__name"] or "No department",
            audience=row["audience"],
            opened=row["opened"],
            acknowledged=row["acknowledged"],
        )
        for row in grouped
    ]
    total = ReachRow(
        department="All departments",
        audience=sum(r.audience for r in rows),
        opened=sum(r.opened for r in rows),
        acknowledged=sum(r.acknowledged for r in rows),
    )
    return Reach(rows=rows, total=total)


# --- Home page -------------------------------------------------------------------------

HOME_LEADERBOARD_LIMIT = 5
HOME_UPDATES_LIMIT = 5


@dataclass(frozen=True)
class StepCount:
    status: str
    label: str
    count: int


def my_referrals_by_step(*, user) -> list[StepCount]:
    """How many of this person's referrals are at each step, in workflow order (one query; counts only)."""
    from referrals.selectors import referrals_made_by
    from referrals.workflow import Status

    counts = dict(
        referrals_made_by(user=user).order_by().values_list("status").annotate(n=Count("id")).values_list("status", "n")
    )
    return [StepCount(status=s.value, label=s.label, count=counts[s.value]) for s in Status if counts.get(s.value)]


@dataclass(frozen=True)
class SpecialtyOpenCases:
    specialty: str
    count: int


def open_cases_in_my_specialties(*, user) -> list[SpecialtyOpenCases]:
    """Open cases waiting in each of this reviewer's specialties (one query; counts only)."""
    from referrals.selectors import review_queue_for

    rows = (
        review_queue_for(user=user)
        .order_by()
        .values("specialty__name")
        .annotate(n=Count("id"))
        .order_by("specialty__name")
    )
    return [SpecialtyOpenCases(specialty=row["specialty__name"], count=row["n"]) for row in rows]


@dataclass(frozen=True)
class HomeBlocks:
    """What the signed-in person's home page shows; a block is None when their roles do not allow it.

    ``credit`` (my points and rank this month), ``training_due`` (required
    courses) and ``leaderboard`` (the month's leading departments) come from
    the referrals and education apps' selectors.
    """

    can_refer: bool
    referrals_by_step: list[StepCount] | None
    open_cases: list[SpecialtyOpenCases] | None
    updates: list
    acknowledged_update_ids: set[int]
    credit: object | None = None
    training_due: object | None = None
    leaderboard: object | None = None
    show_credit: bool = False


def home_blocks_for(*, user) -> HomeBlocks:
    from education.selectors import training_status_for
    from portal.roles import Role
    from referrals import metrics
    from referrals.selectors import credit_summary_for

    # Referring needs a patient-data role (the referral form refuses anyone else).
    can_refer = user.can_see_patient_data
    updates = list(with_acknowledged_by(updates_for(user=user, current_only=True), user=user)[:HOME_UPDATES_LIMIT])
    return HomeBlocks(
        credit=credit_summary_for(user=user, period="month") if can_refer else None,
        training_due=training_status_for(user),
        leaderboard=metrics.department_standings(since=metrics.period_start("month"))[:HOME_LEADERBOARD_LIMIT],
        can_refer=can_refer,
        referrals_by_step=my_referrals_by_step(user=user) if can_refer else None,
        open_cases=open_cases_in_my_specialties(user=user) if user.has_role(Role.REVIEWER) else None,
        updates=updates,
        acknowledged_update_ids={u.pk for u in updates if u.requires_acknowledgement and u.acknowledged_by_me},
        # Credit is earned by referring and reviewing.
        show_credit=can_refer,
    )


# --- Publishing a program update to its audience ---------------------------------------
#
# Leadership publishes an update from a confirmation page (cms.views.UpdatePublishView);
# the request only queues cms.tasks.update_publish, and the worker publishes
# (cms.services.update_publish_revision). The same refusal rule decides whether the
# button shows, whether the request may queue and whether the worker may publish.


def update_publish_permission_refusal(*, user, page) -> str | None:
    """Why ``user`` may not publish this program update at all (Wagtail's publish permission); None when they may."""
    if not page.permissions_for_user(user).can_publish():
        return (
            "You do not have permission to publish this update. Leadership publishes program updates; "
            "editors submit them for approval."
        )
    return None


def update_publish_refusal(*, user, page) -> str | None:
    """Why ``user`` may not publish this program update now, in a sentence; None when they may.

    Wagtail's own rules: publish permission on the page, no lock held by someone
    else (nor a scheduled publish), and, when a moderation workflow is in progress,
    being one of the approvers of its current (and final) step, since publishing
    approves it. The confirmation page, the button and the worker ask this; the
    publish request itself asks only the permission (the worker asks the rest
    under the page's lock a moment later, and tells the person if it stops them).
    """
    from django.utils.html import strip_tags

    refusal = update_publish_permission_refusal(user=user, page=page)
    if refusal:
        return refusal
    # The workflow first: its lock's own message is about editing, this one about approving.
    state = page.current_workflow_state
    if state is not None and state.status == state.STATUS_IN_PROGRESS and state.current_task_state_id:
        task = page.current_workflow_task
        if task is not None and not any(name == "approve" for name, *_ in task.get_actions(page, user)):
            return f"This update is waiting for “{task.name}”, and you are not one of its approvers."
        if not state.is_at_final_task:
            return (
                f"This update still has approval steps after “{task.name}”: approve it in the editor; "
                "it can be published at the last step."
            )
    lock = page.get_lock()
    if lock is not None and lock.for_user(user):
        return strip_tags(str(lock.get_message(user))) or "This update is locked by someone else."
    return None


def user_display_name(user) -> str:
    if user is None:
        return "someone no longer on the staff list"
    return user.get_full_name().strip() or user.email


@dataclass(frozen=True)
class UpdatePublishPreview:
    """What the publish confirmation page shows: the version that goes live, who wrote it, who it reaches."""

    update: object  # the ProgramUpdatePage as stored
    draft: object  # the same page with the content of the revision that goes live
    revision: object | None  # that revision (the page's latest)
    edited_by: str
    editors_since_live: list[str]
    revisions_since_live: int
    audience: int  # people the update is for
    to_notify: int  # of them, those who have not had its notification yet
    departments: list[str]
    roles: list[str]
    workflow_state: object | None
    workflow_task_name: str
    workflow_requested_by: str

    @property
    def everyone(self) -> bool:
        return bool(self.draft.audience_everyone)

    @property
    def is_first_publish(self) -> bool:
        return not self.update.live and self.update.first_published_at is None


def update_publish_preview(*, page) -> UpdatePublishPreview:
    """The confirmation page's figures in a fixed number of queries, whatever the audience's size."""
    from django.db.models import Exists, OuterRef
    from wagtail.models import Revision

    from portal.models import Notification

    revision = Revision.objects.select_related("user").filter(pk=page.latest_revision_id).first()
    # The audience of the version that goes live, which may differ from the live one.
    draft = page.with_content_json(revision.content) if revision is not None else page
    people = audience_of(draft)
    audience = people.count()
    notified = Notification.objects.filter(event_key=page.event_key, recipient_id=OuterRef("pk"))
    to_notify = people.exclude(Exists(notified)).count()
    since_live = Revision.objects.for_instance(page)
    if page.live_revision_id:
        since_live = since_live.filter(pk__gt=page.live_revision_id)
    revisions_since_live = since_live.count()
    editors: dict[int, str] = {}
    # Newest first, bounded: a long-edited update lists its latest fifty revisions' authors.
    for user_id, first, last, email in (
        since_live.exclude(user=None)
        .order_by("-created_at")
        .values_list("user_id", "user__first_name", "user__last_name", "user__email")[:50]
    ):
        editors.setdefault(user_id, f"{first} {last}".strip() or email)
    state = page.current_workflow_state
    task = page.current_workflow_task if state is not None else None
    return UpdatePublishPreview(
        update=page,
        draft=draft,
        revision=revision,
        edited_by=user_display_name(revision.user) if revision is not None else "",
        editors_since_live=list(editors.values()),
        revisions_since_live=revisions_since_live,
        audience=audience,
        to_notify=to_notify,
        departments=sorted(d.name for d in draft.audience_departments.all()),
        roles=sorted(g.name for g in draft.audience_roles.all()),
        workflow_state=state,
        workflow_task_name=task.name if task is not None else "",
        workflow_requested_by=user_display_name(state.requested_by) if state is not None else "",
    )
