"""Required training in a real browser: a clinician sees a course due, reads its lessons, fails the quiz,
passes it on the second attempt, sees the course complete and its credit; the page source never held the answers.
"""

from __future__ import annotations

import datetime
import re

import pytest
from django.utils import timezone

from education.demo import quiz_stream
from portal.roles import Role
from tests.cms.conftest import publish_child
from tests.e2e.test_referral_flow import _signed_in_page
from tests.education.conftest import EXPLANATION, QUIZ, assign

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ANSWER_MARKERS = ("correct", "(the answer)", EXPLANATION.lower())


def _assert_no_answers(page):
    source = page.content().lower()
    for marker in ANSWER_MARKERS:
        assert marker not in source, f"{marker!r} in {page.url}"


def _answer(page, single: str, several: list[str]):
    page.get_by_label(single, exact=True).check()
    for label in several:
        page.get_by_label(label, exact=True).check()
    page.get_by_role("button", name="Submit my answers").click()


def test_clinician_takes_required_training_to_completion(browser, live_server, wagtail_site, make_user, axe):
    from cms.models import HomePage
    from education.models import CourseIndexPage, CoursePage, CourseProgress, LessonPage, QuizAttempt

    index = publish_child(HomePage.objects.get(), CourseIndexPage(title="Courses", slug="courses"))
    course = publish_child(
        index,
        CoursePage(
            title="Second opinions in our strategy",
            summary="Why second opinions matter here.",
            questions=quiz_stream(QUIZ, explanation=EXPLANATION),
            pass_mark=100,
            max_attempts=3,
        ),
    )
    for n, title in enumerate(["Why patients ask", "What a second look changes"], start=1):
        publish_child(course, LessonPage(title=title, body=[("rich_text", f"<p>Lesson {n} text.</p>")]))
    assign(course, roles=[Role.CLINICIAN], due_date=timezone.localdate() + datetime.timedelta(days=10))
    clinician = make_user(Role.CLINICIAN, first_name="Maria")

    # 1. Learn shows the course as due.
    page = _signed_in_page(browser, live_server, clinician)
    page.goto(f"{live_server.url}/learn/")
    required = page.locator("section[aria-labelledby=required-heading]")
    required.get_by_text(re.compile(r"Due \d+ \w+ \d{4}")).wait_for()
    required.get_by_role("link", name="Second opinions in our strategy").click()

    # 2. The course page, then each lesson in order.
    page.get_by_text("0 of 2 lessons read").wait_for()
    _assert_no_answers(page)
    page.get_by_role("link", name=re.compile("Start: Why patients ask")).click()
    page.get_by_text("Lesson 1 of 2").wait_for()
    _assert_no_answers(page)
    page.get_by_role("link", name=re.compile("Next: What a second look changes")).click()
    page.get_by_text("Lesson 2 of 2").wait_for()
    assert page.locator(".lesson-viewed").count() == 2
    page.get_by_role("link", name=re.compile("Take the quiz")).click()

    # 3. The quiz page holds no answers; a wrong attempt fails.
    page.get_by_role("heading", name=re.compile("Quiz: Second opinions")).wait_for()
    _assert_no_answers(page)
    assert axe(page) == []
    _answer(page, "Only physicians", ["The question to answer"])
    page.get_by_text(re.compile(r"Not passed this time: 0 of 2 right")).wait_for()
    page.get_by_text("2 attempts left.").wait_for()
    _assert_no_answers(page)  # still no answers: only which questions were wrong

    # 4. The second attempt passes and the course is complete.
    _answer(page, "Any clinician", ["The question to answer", "Where the records are"])
    page.get_by_text(re.compile(r"You passed: 2 of 2 right \(100%\)")).wait_for()
    page.locator(".course-complete").wait_for()
    page.goto(f"{live_server.url}{course.url}")
    page.get_by_text("Course complete.").wait_for()
    page.goto(f"{live_server.url}/learn/")
    page.get_by_text("Nothing required of you is due. Thank you.").wait_for()

    # 5. The completion earned its credit, once.
    page.goto(f"{live_server.url}/impact/")
    assert page.locator('[data-figure="total"]').inner_text().strip() == "1"
    page.get_by_role("row", name=re.compile(r"Course completed")).wait_for()

    progress = CourseProgress.objects.get(user=clinician)
    assert progress.status == CourseProgress.Status.PASSED
    assert list(QuizAttempt.objects.values_list("number", "passed")) == [(1, False), (2, True)]
    assert page.csp_violations == []
    page.context.close()
