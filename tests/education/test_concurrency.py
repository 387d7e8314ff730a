"""Races on PostgreSQL: one person's quiz submitted from many tabs at once.

Real threads with committed data; each thread connects before the barrier
releases them together (the helper of tests/referrals/test_concurrency.py).
"""

from __future__ import annotations

import uuid

import pytest

from education import services
from education.demo import quiz_stream
from education.models import CourseProgress, QuizAttempt
from portal.roles import Role
from tests.cms.conftest import publish_child
from tests.e2e.conftest import wagtail_site  # noqa: F401 (fixture)
from tests.education.conftest import QUIZ, Answers, add_lesson, read_all
from tests.referrals.test_concurrency import _all_at_once

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

TABS = 8


@pytest.fixture
def racing_course(wagtail_site):  # noqa: F811
    from cms.models import HomePage
    from education.models import CourseIndexPage, CoursePage

    index = publish_child(HomePage.objects.get(), CourseIndexPage(title="Courses", slug="courses"))
    course = publish_child(
        index, CoursePage(title="Race course", summary="Races.", questions=quiz_stream(QUIZ), max_attempts=3)
    )
    add_lesson(course, "The only lesson")
    return course


def _submit(user, course, answers, token):
    return lambda: services.quiz_attempt_submit(actor=user, course=course, answers=answers, submission_token=token)


def test_one_form_submitted_from_many_tabs_at_once_is_one_attempt(make_user, racing_course):
    person = make_user(Role.CLINICIAN)
    token = uuid.uuid4()
    wrong = Answers(racing_course).wrong()

    outcomes = _all_at_once([_submit(person, racing_course, wrong, token) for _ in range(TABS)])

    assert [exc for _, exc in outcomes] == [None] * TABS
    assert QuizAttempt.objects.count() == 1
    assert sum(created for (_, created), _ in outcomes) == 1
    assert CourseProgress.objects.get().attempts_used == 1


def test_many_attempts_at_once_never_exceed_the_limit(make_user, racing_course):
    person = make_user(Role.CLINICIAN)
    wrong = Answers(racing_course).wrong()

    outcomes = _all_at_once([_submit(person, racing_course, wrong, uuid.uuid4()) for _ in range(TABS)])

    refused = [exc for _, exc in outcomes if exc is not None]
    assert len(refused) == TABS - 3 and all(isinstance(exc, services.QuizClosed) for exc in refused)
    assert sorted(QuizAttempt.objects.values_list("number", flat=True)) == [1, 2, 3]
    assert CourseProgress.objects.get().status == CourseProgress.Status.FAILED


def test_passing_from_many_tabs_at_once_completes_once_and_calls_the_credit_hook_once(
    make_user, racing_course, monkeypatch
):
    person = make_user(Role.CLINICIAN)
    read_all(person, racing_course)
    calls = []
    monkeypatch.setattr(services, "completion_credit_award", lambda *, progress: calls.append(progress.pk))
    right = Answers(racing_course).right()

    _all_at_once([_submit(person, racing_course, right, uuid.uuid4()) for _ in range(TABS)])

    assert QuizAttempt.objects.count() == 1
    assert CourseProgress.objects.get().status == CourseProgress.Status.PASSED
    assert len(calls) == 1
