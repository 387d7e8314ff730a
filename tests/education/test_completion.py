"""Completion: lessons read once, the quiz passed or failed, complete when both, credit's hook exactly once."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from education import services
from education.models import CourseProgress, LessonView
from portal.models import Notification
from portal.notification_kinds import NotificationKind
from portal.roles import Role
from referrals.metrics import credit_total
from referrals.models import CreditEntry, CreditRule
from tests.education.conftest import Answers, assign, lessons_of, read_all, take_quiz

pytestmark = pytest.mark.django_db


@pytest.fixture
def credit_calls(monkeypatch):
    """Counts calls of the one place the credit ledger will be called from."""
    calls = []
    monkeypatch.setattr(services, "completion_credit_award", lambda *, progress: calls.append(progress.pk))
    return calls


def _pass(user, course):
    return take_quiz(user, course, Answers(course).right())


def test_reading_a_lesson_twice_records_one_view(clinician, course):
    lesson = lessons_of(course)[0]

    first = services.lesson_view_record(actor=clinician, lesson=lesson)
    again = services.lesson_view_record(actor=clinician, lesson=lesson)

    assert (first, again) == (True, False)
    assert LessonView.objects.count() == 1
    assert CourseProgress.objects.count() == 1


def test_reading_every_lesson_without_the_quiz_is_not_complete(clinician, course):
    read_all(clinician, course)

    assert CourseProgress.objects.get().status == CourseProgress.Status.IN_PROGRESS


def test_passing_the_quiz_before_reading_every_lesson_is_not_complete(clinician, course):
    first, second, _third = lessons_of(course)
    services.lesson_view_record(actor=clinician, lesson=first)
    services.lesson_view_record(actor=clinician, lesson=second)
    _pass(clinician, course)

    progress = CourseProgress.objects.get()
    assert progress.quiz_passed and progress.status == CourseProgress.Status.IN_PROGRESS


def test_reading_the_last_lesson_after_passing_completes_the_course(clinician, course):
    *rest, last = lessons_of(course)
    for lesson in rest:
        services.lesson_view_record(actor=clinician, lesson=lesson)
    _pass(clinician, course)

    services.lesson_view_record(actor=clinician, lesson=last)

    progress = CourseProgress.objects.get()
    assert progress.status == CourseProgress.Status.PASSED and progress.completed_at is not None
    assert progress.score == 100


def test_passing_the_quiz_after_reading_completes_the_course(clinician, course):
    read_all(clinician, course)

    _pass(clinician, course)

    assert CourseProgress.objects.get().status == CourseProgress.Status.PASSED


def test_completion_calls_the_credit_hook_exactly_once(clinician, course, credit_calls):
    read_all(clinician, course)
    _pass(clinician, course)
    read_all(clinician, course)  # reading again afterwards
    with pytest.raises(services.QuizClosed):
        _pass(clinician, course)  # and a stale tab submitting again

    assert credit_calls == [CourseProgress.objects.get().pk]


def test_a_failed_course_calls_no_credit_hook(clinician, make_course, credit_calls):
    course = make_course(max_attempts=1)
    read_all(clinician, course)
    take_quiz(clinician, course, Answers(course).wrong())

    assert CourseProgress.objects.get().status == CourseProgress.Status.FAILED
    assert credit_calls == []


def test_the_course_page_says_complete_once_done(client, signed_in_clinician, clinician, course):
    read_all(clinician, course)
    _pass(clinician, course)

    html = client.get(course.url).content.decode()

    assert "Course complete." in html and "You passed with 100%" in html


def test_a_coordinator_opens_a_new_round_for_someone_who_failed(make_user, make_course):
    coordinator = make_user(Role.COORDINATOR)
    person = make_user(Role.CLINICIAN)
    course = make_course(max_attempts=1)
    take_quiz(person, course, Answers(course).wrong())

    fresh = services.course_progress_reopen(actor=coordinator, person=person, course=course)

    assert (fresh.round, fresh.status) == (2, CourseProgress.Status.IN_PROGRESS)
    attempt, _ = _pass(person, course)
    assert attempt.progress_id == fresh.pk and attempt.number == 1
    assert CourseProgress.objects.get(round=1).status == CourseProgress.Status.FAILED  # the record stays


def test_only_a_coordinator_may_open_a_new_round(make_user, make_course):
    person = make_user(Role.CLINICIAN)
    course = make_course(max_attempts=1)
    take_quiz(person, course, Answers(course).wrong())

    with pytest.raises(services.EducationError):
        services.course_progress_reopen(actor=person, person=person, course=course)
    assert CourseProgress.objects.count() == 1


def test_a_course_in_progress_cannot_be_reopened(make_user, course, clinician):
    coordinator = make_user(Role.COORDINATOR)
    services.lesson_view_record(actor=clinician, lesson=lessons_of(course)[0])

    with pytest.raises(services.EducationError, match="Only a failed course"):
        services.course_progress_reopen(actor=coordinator, person=clinician, course=course)


def test_an_expired_completion_opens_a_new_round_when_read_again(clinician, course):
    assign(course, roles=[Role.CLINICIAN], due_date=datetime.date(2030, 1, 1), recertify_every_months=12)
    read_all(clinician, course)
    _pass(clinician, course)
    CourseProgress.objects.update(completed_at=timezone.now() - datetime.timedelta(days=400))

    services.lesson_view_record(actor=clinician, lesson=lessons_of(course)[0])

    rounds = list(CourseProgress.objects.order_by("round").values_list("round", "status"))
    assert rounds == [(1, CourseProgress.Status.PASSED), (2, CourseProgress.Status.IN_PROGRESS)]


def test_a_completion_still_valid_keeps_its_round(clinician, course):
    assign(course, roles=[Role.CLINICIAN], due_date=datetime.date(2030, 1, 1), recertify_every_months=12)
    read_all(clinician, course)
    _pass(clinician, course)
    CourseProgress.objects.update(completed_at=timezone.now() - datetime.timedelta(days=200))

    services.lesson_view_record(actor=clinician, lesson=lessons_of(course)[0])

    assert CourseProgress.objects.count() == 1


# --- Credit in the ledger -----------------------------------------------------------------


def _course_credit(person, course) -> list[tuple[str, int]]:
    return list(CreditEntry.objects.filter(person=person, course_id=course.pk).values_list("rule__code", "points"))


def test_completing_a_course_earns_its_credit_once(clinician, course):
    read_all(clinician, course)
    _pass(clinician, course)
    read_all(clinician, course)

    assert _course_credit(clinician, course) == [(CreditRule.Code.COURSE_COMPLETED, 1)]
    assert credit_total(user=clinician) == 1


def test_completing_a_course_tells_the_person_of_the_credit_once(clinician, course, django_capture_on_commit_callbacks):
    read_all(clinician, course)
    with django_capture_on_commit_callbacks(execute=True):
        _pass(clinician, course)
    with django_capture_on_commit_callbacks(execute=True):
        read_all(clinician, course)  # nothing new earned: nothing new told

    notices = Notification.objects.filter(recipient=clinician, kind=NotificationKind.CREDIT_EARNED)
    assert [n.verb for n in notices] == [f"You earned 1 point of credit: Course completed: {course.title}"]


def test_a_course_not_yet_complete_earns_nothing(clinician, course):
    _pass(clinician, course)  # quiz passed, lessons unread

    assert _course_credit(clinician, course) == []


def test_a_recertification_round_does_not_earn_the_course_credit_again(clinician, course):
    assign(course, roles=[Role.CLINICIAN], due_date=datetime.date(2030, 1, 1), recertify_every_months=12)
    read_all(clinician, course)
    _pass(clinician, course)
    CourseProgress.objects.update(completed_at=timezone.now() - datetime.timedelta(days=400))

    read_all(clinician, course)  # opens and reads the second round
    _pass(clinician, course)

    assert CourseProgress.objects.filter(status=CourseProgress.Status.PASSED).count() == 2
    assert _course_credit(clinician, course) == [(CreditRule.Code.COURSE_COMPLETED, 1)]
