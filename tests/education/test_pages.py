"""Course, lesson and index pages: where they sit, what they show, in queries that do not grow."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from wagtail.models import Page
from wagtail.test.utils import WagtailPageTestCase

from cms.models import HomePage, SpecialtyIndexPage, StandardPage
from education.models import CourseIndexPage, CoursePage, LessonPage, LessonView
from portal.roles import Role
from tests.education.conftest import add_lesson, lessons_of

pytestmark = pytest.mark.django_db


class CourseTreeRulesTests(WagtailPageTestCase):
    def test_course_index_sits_under_home_and_holds_only_courses(self):
        self.assertAllowedParentPageTypes(CourseIndexPage, {HomePage})
        self.assertAllowedSubpageTypes(CourseIndexPage, {CoursePage})

    def test_course_sits_only_under_the_course_index_and_holds_only_lessons(self):
        self.assertAllowedParentPageTypes(CoursePage, {CourseIndexPage})
        self.assertAllowedSubpageTypes(CoursePage, {LessonPage})
        self.assertCanNotCreateAt(HomePage, CoursePage)
        self.assertCanNotCreateAt(StandardPage, CoursePage)

    def test_lesson_sits_only_under_a_course_and_has_no_children(self):
        self.assertAllowedParentPageTypes(LessonPage, {CoursePage})
        self.assertAllowedSubpageTypes(LessonPage, set())
        self.assertCanNotCreateAt(CourseIndexPage, LessonPage)
        self.assertCanNotCreateAt(SpecialtyIndexPage, LessonPage)

    def test_education_pages_cannot_be_site_roots(self):
        for page_type in (CourseIndexPage, CoursePage, LessonPage):
            self.assertCanNotCreateAt(Page, page_type)

    def test_there_is_one_course_index(self):
        from portal.demo import seed_demo_home_page

        seed_demo_home_page()
        home = HomePage.objects.get()
        home.add_child(instance=CourseIndexPage(title="Courses", slug="courses"))

        self.assertFalse(CourseIndexPage.can_create_at(home))


def test_every_education_page_model_has_a_one_line_docstring():
    for model in (CourseIndexPage, CoursePage, LessonPage):
        assert model.__doc__ and len(model.__doc__.strip().splitlines()) == 1, model


def test_lesson_shows_its_place_and_neighbours(client, signed_in_clinician, course):
    first, second, third = lessons_of(course)

    html = client.get(second.url).content.decode()

    assert "Lesson 2 of 3" in html
    assert f'rel="prev" href="{first.url}"' in html
    assert f'rel="next" href="{third.url}"' in html


def test_last_lesson_leads_to_the_quiz(client, signed_in_clinician, course):
    last = lessons_of(course)[-1]

    html = client.get(last.url).content.decode()

    assert "Lesson 3 of 3" in html
    assert f"/learn/courses/{course.pk}/quiz/" in html
    assert 'rel="next"' not in html


def test_lessons_follow_the_editors_order(client, signed_in_clinician, course):
    first, second, third = lessons_of(course)
    third.move(first, pos="left")  # an editor drags the third lesson to the top

    html = client.get(course.url).content.decode()

    assert html.index(third.title) < html.index(first.title) < html.index(second.title)


def test_course_page_ticks_the_lessons_read_and_counts_them(client, signed_in_clinician, course):
    first, second, _ = lessons_of(course)
    client.get(first.url)
    client.get(second.url)

    html = client.get(course.url).content.decode()

    assert "2 of 3 lessons read" in html
    assert html.count('class="lesson-viewed') == 2


def test_unpublished_lessons_are_not_listed(client, signed_in_clinician, course):
    draft = lessons_of(course)[-1]
    draft.unpublish()

    html = client.get(course.url).content.decode()

    assert draft.title not in html
    assert "0 of 2 lessons read" in html


def test_editor_preview_of_a_lesson_is_not_a_reading(rf, make_user, course):
    editor = make_user(Role.LEADERSHIP, is_superuser=True, is_staff=True)
    request = rf.get("/")
    request.user = editor
    lesson = lessons_of(course)[0]

    response = lesson.make_preview_request(original_request=request)

    assert response.status_code == 200
    assert "Lesson 1 of 3" in response.rendered_content
    assert not LessonView.objects.exists()


def test_reading_a_lesson_records_it(client, signed_in_clinician, clinician, course):
    lesson = lessons_of(course)[0]

    client.get(lesson.url)

    assert LessonView.objects.filter(lesson=lesson, progress__user=clinician).count() == 1


def _queries(client, url) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(captured)


# Measured: course page 20, lesson page 27 (it records the reading), Learn 16, index 13, quiz 14; headroom for noise.
MAX_QUERIES = {"course": 24, "lesson": 31, "learn": 20, "index": 17, "quiz": 18}


@pytest.mark.parametrize("kind", ["course", "lesson", "learn", "index", "quiz"])
def test_page_queries_do_not_grow_with_courses_or_lessons(
    client, signed_in_clinician, clinician, make_course, course_index, django_assert_max_num_queries, kind
):
    import datetime

    from tests.education.conftest import assign

    course = make_course("Growing course", lessons=2)
    assign(course, roles=[Role.CLINICIAN], due_date=datetime.date(2030, 1, 1))
    url = {
        "course": course.url,
        "lesson": lessons_of(course)[0].url,
        "learn": "/learn/",
        "index": course_index.url,
        "quiz": f"/learn/courses/{course.pk}/quiz/",
    }[kind]
    client.get(lessons_of(course)[0].url)  # the person has started: progress exists in both measurements
    client.get(url)  # warm the site-root cache, as any earlier page view would
    small = _queries(client, url)

    for i in range(8):
        add_lesson(course, f"Extra lesson {i}")
        other = make_course(f"Another course {i}", lessons=2)
        assign(other, roles=[Role.CLINICIAN], due_date=datetime.date(2030, 1, 1))
        client.get(lessons_of(other)[0].url)
    client.get(lessons_of(course)[-1].url)
    with django_assert_max_num_queries(MAX_QUERIES[kind]):
        response = client.get(url)
    assert response.status_code == 200
    large = _queries(client, url)

    assert large == small, f"{kind}: {small} queries with 1 course of 2 lessons, {large} with 9 courses, 10 lessons"


def test_education_pages_send_a_strict_policy_and_no_inline_code(
    client, make_user, two_factor_ready, course, course_index
):
    from tests.portal.test_csp_and_layout import _assert_strict_page

    two_factor_ready(make_user(Role.CLINICIAN, Role.COORDINATOR))
    for url in [
        "/learn/",
        "/learn/overdue/",
        course_index.url,
        course.url,
        lessons_of(course)[0].url,
        f"/learn/courses/{course.pk}/quiz/",
    ]:
        response = client.get(url)
        assert response.status_code == 200, url
        _assert_strict_page(response)


def test_education_pages_require_sign_in(client, course):
    for url in ["/learn/", course.url, lessons_of(course)[0].url, f"/learn/courses/{course.pk}/quiz/"]:
        response = client.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"], url
    assert not LessonView.objects.exists()


def test_course_index_lists_the_courses_open_to_the_person_with_their_progress(
    client, signed_in_clinician, course, course_index, make_course
):
    make_course("Claiming cases, turnaround and writing a useful opinion", audience_role=Role.REVIEWER)
    client.get(lessons_of(course)[0].url)

    html = client.get(course_index.url).content.decode()

    assert course.title in html and "1 of 3 read" in html
    assert "Claiming cases" not in html
