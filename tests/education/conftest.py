"""Courses for education tests, published the way an editor publishes them."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from education.demo import quiz_stream
from portal.roles import Role
from tests.cms.conftest import publish_child

# Two questions: Q1 has one right choice (the second), Q2 has two (the first and third).
QUIZ = [
    (
        "Who may refer a patient for a second opinion?",
        [("Only physicians", False), ("Any clinician", True), ("Only the patient", False)],
    ),
    (
        "Which details does the program office need? Choose all that apply.",
        [("The question to answer", True), ("The patient's favourite colour", False), ("Where the records are", True)],
    ),
]
EXPLANATION = "Any member of clinical staff can refer, and the question matters most."


@dataclass
class Answers:
    """The ids of a built course's quiz: right and wrong answers to post."""

    course: object

    @property
    def questions(self):
        return self.course.quiz_questions()

    def right(self) -> dict[str, list[str]]:
        return {q.id: sorted(q.correct_ids) for q in self.questions}

    def wrong(self) -> dict[str, list[str]]:
        return {q.id: [next(c.id for c in q.choices if c.id not in q.correct_ids)] for q in self.questions}

    def half(self) -> dict[str, list[str]]:
        answers = self.right()
        first = self.questions[0]
        answers[first.id] = [next(c.id for c in first.choices if c.id not in first.correct_ids)]
        return answers

    def post_data(self, answers, token, course_id=None) -> dict:
        data = {"course": str(course_id or self.course.pk), "submission_token": str(token)}
        for question_id, chosen in answers.items():
            data[f"q_{question_id}"] = chosen
        return data


@pytest.fixture
def course_index(home_page):
    from education.models import CourseIndexPage

    return publish_child(home_page, CourseIndexPage(title="Courses", slug="courses", intro="<p>Short courses.</p>"))


@pytest.fixture
def make_course(course_index):
    """A published course with ``lessons`` published lesson pages and the two-question quiz."""
    from education.models import CoursePage

    counter = {"n": 0}

    def _make(title=None, lessons=3, quiz=QUIZ, **fields):
        counter["n"] += 1
        title = title or f"Course {counter['n']}"
        fields.setdefault("summary", f"What {title} is about.")
        fields.setdefault("max_attempts", 3)
        fields.setdefault("pass_mark", 100)
        course = publish_child(
            course_index,
            CoursePage(title=title, questions=quiz_stream(quiz, explanation=EXPLANATION), **fields),
        )
        for i in range(1, lessons + 1):
            add_lesson(course, f"{title}: lesson {i}")
        return course

    return _make


def add_lesson(course, title):
    from education.models import LessonPage

    return publish_child(
        course, LessonPage(title=title, intro="A short lesson.", body=[("rich_text", f"<p>Read this: {title}.</p>")])
    )


@pytest.fixture
def course(make_course):
    return make_course("Second opinions in our strategy")


@pytest.fixture
def answers(course):
    return Answers(course)


@pytest.fixture
def signed_in_clinician(clinician, two_factor_ready):
    return two_factor_ready(clinician)


def lessons_of(course):
    from education.selectors import course_lessons

    return course_lessons(course)


def take_quiz(user, course, answers):
    """One attempt through the service, from a fresh form (its own submission token)."""
    import uuid

    from education import services

    return services.quiz_attempt_submit(actor=user, course=course, answers=answers, submission_token=uuid.uuid4())


def read_all(user, course):
    from education import services

    for lesson in lessons_of(course):
        services.lesson_view_record(actor=user, lesson=lesson, course=course)


def assign(course, *, roles=(), departments=(), due_date, recertify_every_months=None, note=""):
    from django.contrib.auth.models import Group

    from education.models import CourseAssignment

    assignment = CourseAssignment.objects.create(
        course=course, due_date=due_date, recertify_every_months=recertify_every_months, note=note
    )
    assignment.roles.set(Group.objects.filter(name__in=[Role(r).value for r in roles]))
    assignment.departments.set(departments)
    return assignment
