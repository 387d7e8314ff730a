"""The only writers of education records: lesson views, quiz attempts, completion, reminders.

Every function locks the person's row first, so one person's double click,
two tabs or a retried request are handled one after another and cannot count
twice. Attempts are append-only rows; a course's record changes state at most
once from "in progress" to "passed" or "failed".
"""

from __future__ import annotations

import datetime
import logging
import uuid
from collections import defaultdict

from django.db import transaction
from django.utils import timezone

from education import selectors
from education.models import CountingAttempt, CoursePage, CourseProgress, LessonPage, LessonView, QuizAttempt
from education.selectors import TrainingState
from portal import services as portal_services
from portal.models import User
from portal.notification_kinds import NotificationKind
from portal.roles import Role
from referrals import services as referral_services

logger = logging.getLogger(__name__)

# The "before" reminder goes out this many days ahead of the due date.
REMIND_DAYS_BEFORE = 7


class QuizError(Exception):
    """A quiz submission the server will not record; the message is shown to the person."""

    status = 400


class QuizClosed(QuizError):
    status = 409


class QuizNotForYou(QuizError):
    status = 403


class QuizAnswersMismatch(QuizError):
    """Answers that name questions or choices of some other quiz."""


class EducationError(Exception):
    """A request about someone's course record that cannot be done."""


def _lock_person(user: User) -> None:
    # Serialises one person's education writes (PostgreSQL; SQLite serialises all writes anyway).
    User.objects.select_for_update().filter(pk=user.pk).values_list("pk", flat=True).first()


def _current_progress(*, user: User, course: CoursePage, now: datetime.datetime) -> CourseProgress:
    """The person's current round of the course, opening the first one or a recertification round."""
    latest = CourseProgress.objects.filter(user=user, course=course).order_by("-round").first()
    if latest is not None:
        months = selectors.recertify_months_for(user=user, course=course)
        if not selectors.is_expired(latest, months, timezone.localdate(now)):
            return latest
    return CourseProgress.objects.create(
        user=user, course=course, round=(latest.round + 1) if latest else 1, started_at=now
    )


@transaction.atomic
def lesson_view_record(*, actor: User, lesson: LessonPage, course: CoursePage | None = None) -> bool:
    """Record that the person read the lesson, once per round; return whether this was the first time."""
    course = course or CoursePage.objects.get(pk=lesson.get_parent().pk)
    now = timezone.now()
    _lock_person(actor)
    progress = _current_progress(user=actor, course=course, now=now)
    _, created = LessonView.objects.get_or_create(progress=progress, lesson=lesson, defaults={"viewed_at": now})
    if created:
        _complete_if_done(progress=progress, course=course, now=now)
    return created


def grade(questions, answers: dict[str, list[str]]) -> dict[str, bool]:
    """Question id → answered right: exactly the right choices, no more, no fewer."""
    return {question.id: set(answers.get(question.id, [])) == question.correct_ids for question in questions}


def _check_answers(questions, answers: dict[str, list[str]]) -> None:
    by_id = {question.id: question for question in questions}
    if set(answers) - set(by_id):
        raise QuizAnswersMismatch("These answers are for questions that are not in this quiz. Nothing was recorded.")
    for question in questions:
        chosen = answers.get(question.id) or []
        if not chosen:
            raise QuizError(f"Question {question.number} has no answer. Nothing was recorded.")
        if set(chosen) - {choice.id for choice in question.choices}:
            raise QuizAnswersMismatch(
                f"Question {question.number} was answered with a choice it does not have. Nothing was recorded."
            )
        if not question.multiple and len(set(chosen)) > 1:
            raise QuizError(f"Question {question.number} takes one answer. Nothing was recorded.")


@transaction.atomic
def quiz_attempt_submit(
    *, actor: User, course: CoursePage, answers: dict[str, list[str]], submission_token: uuid.UUID
) -> tuple[QuizAttempt, bool]:
    """Grade a submitted quiz on the server and record the attempt; returns (attempt, created).

    The same submission token again returns the attempt it recorded (a double
    submit is one attempt). Refused, with nothing recorded: a course for another
    role, a closed quiz (complete, or no attempts left), answers that do not fit.
    """
    if not course.is_open_to(actor):
        raise QuizNotForYou(f"This course is for the {Role(course.audience_role).label} role only.")
    now = timezone.now()
    _lock_person(actor)
    progress = _current_progress(user=actor, course=course, now=now)
    repeated = QuizAttempt.objects.filter(progress=progress, submission_token=submission_token).first()
    if repeated is not None:
        return repeated, False
    state = selectors.quiz_state(course, progress)
    if not state.open:
        raise QuizClosed(f"{state.reason} Nothing was recorded.")
    questions = course.quiz_questions()
    _check_answers(questions, answers)
    results = grade(questions, answers)
    correct = sum(results.values())
    score = round(100 * correct / len(questions))
    attempt = QuizAttempt.objects.create(
        progress=progress,
        number=progress.attempts_used + 1,
        submission_token=submission_token,
        answers={question.id: sorted(set(answers[question.id])) for question in questions},
        results=results,
        question_count=len(questions),
        correct_count=correct,
        score=score,
        passed=score >= course.pass_mark,
        submitted_at=now,
    )
    _progress_after_attempt(progress=progress, course=course, now=now)
    logger.info(
        "quiz attempt recorded",
        extra={"course_id": course.pk, "progress_id": progress.pk, "attempt": attempt.number, "passed": attempt.passed},
    )
    return attempt, True


def _progress_after_attempt(*, progress: CourseProgress, course: CoursePage, now: datetime.datetime) -> None:
    """Apply the course's attempt policy: which attempt counts, and failing once the attempts are used up."""
    attempts = list(progress.attempts.order_by("number"))
    if course.counting_attempt == CountingAttempt.LAST:
        counting = attempts[-1]
    else:
        counting = max(attempts, key=lambda a: (a.passed, a.score, -a.number))
    progress.attempts_used = len(attempts)
    progress.score = counting.score
    progress.quiz_passed = counting.passed
    fields = ["attempts_used", "score", "quiz_passed"]
    if not progress.quiz_passed and course.max_attempts and progress.attempts_used >= course.max_attempts:
        progress.status = CourseProgress.Status.FAILED
        progress.failed_at = now
        fields += ["status", "failed_at"]
    progress.save(update_fields=fields)
    _complete_if_done(progress=progress, course=course, now=now)


def _complete_if_done(*, progress: CourseProgress, course: CoursePage, now: datetime.datetime) -> None:
    """Every lesson read and the quiz passed: the round is complete, exactly once."""
    if progress.status != CourseProgress.Status.IN_PROGRESS or not progress.quiz_passed:
        return
    lesson_ids = {lesson.pk for lesson in selectors.course_lessons(course)}
    viewed = set(progress.lesson_views.values_list("lesson_id", flat=True))
    if not lesson_ids <= viewed:
        return
    progress.status = CourseProgress.Status.PASSED
    progress.completed_at = now
    progress.save(update_fields=["status", "completed_at"])
    logger.info("course complete", extra={"course_id": course.pk, "progress_id": progress.pk})
    completion_credit_award(progress=progress)


def completion_credit_award(*, progress: CourseProgress) -> None:
    """Completing a course earns its credit; runs exactly once per completed round.

    It is called inside the completing transaction, right after the round turned
    "passed" under the person's row lock. The ledger's own constraint (one entry
    per person, course and rule) makes a recertification round earn nothing more.
    """
    referral_services.credit_award_course_completion(person=progress.user, course_page=progress.course)


@transaction.atomic
def course_progress_reopen(*, actor: User, person: User, course: CoursePage) -> CourseProgress:
    """A coordinator gives someone who failed (no attempts left) a fresh round of the course."""
    if not actor.has_role(Role.COORDINATOR):
        raise EducationError("Only the program office can open a new round.")
    _lock_person(person)
    latest = CourseProgress.objects.filter(user=person, course=course).order_by("-round").first()
    if latest is None or latest.status != CourseProgress.Status.FAILED:
        raise EducationError("Only a failed course can be opened again.")
    return CourseProgress.objects.create(user=person, course=course, round=latest.round + 1, started_at=timezone.now())


def training_reminders_send(*, today: datetime.date | None = None) -> int:
    """Remind people of required training: a week before the due date, once it is overdue, and before it expires.

    Each reminder is one notification event per (course, date, stage), so a
    second run the same day (or a retried task) notifies nobody twice.
    Returns the number of notifications created.
    """
    today = today or timezone.localdate()
    groups: dict[tuple[int, datetime.date, str], list[int]] = defaultdict(list)
    for item in selectors.training_items_for_everyone(today=today):
        if item.state == TrainingState.DUE and (item.due_date - today).days <= REMIND_DAYS_BEFORE:
            groups[(item.course_id, item.due_date, "before")].append(item.user_id)
        elif item.state == TrainingState.OVERDUE:
            groups[(item.course_id, item.due_date, "after")].append(item.user_id)
        elif item.state == TrainingState.EXPIRING:
            groups[(item.course_id, item.expires_on, "expiring")].append(item.user_id)
    courses = {course.pk: course for course in CoursePage.objects.filter(pk__in={key[0] for key in groups})}
    created = 0
    for (course_id, date, stage), user_ids in sorted(groups.items()):
        course = courses[course_id]
        when = f"{date.day} {date:%b %Y}"
        verb = {
            "before": f"Required training due {when}: {course.title}",
            "after": f"Required training overdue since {when}: {course.title}",
            "expiring": f"Your training expires {when}: take {course.title} again",
        }[stage]
        created += portal_services.notification_send(
            kind=NotificationKind.TRAINING_DUE,
            event_key=f"training:{course_id}:{date.isoformat()}:{stage}",
            recipient_ids=user_ids,
            verb=verb,
            link=course.url or "",
        )
    logger.info("training reminders sent", extra={"count": created})
    return created
