"""Wagtail admin: required training is edited as a snippet; courses with records are not deleted."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group

from education import services
from education.models import CourseAssignment, CoursePage
from portal.roles import Role
from tests.education.conftest import lessons_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def editor(make_user, two_factor_ready):
    person = make_user(Role.LEADERSHIP)
    two_factor_ready(person)
    return person


def test_leadership_assigns_a_course_to_clinicians_in_wagtail(client, editor, course):
    clinicians = Group.objects.get(name=Role.CLINICIAN.value)

    response = client.post(
        "/cms-admin/snippets/education/courseassignment/add/",
        {
            "course": course.pk,
            "roles": [clinicians.pk],
            "due_date": "2027-01-31",
            "recertify_every_months": "24",
            "note": "Every clinician, once, then every two years.",
        },
    )

    assert response.status_code == 302
    assignment = CourseAssignment.objects.get()
    assert list(assignment.roles.all()) == [clinicians]
    assert (str(assignment.due_date), assignment.recertify_every_months) == ("2027-01-31", 24)


def test_an_assignment_without_roles_or_departments_is_refused_in_wagtail(client, editor, course):
    response = client.post(
        "/cms-admin/snippets/education/courseassignment/add/", {"course": course.pk, "due_date": "2027-01-31"}
    )

    assert response.status_code == 200
    assert "Choose at least one role or department." in response.content.decode()
    assert not CourseAssignment.objects.exists()


def test_the_role_choices_are_the_portal_roles_only(client, editor, course):
    Group.objects.create(name="Some other group")

    html = client.get("/cms-admin/snippets/education/courseassignment/add/").content.decode()

    assert "Some other group" not in html
    assert Role.CLINICIAN.value in html


def test_clinicians_cannot_reach_the_assignments(client, signed_in_clinician):
    response = client.get("/cms-admin/snippets/education/courseassignment/")

    assert response.status_code in (302, 403)


def test_leadership_edits_a_course_and_its_quiz_in_wagtail(client, editor, course):
    response = client.get(f"/cms-admin/pages/{course.pk}/edit/")

    assert response.status_code == 200
    html = response.content.decode()
    assert "Quiz rules" in html and "Pass mark" in html


def test_a_course_someone_has_a_record_of_is_not_deleted(client, make_user, two_factor_ready, clinician, course):
    services.lesson_view_record(actor=clinician, lesson=lessons_of(course)[0])
    two_factor_ready(make_user(Role.LEADERSHIP, is_superuser=True, is_staff=True))

    response = client.post(f"/cms-admin/pages/{course.pk}/delete/")

    assert response.status_code == 302 and response["Location"].endswith(f"/pages/{course.pk}/edit/")
    assert CoursePage.objects.filter(pk=course.pk).exists()


def test_a_course_nobody_has_started_may_be_deleted(client, make_user, two_factor_ready, course):
    two_factor_ready(make_user(Role.LEADERSHIP, is_superuser=True, is_staff=True))

    client.post(f"/cms-admin/pages/{course.pk}/delete/")

    assert not CoursePage.objects.filter(pk=course.pk).exists()
