"""The demo courses: seeded once, each with lessons and a quiz, one required of clinicians, in real prose."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from education.demo import COURSES, seed_demo_courses
from portal.demo import seed_demo_home_page, seed_demo_people
from portal.roles import Role
from tests.education.conftest import take_quiz

pytestmark = pytest.mark.django_db

TITLES = [
    "Second opinions in our strategy",
    "Referring a patient in one click",
    "Equity, self-pay and financial assistance",
    "Claiming cases, turnaround and writing a useful opinion",
]


@pytest.fixture
def seeded():
    seed_demo_people()
    seed_demo_home_page()
    return seed_demo_courses()


def test_seeding_creates_the_four_courses_with_lessons_and_quizzes(seeded):
    from education.models import CourseIndexPage, CoursePage, LessonPage

    index = CourseIndexPage.objects.get()
    courses = list(CoursePage.objects.child_of(index).live().order_by("path"))

    assert [c.title for c in courses] == TITLES
    for course in courses:
        assert LessonPage.objects.child_of(course).live().count() == 3, course.title
        questions = course.quiz_questions()
        assert len(questions) == 4, course.title
        assert all(q.correct_ids and len(q.correct_ids) < len(q.choices) for q in questions), course.title
    assert seeded == 1 + 4 + 4 * 3


def test_the_reviewer_course_is_for_reviewers(seeded):
    from education.models import CoursePage

    audiences = dict(CoursePage.objects.values_list("title", "audience_role"))

    assert audiences[TITLES[3]] == Role.REVIEWER
    assert {audiences[t] for t in TITLES[:3]} == {""}


def test_a_course_is_required_of_clinicians_with_a_due_date(seeded, make_user):
    from education.selectors import training_status_for

    status = training_status_for(make_user(Role.CLINICIAN))

    assert "Second opinions in our strategy" in [item.course.title for item in status.due]
    assert all(item.due_date for item in status.due)


def test_running_the_seed_twice_creates_nothing_new(seeded):
    from wagtail.models import Page, Revision

    from education.models import CourseAssignment

    counts = (Page.objects.count(), Revision.objects.count(), CourseAssignment.objects.count())

    assert seed_demo_courses() == 0
    assert (Page.objects.count(), Revision.objects.count(), CourseAssignment.objects.count()) == counts


def test_seed_demo_command_seeds_the_courses(db):
    from education.models import CoursePage

    call_command("seed_demo")
    call_command("seed_demo")

    assert sorted(CoursePage.objects.values_list("title", flat=True)) == sorted(TITLES)


def test_every_demo_lesson_and_quiz_renders_in_real_prose(seeded, make_user, two_factor_ready):
    from education.models import CoursePage, LessonPage

    client = two_factor_ready(make_user(Role.CLINICIAN, Role.REVIEWER))
    for page in [*CoursePage.objects.all(), *LessonPage.objects.all()]:
        response = client.get(page.url)
        assert response.status_code == 200, page.url
        html = response.content.decode()
        assert "lorem" not in html.lower(), page.url
    for course in CoursePage.objects.all():
        assert client.get(f"/learn/courses/{course.pk}/quiz/").status_code == 200


def test_each_demo_quiz_can_be_passed_with_its_right_answers(seeded, make_user):
    from education.models import CoursePage

    reviewer = make_user(Role.CLINICIAN, Role.REVIEWER)
    for course in CoursePage.objects.all():
        answers = {q.id: sorted(q.correct_ids) for q in course.quiz_questions()}
        attempt, _ = take_quiz(reviewer, course, answers)
        assert attempt.passed and attempt.score == 100, course.title


def test_demo_lessons_are_not_copied_between_courses():
    bodies = [str(body) for *_, lessons, _quiz in COURSES for *_, body in lessons()]

    assert len(bodies) == len(set(bodies)) == 12


def test_intranet_search_finds_the_courses_and_their_lessons(seeded, make_user, two_factor_ready):
    client = two_factor_ready(make_user(Role.CLINICIAN))

    html = client.get("/search/?q=interpreter").content.decode()

    assert "Three boxes on the form that help" in html


def test_intranet_search_does_not_index_the_quiz(seeded, make_user, two_factor_ready):
    client = two_factor_ready(make_user(Role.CLINICIAN))

    # "translate" appears only in a wrong answer of the equity quiz, nowhere in its lessons.
    html = client.get("/search/?q=translate").content.decode()

    assert "Equity, self-pay and financial assistance" not in html
    assert "Ask a family member" not in html
