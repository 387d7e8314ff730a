"""Required training: who must take what by when, reminders once each, who is overdue, rates per department."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from education import selectors, services
from education.models import CourseProgress
from education.selectors import TrainingState
from education.tasks import send_training_reminders
from portal.models import Notification
from portal.notification_kinds import NotificationKind
from portal.roles import Role
from tests.education.conftest import Answers, assign, read_all, take_quiz
from tests.factories import DepartmentFactory

pytestmark = pytest.mark.django_db

TODAY = datetime.date(2026, 12, 1)


def days(n: int) -> datetime.date:
    return TODAY + datetime.timedelta(days=n)


def spoken(date: datetime.date) -> str:
    return f"{date.day} {date:%b %Y}"


def complete(user, course, *, days_ago: int = 0):
    read_all(user, course)
    take_quiz(user, course, Answers(course).right())
    if days_ago:
        when = timezone.make_aware(
            datetime.datetime.combine(TODAY - datetime.timedelta(days=days_ago), datetime.time(12))
        )
        CourseProgress.objects.filter(user=user, course=course).update(completed_at=when)


def states(user, today=TODAY):
    return {item.course.title: item.state for item in selectors.training_status_for(user, today=today).items}


# --- Who must take what ------------------------------------------------------------------------


def test_a_course_assigned_to_a_role_is_due_for_its_members_only(make_user, course):
    assign(course, roles=[Role.CLINICIAN], due_date=days(20))
    clinician, coordinator = make_user(Role.CLINICIAN), make_user(Role.COORDINATOR)

    assert states(clinician) == {course.title: TrainingState.DUE}
    assert states(coordinator) == {}


def test_a_course_assigned_to_a_department_is_due_for_everyone_in_it(make_user, course):
    oncology = DepartmentFactory(name="Oncology", code="onc")
    assign(course, departments=[oncology], due_date=days(20))

    assert states(make_user(Role.COORDINATOR, department=oncology)) == {course.title: TrainingState.DUE}
    assert states(make_user(Role.COORDINATOR)) == {}


def test_with_roles_and_departments_a_person_must_match_both(make_user, course):
    oncology = DepartmentFactory(name="Oncology", code="onc")
    assign(course, roles=[Role.CLINICIAN], departments=[oncology], due_date=days(20))

    assert states(make_user(Role.CLINICIAN, department=oncology)) == {course.title: TrainingState.DUE}
    assert states(make_user(Role.CLINICIAN)) == {}
    assert states(make_user(Role.COORDINATOR, department=oncology)) == {}


def test_past_the_due_date_the_course_is_overdue(clinician, course):
    assign(course, roles=[Role.CLINICIAN], due_date=days(-1))

    assert states(clinician) == {course.title: TrainingState.OVERDUE}


def test_a_completed_course_without_expiry_stays_complete(clinician, course):
    assign(course, roles=[Role.CLINICIAN], due_date=days(-1))
    complete(clinician, course, days_ago=900)

    assert states(clinician) == {course.title: TrainingState.COMPLETE}


def test_a_completion_near_its_recertification_date_is_expiring(clinician, course):
    assign(course, roles=[Role.CLINICIAN], due_date=days(-100), recertify_every_months=12)
    complete(clinician, course, days_ago=350)

    item = selectors.training_status_for(clinician, today=TODAY).expiring[0]
    assert item.expires_on == TODAY - datetime.timedelta(days=350) + datetime.timedelta(days=365)


def test_an_expired_completion_is_overdue_from_its_expiry_date(clinician, course):
    assign(course, roles=[Role.CLINICIAN], due_date=days(-500), recertify_every_months=12)
    complete(clinician, course, days_ago=400)

    item = selectors.training_status_for(clinician, today=TODAY).overdue[0]
    assert item.due_date == TODAY - datetime.timedelta(days=400) + datetime.timedelta(days=365)


def test_two_assignments_of_one_course_take_the_earlier_date(make_user, course):
    oncology = DepartmentFactory(name="Oncology", code="onc")
    assign(course, roles=[Role.CLINICIAN], due_date=days(30))
    assign(course, departments=[oncology], due_date=days(10))
    person = make_user(Role.CLINICIAN, department=oncology)

    status = selectors.training_status_for(person, today=TODAY)

    assert [(i.course.title, i.due_date) for i in status.items] == [(course.title, days(10))]


def test_training_status_lists_overdue_then_due_then_expiring(clinician, make_course):
    later, sooner, late, ending = (make_course(t) for t in ("Later", "Sooner", "Late", "Ending"))
    assign(later, roles=[Role.CLINICIAN], due_date=days(40))
    assign(sooner, roles=[Role.CLINICIAN], due_date=days(5))
    assign(late, roles=[Role.CLINICIAN], due_date=days(-3))
    assign(ending, roles=[Role.CLINICIAN], due_date=days(-300), recertify_every_months=12)
    complete(clinician, ending, days_ago=355)

    status = selectors.training_status_for(clinician, today=TODAY)

    assert [i.course.title for i in status.needs_attention] == ["Late", "Sooner", "Later", "Ending"]
    assert [i.course.title for i in status.overdue] == ["Late"]
    assert [i.course.title for i in status.due] == ["Sooner", "Later"]


def test_training_status_takes_the_same_queries_for_many_assignments(clinician, make_course, django_assert_num_queries):
    assign(make_course(), roles=[Role.CLINICIAN], due_date=days(5))
    # assignments, their roles, their departments, the person's department and roles, completions, courses
    with django_assert_num_queries(7):
        selectors.training_status_for(clinician, today=TODAY)
    for _ in range(6):
        assign(make_course(lessons=1), roles=[Role.CLINICIAN], due_date=days(5))
    with django_assert_num_queries(7):
        assert len(selectors.training_status_for(clinician, today=TODAY).items) == 7


def test_learn_shows_what_is_due_and_overdue(client, signed_in_clinician, make_course):
    due, late = make_course("Referring a patient in one click"), make_course("Second opinions in our strategy")
    assign(due, roles=[Role.CLINICIAN], due_date=timezone.localdate() + datetime.timedelta(days=9))
    assign(late, roles=[Role.CLINICIAN], due_date=timezone.localdate() - datetime.timedelta(days=2))

    html = client.get("/learn/").content.decode()

    section = html.split('id="required-heading"', 1)[1].split('id="courses-heading"', 1)[0]
    assert "Referring a patient in one click" in section and "Due " in section
    assert "Second opinions in our strategy" in section and "Overdue since" in section


def test_learn_lists_only_courses_open_to_the_person(client, signed_in_clinician, make_course):
    make_course("Second opinions in our strategy")
    make_course("Claiming cases, turnaround and writing a useful opinion", audience_role=Role.REVIEWER)

    html = client.get("/learn/").content.decode()

    assert "Second opinions in our strategy" in html
    assert "Claiming cases" not in html


# --- Reminders -------------------------------------------------------------------------------


def _training_notifications():
    return list(
        Notification.objects.filter(kind=NotificationKind.TRAINING_DUE)
        .order_by("recipient_id", "id")
        .values_list("recipient_id", "verb")
    )


def test_a_reminder_goes_out_a_week_before_the_due_date(clinician, course):
    assign(course, roles=[Role.CLINICIAN], due_date=days(7))

    assert services.training_reminders_send(today=days(-1)) == 0  # eight days ahead: not yet
    assert services.training_reminders_send(today=TODAY) == 1

    assert _training_notifications() == [(clinician.pk, f"Required training due {spoken(days(7))}: {course.title}")]


def test_a_reminder_goes_out_once_overdue(clinician, course):
    assign(course, roles=[Role.CLINICIAN], due_date=days(-1))

    services.training_reminders_send(today=TODAY)

    assert _training_notifications() == [
        (clinician.pk, f"Required training overdue since {spoken(days(-1))}: {course.title}")
    ]


def test_each_reminder_is_sent_once_however_often_the_task_runs(clinician, course, django_capture_on_commit_callbacks):
    assign(course, roles=[Role.CLINICIAN], due_date=days(3))

    with django_capture_on_commit_callbacks(execute=True):
        first = services.training_reminders_send(today=TODAY)
        second = services.training_reminders_send(today=TODAY)
        next_day = services.training_reminders_send(today=days(1))

    assert (first, second, next_day) == (1, 0, 0)
    assert len(_training_notifications()) == 1


def test_before_and_after_reminders_are_two_reminders(clinician, course):
    assign(course, roles=[Role.CLINICIAN], due_date=days(3))

    services.training_reminders_send(today=TODAY)
    services.training_reminders_send(today=days(4))
    services.training_reminders_send(today=days(5))

    assert [verb.split(" ")[2] for _, verb in _training_notifications()] == ["due", "overdue"]


def test_nobody_who_completed_is_reminded(clinician, course):
    assign(course, roles=[Role.CLINICIAN], due_date=days(3))
    complete(clinician, course)

    assert services.training_reminders_send(today=TODAY) == 0


def test_a_reminder_goes_out_before_a_completion_expires(clinician, course):
    assign(course, roles=[Role.CLINICIAN], due_date=days(-300), recertify_every_months=12)
    complete(clinician, course, days_ago=350)

    services.training_reminders_send(today=TODAY)

    assert _training_notifications()[0][1].startswith("Your training expires")


def test_the_reminders_are_emailed_after_commit(clinician, course, django_capture_on_commit_callbacks, mailoutbox):
    assign(course, roles=[Role.CLINICIAN], due_date=timezone.localdate() + datetime.timedelta(days=2))

    with django_capture_on_commit_callbacks(execute=True):
        assert send_training_reminders() == 1

    assert len(mailoutbox) == 1 and course.title in mailoutbox[0].body


def test_the_beat_schedule_runs_the_reminders_daily(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["education-training-reminders"]

    assert entry["task"] == "education.tasks.send_training_reminders"
    assert entry["task"] == send_training_reminders.name


# --- Who is overdue --------------------------------------------------------------------------


def test_coordinators_see_who_is_overdue(client, make_user, two_factor_ready, course):
    assign(course, roles=[Role.CLINICIAN], due_date=timezone.localdate() - datetime.timedelta(days=4))
    late = make_user(Role.CLINICIAN, first_name="Omar", last_name="Haddad")
    done = make_user(Role.CLINICIAN, first_name="Ines", last_name="Moreau")
    complete(done, course)
    two_factor_ready(make_user(Role.COORDINATOR))

    html = client.get("/learn/overdue/").content.decode()

    assert "Omar Haddad" in html and "Ines Moreau" not in html
    assert late.profile.department.name in html


def test_leadership_gets_the_overdue_list_as_csv(client, make_user, two_factor_ready, course):
    assign(course, roles=[Role.CLINICIAN], due_date=timezone.localdate() - datetime.timedelta(days=4))
    make_user(Role.CLINICIAN, first_name="=cmd", last_name="Haddad")
    two_factor_ready(make_user(Role.LEADERSHIP))

    response = client.get("/learn/overdue/?format=csv")

    assert response["Content-Type"].startswith("text/csv")
    lines = response.content.decode().splitlines()
    assert lines[0] == "Name,E-mail,Department,Course,Due,Days overdue,Quiz failed"
    assert lines[1].startswith("'=cmd Haddad,") and ",4," in lines[1]


def test_clinicians_may_not_see_who_is_overdue(client, signed_in_clinician):
    assert client.get("/learn/overdue/").status_code == 403


def test_the_overdue_list_takes_the_same_queries_for_more_people(
    client, make_user, two_factor_ready, course, django_assert_max_num_queries
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    assign(course, roles=[Role.CLINICIAN], due_date=timezone.localdate() - datetime.timedelta(days=4))
    make_user(Role.CLINICIAN)
    two_factor_ready(make_user(Role.COORDINATOR))
    client.get("/learn/overdue/")
    with CaptureQueriesContext(connection) as small:
        client.get("/learn/overdue/")
    for _ in range(10):
        make_user(Role.CLINICIAN)
    with django_assert_max_num_queries(16):
        response = client.get("/learn/overdue/")
    with CaptureQueriesContext(connection) as large:
        client.get("/learn/overdue/")

    assert response.content.decode().count("<tr>") == 12  # header and eleven people
    assert len(large) == len(small)


def test_a_coordinator_lets_someone_who_failed_try_again_from_the_overdue_list(
    client, make_user, two_factor_ready, make_course
):
    course = make_course(max_attempts=1)
    assign(course, roles=[Role.CLINICIAN], due_date=timezone.localdate() - datetime.timedelta(days=4))
    person = make_user(Role.CLINICIAN)
    take_quiz(person, course, Answers(course).wrong())
    two_factor_ready(make_user(Role.COORDINATOR))
    assert "Let them try again" in client.get("/learn/overdue/").content.decode()

    response = client.post(f"/learn/courses/{course.pk}/reopen/", {"person": person.pk})

    assert response.status_code == 302
    assert CourseProgress.objects.filter(user=person).count() == 2


def test_reopen_refuses_a_clinician_and_a_missing_person(client, signed_in_clinician, clinician, course):
    assert client.post(f"/learn/courses/{course.pk}/reopen/", {"person": clinician.pk}).status_code == 403
    assert client.post(f"/learn/courses/{course.pk}/reopen/", {"person": "x"}).status_code == 400
    assert not CourseProgress.objects.exists()


# --- Completion rates per department ---------------------------------------------------------


def test_completion_rates_by_department_count_person_course_pairs(make_user, make_course):
    oncology = DepartmentFactory(name="Oncology", code="onc")
    cardiology = DepartmentFactory(name="Cardiology", code="card")
    strategy, referring = make_course("Strategy"), make_course("Referring")
    assign(strategy, roles=[Role.CLINICIAN], due_date=days(-1))
    assign(referring, departments=[oncology], due_date=days(30))
    onc = [make_user(Role.CLINICIAN, department=oncology) for _ in range(3)]
    card = [make_user(Role.CLINICIAN, department=cardiology) for _ in range(2)]
    make_user(Role.COORDINATOR, department=cardiology)  # nothing required of them
    complete(onc[0], strategy)
    complete(onc[0], referring)
    complete(onc[1], strategy)
    complete(card[0], strategy)

    rows = selectors.completion_rates_by_department(today=TODAY)

    assert [(r.department, r.required, r.complete, r.overdue, r.rate) for r in rows] == [
        ("Cardiology", 2, 1, 1, 50.0),
        ("Oncology", 6, 3, 1, 50.0),
    ]


def test_completion_rates_for_one_course(make_user, make_course):
    oncology = DepartmentFactory(name="Oncology", code="onc")
    strategy, referring = make_course("Strategy"), make_course("Referring")
    assign(strategy, departments=[oncology], due_date=days(10))
    assign(referring, departments=[oncology], due_date=days(10))
    people = [make_user(Role.CLINICIAN, department=oncology) for _ in range(3)]
    complete(people[0], strategy)

    rows = selectors.completion_rates_by_department(today=TODAY, course_id=strategy.pk)

    assert [(r.department, r.required, r.complete, r.rate) for r in rows] == [("Oncology", 3, 1, 33.3)]


def test_an_expired_completion_does_not_count_as_complete(make_user, course):
    oncology = DepartmentFactory(name="Oncology", code="onc")
    assign(course, departments=[oncology], due_date=days(-500), recertify_every_months=6)
    person = make_user(Role.CLINICIAN, department=oncology)
    complete(person, course, days_ago=200)

    (row,) = selectors.completion_rates_by_department(today=TODAY)

    assert (row.required, row.complete, row.overdue, row.rate) == (1, 0, 1, 0.0)


def test_participation_by_department_reports_required_training_completion(make_user, make_course):
    from referrals import metrics
    from referrals.models import Referral

    oncology = DepartmentFactory(name="Oncology", code="onc", headcount=40)
    strategy = make_course("Strategy")
    # department_participation reads the training as of today (the real date).
    assign(strategy, departments=[oncology], due_date=timezone.localdate() + datetime.timedelta(days=30))
    people = [make_user(Role.CLINICIAN, department=oncology) for _ in range(4)]
    complete(people[0], strategy)

    rows = {row["department"]: row for row in metrics.department_participation(Referral.objects.all())}

    oncology_row = rows["Oncology"]
    assert (oncology_row["training_required"], oncology_row["training_complete"]) == (4, 1)
    assert (oncology_row["training_overdue"], oncology_row["training_share"]) == (0, 25.0)
