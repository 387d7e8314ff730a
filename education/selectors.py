"""Reads about courses, progress and required training, each in a fixed number of queries.

Required training is worked out in bulk: assignments (few) are matched in
Python against every active person's roles and department (two queries), and
the latest completion of each (person, course) comes from one aggregate, so
the Learn page, the reminders and the dashboard figures cost the same number
of queries however many people and courses there are.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from dataclasses import dataclass, field

from dateutil.relativedelta import relativedelta
from django.db.models import Max, QuerySet
from django.utils import timezone

from education.models import CourseAssignment, CoursePage, CourseProgress, LessonPage, LessonView, QuizAttempt
from portal.models import Profile, User

# A completion that expires within this many days is shown (and reminded) as expiring.
EXPIRING_WITHIN_DAYS = 30


class TrainingState:
    OVERDUE = "overdue"
    DUE = "due"
    EXPIRING = "expiring"
    COMPLETE = "complete"


STATE_ORDER = {TrainingState.OVERDUE: 0, TrainingState.DUE: 1, TrainingState.EXPIRING: 2, TrainingState.COMPLETE: 3}


# --- Courses and lessons ------------------------------------------------------------------


def courses_under(index) -> QuerySet[CoursePage]:
    return CoursePage.objects.child_of(index).live().order_by("path")


def live_courses() -> QuerySet[CoursePage]:
    return CoursePage.objects.live().order_by("path")


def course_lessons(course: CoursePage) -> list[LessonPage]:
    """The course's published lessons in the editors' order (tree order)."""
    return list(LessonPage.objects.child_of(course).live().order_by("path").only("id", "title", "path", "url_path"))


def latest_progress(*, user: User, course: CoursePage) -> CourseProgress | None:
    return CourseProgress.objects.filter(user=user, course=course).order_by("-round").first()


def recertify_months_for(*, user: User, course: CoursePage) -> int | None:
    """The shortest recertification period of the assignments that require this course of this person."""
    requirement = _requirements(user_ids=[user.pk], course_ids=[course.pk]).get((user.pk, course.pk))
    return requirement.recertify_every_months if requirement else None


def valid_until(completed_at: datetime.datetime | None, months: int | None) -> datetime.date | None:
    if completed_at is None or not months:
        return None
    return timezone.localdate(completed_at) + relativedelta(months=months)


def is_expired(progress: CourseProgress | None, months: int | None, today: datetime.date | None = None) -> bool:
    """A passed round whose recertification date has come: the person takes the course again."""
    if progress is None or progress.status != CourseProgress.Status.PASSED:
        return False
    until = valid_until(progress.completed_at, months)
    return until is not None and until <= (today or timezone.localdate())


@dataclass
class QuizState:
    open: bool
    reason: str = ""
    attempts_left: int | None = None  # None: no limit


def quiz_state(course: CoursePage, progress: CourseProgress | None) -> QuizState:
    """Whether this person may take the quiz now, and why not."""
    if progress is None:
        return QuizState(open=True, attempts_left=course.max_attempts or None)
    if progress.status == CourseProgress.Status.PASSED:
        return QuizState(open=False, reason="You have completed this course.")
    if progress.status == CourseProgress.Status.FAILED:
        return QuizState(
            open=False,
            reason=f"You have used all {course.max_attempts} attempts at this quiz. "
            "The program office can open a new round for you.",
        )
    left = None
    if course.max_attempts:
        left = max(course.max_attempts - progress.attempts_used, 0)
        if left == 0:
            return QuizState(open=False, reason="You have used all your attempts at this quiz.", attempts_left=0)
    return QuizState(open=True, attempts_left=left)


@dataclass
class CourseOverview:
    course: CoursePage
    lessons: list[LessonPage]
    viewed_ids: set[int]
    progress: CourseProgress | None
    attempts: list[QuizAttempt]
    quiz: QuizState
    recertify_months: int | None = None
    valid_until: datetime.date | None = None

    @property
    def lessons_viewed(self) -> int:
        return sum(1 for lesson in self.lessons if lesson.pk in self.viewed_ids)

    @property
    def is_complete(self) -> bool:
        return self.progress is not None and self.progress.status == CourseProgress.Status.PASSED

    @property
    def first_unread(self) -> LessonPage | None:
        return next((lesson for lesson in self.lessons if lesson.pk not in self.viewed_ids), None)


def course_overview_for(*, user: User, course: CoursePage) -> CourseOverview:
    """The course page's view of one person: lessons with ticks, the current round, its attempts."""
    lessons = course_lessons(course)
    if not user.is_authenticated:  # an editor's preview
        return CourseOverview(course, lessons, set(), None, [], quiz_state(course, None))
    months = recertify_months_for(user=user, course=course)
    progress = latest_progress(user=user, course=course)
    until = valid_until(progress.completed_at, months) if progress else None
    if is_expired(progress, months):
        progress = None  # the next reading or attempt opens a new round
    viewed = (
        set(LessonView.objects.filter(progress=progress).values_list("lesson_id", flat=True)) if progress else set()
    )
    attempts = list(QuizAttempt.objects.filter(progress=progress).order_by("number")) if progress else []
    return CourseOverview(
        course=course,
        lessons=lessons,
        viewed_ids=viewed,
        progress=progress,
        attempts=attempts,
        quiz=quiz_state(course, progress),
        recertify_months=months,
        valid_until=until if progress else None,
    )


@dataclass
class LessonPlace:
    lessons: list[LessonPage]
    viewed_ids: set[int]
    position: int
    previous: LessonPage | None
    next: LessonPage | None

    @property
    def count(self) -> int:
        return len(self.lessons)


def lesson_place_for(*, user: User, course: CoursePage, lesson: LessonPage) -> LessonPlace:
    """Where a lesson sits in its course (lesson 2 of 4), its neighbours, and which lessons this person has read."""
    lessons = course_lessons(course)
    ids = [item.pk for item in lessons]
    index = ids.index(lesson.pk) if lesson.pk in ids else 0
    # The lesson was just recorded as read, so the latest round is the current one.
    progress = latest_progress(user=user, course=course) if user.is_authenticated else None
    viewed = (
        set(LessonView.objects.filter(progress=progress).values_list("lesson_id", flat=True)) if progress else set()
    )
    return LessonPlace(
        lessons=lessons,
        viewed_ids=viewed,
        position=index + 1,
        previous=lessons[index - 1] if index > 0 else None,
        next=lessons[index + 1] if index + 1 < len(lessons) else None,
    )


@dataclass
class CourseCard:
    course: CoursePage
    lesson_count: int
    lessons_viewed: int
    status: str  # a CourseProgress.Status value, or "" when not started
    open_to_user: bool


def course_cards_for(*, user: User, courses) -> list[CourseCard]:
    """Each course with this person's progress, in three queries for any number of courses."""
    courses = list(courses)
    by_path = {course.path: course for course in courses}
    step = CoursePage.steplen
    lesson_ids_by_course: dict[int, set[int]] = defaultdict(set)
    if courses:
        depths = {course.depth + 1 for course in courses}
        for lesson_id, path in LessonPage.objects.live().filter(depth__in=depths).values_list("id", "path"):
            course = by_path.get(path[:-step])
            if course is not None:
                lesson_ids_by_course[course.pk].add(lesson_id)
    latest: dict[int, CourseProgress] = {}
    for progress in CourseProgress.objects.filter(user=user, course__in=courses).order_by("course_id", "-round"):
        latest.setdefault(progress.course_id, progress)
    viewed: dict[int, set[int]] = defaultdict(set)
    progress_course = {progress.pk: course_id for course_id, progress in latest.items()}
    for progress_id, lesson_id in LessonView.objects.filter(progress_id__in=progress_course).values_list(
        "progress_id", "lesson_id"
    ):
        viewed[progress_course[progress_id]].add(lesson_id)
    return [
        CourseCard(
            course=course,
            lesson_count=len(lesson_ids_by_course[course.pk]),
            lessons_viewed=len(viewed[course.pk] & lesson_ids_by_course[course.pk]),
            status=latest[course.pk].status if course.pk in latest else "",
            open_to_user=course.is_open_to(user),
        )
        for course in courses
    ]


# --- Required training --------------------------------------------------------------------


@dataclass
class Requirement:
    course_id: int
    due_date: datetime.date
    recertify_every_months: int | None
    note: str = ""


def _requirements(
    *, user_ids: list[int] | None = None, course_ids: list[int] | None = None
) -> dict[tuple[int, int], Requirement]:
    """(person id, course id) → what is required, for every active person (or those given).

    Several assignments of one course to one person merge: the earliest due date
    and the shortest recertification period win.
    """
    assignments = CourseAssignment.objects.filter(course__live=True).prefetch_related("roles", "departments")
    if course_ids is not None:
        assignments = assignments.filter(course_id__in=course_ids)
    assignments = list(assignments)
    if not assignments:
        return {}
    profiles = Profile.objects.filter(user__is_active=True)
    memberships = User.groups.through.objects.filter(user__is_active=True)
    if user_ids is not None:
        profiles = profiles.filter(user_id__in=user_ids)
        memberships = memberships.filter(user_id__in=user_ids)
    department_of = dict(profiles.values_list("user_id", "department_id"))
    groups_of: dict[int, set[int]] = defaultdict(set)
    for user_id, group_id in memberships.values_list("user_id", "group_id"):
        groups_of[user_id].add(group_id)
    out: dict[tuple[int, int], Requirement] = {}
    for assignment in assignments:
        role_ids = {group.pk for group in assignment.roles.all()}
        department_ids = {department.pk for department in assignment.departments.all()}
        if not role_ids and not department_ids:
            continue
        for user_id, department_id in department_of.items():
            if role_ids and not groups_of[user_id] & role_ids:
                continue
            if department_ids and department_id not in department_ids:
                continue
            key = (user_id, assignment.course_id)
            known = out.get(key)
            if known is None:
                out[key] = Requirement(
                    assignment.course_id, assignment.due_date, assignment.recertify_every_months, assignment.note
                )
                continue
            known.due_date = min(known.due_date, assignment.due_date)
            months = [m for m in (known.recertify_every_months, assignment.recertify_every_months) if m]
            known.recertify_every_months = min(months) if months else None
    return out


@dataclass
class TrainingItem:
    user_id: int
    course_id: int
    state: str
    due_date: datetime.date  # the assignment's date, or the recertification date once a completion expired
    completed_at: datetime.datetime | None = None
    expires_on: datetime.date | None = None
    note: str = ""
    course: CoursePage | None = None

    @property
    def days_overdue(self) -> int:
        return max((timezone.localdate() - self.due_date).days, 0)


def _training_items(
    *, user_ids: list[int] | None = None, today: datetime.date | None = None
) -> dict[tuple[int, int], TrainingItem]:
    today = today or timezone.localdate()
    requirements = _requirements(user_ids=user_ids)
    if not requirements:
        return {}
    completions = CourseProgress.objects.filter(
        status=CourseProgress.Status.PASSED, course_id__in={course_id for _, course_id in requirements}
    )
    if user_ids is not None:
        completions = completions.filter(user_id__in=user_ids)
    last_completed = {
        (row["user_id"], row["course_id"]): row["last"]
        for row in completions.values("user_id", "course_id").annotate(last=Max("completed_at"))
    }
    items = {}
    for key, requirement in requirements.items():
        completed_at = last_completed.get(key)
        expires_on = valid_until(completed_at, requirement.recertify_every_months)
        item = TrainingItem(
            user_id=key[0],
            course_id=key[1],
            state=TrainingState.DUE,
            due_date=requirement.due_date,
            completed_at=completed_at,
            expires_on=expires_on,
            note=requirement.note,
        )
        if completed_at is not None and expires_on is None:
            item.state = TrainingState.COMPLETE
        elif completed_at is not None and expires_on > today:
            within = (expires_on - today).days <= EXPIRING_WITHIN_DAYS
            item.state = TrainingState.EXPIRING if within else TrainingState.COMPLETE
        else:
            if completed_at is not None:  # expired: the recertification date is the new due date
                item.due_date = expires_on
            item.state = TrainingState.OVERDUE if item.due_date < today else TrainingState.DUE
        items[key] = item
    return items


@dataclass
class TrainingStatus:
    """One person's required training, for the home page and the Learn page."""

    items: list[TrainingItem] = field(default_factory=list)

    def _in(self, state: str) -> list[TrainingItem]:
        return [item for item in self.items if item.state == state]

    @property
    def overdue(self) -> list[TrainingItem]:
        return self._in(TrainingState.OVERDUE)

    @property
    def due(self) -> list[TrainingItem]:
        return self._in(TrainingState.DUE)

    @property
    def expiring(self) -> list[TrainingItem]:
        return self._in(TrainingState.EXPIRING)

    @property
    def complete(self) -> list[TrainingItem]:
        return self._in(TrainingState.COMPLETE)

    @property
    def needs_attention(self) -> list[TrainingItem]:
        """Overdue, then due, then expiring: what the home page lists."""
        return [item for item in self.items if item.state != TrainingState.COMPLETE]


def training_status_for(user: User, today: datetime.date | None = None) -> TrainingStatus:
    """What this person must take: overdue, due and expiring items (and those complete), soonest first.

    Seven queries whatever the number of assignments and courses.
    """
    items = list(_training_items(user_ids=[user.pk], today=today).values())
    courses = {course.pk: course for course in CoursePage.objects.filter(pk__in=[i.course_id for i in items])}
    for item in items:
        item.course = courses[item.course_id]
    items.sort(key=lambda i: (STATE_ORDER[i.state], i.due_date, i.course.title))
    return TrainingStatus(items=items)


def training_items_for_everyone(today: datetime.date | None = None) -> list[TrainingItem]:
    """Every active person's required training (for reminders and reports)."""
    return list(_training_items(today=today).values())


@dataclass
class OverdueRow:
    person: User
    department: str
    course: CoursePage
    due_date: datetime.date
    days_overdue: int
    failed: bool = False  # their latest round ran out of quiz attempts


def overdue_people(today: datetime.date | None = None) -> list[OverdueRow]:
    """Who is overdue with which course, longest overdue first (for coordinators and leadership)."""
    today = today or timezone.localdate()
    overdue = [item for item in _training_items(today=today).values() if item.state == TrainingState.OVERDUE]
    people = {
        person.pk: person
        for person in User.objects.filter(pk__in={item.user_id for item in overdue}).select_related(
            "profile__department"
        )
    }
    courses = {course.pk: course for course in CoursePage.objects.filter(pk__in={item.course_id for item in overdue})}
    latest_status = {}
    for user_id, course_id, status in (
        CourseProgress.objects.filter(user_id__in=people, course_id__in=courses)
        .order_by("round")
        .values_list("user_id", "course_id", "status")
    ):
        latest_status[(user_id, course_id)] = status
    rows = [
        OverdueRow(
            person=people[item.user_id],
            department=_department_name(people[item.user_id]),
            course=courses[item.course_id],
            due_date=item.due_date,
            days_overdue=(today - item.due_date).days,
            failed=latest_status.get((item.user_id, item.course_id)) == CourseProgress.Status.FAILED,
        )
        for item in overdue
    ]
    rows.sort(key=lambda row: (-row.days_overdue, row.department, str(row.person)))
    return rows


def _department_name(person: User) -> str:
    profile = getattr(person, "profile", None)
    return profile.department.name if profile is not None and profile.department is not None else "No department"


@dataclass
class DepartmentCompletion:
    department_id: int | None
    department: str
    required: int  # (person, course) pairs required in the department
    complete: int  # of which currently complete (including those about to expire)
    overdue: int

    @property
    def rate(self) -> float:
        """Percentage complete, to one decimal place."""
        return round(100 * self.complete / self.required, 1) if self.required else 0.0


def completion_rates_by_department(
    *, today: datetime.date | None = None, course_id: int | None = None
) -> list[DepartmentCompletion]:
    """Required-training completion per department, by department name, for the dashboard.

    Counts (person, course) requirements: a person with two required courses counts twice.
    Aggregates only: no names.
    """
    items = [item for item in _training_items(today=today).values() if course_id is None or item.course_id == course_id]
    department_of = dict(
        Profile.objects.filter(user_id__in={item.user_id for item in items}).values_list("user_id", "department_id")
    )
    names = dict(
        Profile.objects.filter(department__isnull=False).values_list("department_id", "department__name").distinct()
    )
    rows: dict[int | None, DepartmentCompletion] = {}
    for item in items:
        department_id = department_of.get(item.user_id)
        row = rows.setdefault(
            department_id,
            DepartmentCompletion(department_id, names.get(department_id, "No department"), 0, 0, 0),
        )
        row.required += 1
        row.complete += item.state in (TrainingState.COMPLETE, TrainingState.EXPIRING)
        row.overdue += item.state == TrainingState.OVERDUE
    return sorted(rows.values(), key=lambda row: (row.department_id is None, row.department))


def page_has_training_records(page) -> bool:
    """Whether deleting this page (a course, or the index above courses) would lose someone's training record."""
    courses = CoursePage.objects.descendant_of(page, inclusive=True)
    return CourseProgress.objects.filter(course__in=courses).exists()
