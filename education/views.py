"""Learn (my training and the courses), the quiz, and the overdue list.

Views read through ``education.selectors`` and write only through
``education.services``. The quiz page never receives which choices are right
until the quiz is over for the person (passed, or out of attempts).
"""

from __future__ import annotations

import csv
import uuid

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from education import selectors, services
from education.forms import QuizForm
from education.models import CourseIndexPage, CoursePage, not_for_you
from education.services import EducationError, QuizError
from portal.models import User
from portal.roles import Role

OVERSEERS = (Role.COORDINATOR, Role.LEADERSHIP, Role.ADMINISTRATOR)


def _oversees(user) -> bool:
    return any(user.has_role(role) for role in OVERSEERS)


def learn(request):
    """My required training (overdue, due, expiring, done) and every course open to me."""
    user = request.user
    cards = [
        card for card in selectors.course_cards_for(user=user, courses=selectors.live_courses()) if card.open_to_user
    ]
    return render(
        request,
        "education/learn.html",
        {
            "training": selectors.training_status_for(user),
            "cards": cards,
            "course_index": CourseIndexPage.objects.live().first(),
            "can_see_overdue": _oversees(user),
        },
    )


def _answer_review(questions, attempt):
    """After the quiz is over: each question with its choices, which were right and which the person chose."""
    chosen = attempt.answers if attempt else {}
    return [
        {
            "question": question,
            "right": bool(attempt and attempt.results.get(question.id)),
            "choices": [
                {"text": c.text, "right": c.id in question.correct_ids, "chosen": c.id in chosen.get(question.id, [])}
                for c in question.choices
            ],
        }
        for question in questions
    ]


def _quiz_page(request, course, form, *, status=200, error=""):
    overview = selectors.course_overview_for(user=request.user, course=course)
    questions = form.questions
    last = overview.attempts[-1] if overview.attempts else None
    # The answers are shown once the quiz is over and passed; someone who ran out of
    # attempts sees only which questions were wrong, so a new round is still a test.
    over = bool(overview.attempts) and not overview.quiz.open and overview.progress.quiz_passed
    context = {
        "page": course,
        "course": course,
        "overview": overview,
        "form": form,
        "error": error,
        "last_attempt": last,
        # Per question right or wrong, never which choice is right, while attempts remain.
        "last_results": [(q, last.results.get(q.id, False)) for q in questions] if last else [],
        "review": _answer_review(questions, last) if over else None,
    }
    return render(request, "education/quiz.html", context, status=status)


@require_http_methods(["GET", "POST"])
def quiz(request, course_id: int):
    course = get_object_or_404(CoursePage.objects.live(), pk=course_id)
    if not course.is_open_to(request.user):
        return not_for_you(request, course)
    questions = course.quiz_questions()
    if request.method != "POST":
        form = QuizForm(questions, initial={"course": course.pk, "submission_token": uuid.uuid4()})
        return _quiz_page(request, course, form)

    form = QuizForm(questions, data=request.POST)
    if request.POST.get("course") != str(course.pk) or form.names_foreign_questions(request.POST):
        fresh = QuizForm(questions, initial={"course": course.pk, "submission_token": uuid.uuid4()})
        return _quiz_page(
            request,
            course,
            fresh,
            status=400,
            error="Those answers belong to a different quiz, so nothing was recorded. Answer this quiz below.",
        )
    if not form.is_valid():
        return _quiz_page(
            request, course, form, status=400, error="Some questions have no answer yet. Nothing was recorded."
        )
    try:
        attempt, created = services.quiz_attempt_submit(
            actor=request.user,
            course=course,
            answers=form.answers(),
            submission_token=form.cleaned_data["submission_token"],
        )
    except QuizError as refusal:
        return _quiz_page(request, course, form, status=refusal.status, error=str(refusal))
    result = f"{attempt.correct_count} of {attempt.question_count} right ({attempt.score}%)"
    if not created:
        messages.info(request, f"That quiz was already submitted; it counts once. Attempt {attempt.number}: {result}.")
    elif attempt.passed:
        messages.success(request, f"You passed: {result}. The pass mark is {course.pass_mark}%.")
    else:
        messages.warning(request, f"Not passed this time: {result}. The pass mark is {course.pass_mark}%.")
    return redirect("education_quiz", course_id=course.pk)


def overdue(request):
    """Who is overdue with required training; coordinators, leadership and administrators only. CSV on request."""
    if not _oversees(request.user):
        raise PermissionDenied
    rows = selectors.overdue_people()
    if request.GET.get("format") == "csv":
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="overdue-training-{timezone.localdate():%Y-%m-%d}.csv"'
        writer = csv.writer(response)
        writer.writerow(["Name", "E-mail", "Department", "Course", "Due", "Days overdue", "Quiz failed"])
        for row in rows:
            writer.writerow(
                [
                    _csv_safe(row.person.get_full_name()),
                    _csv_safe(row.person.email),
                    _csv_safe(row.department),
                    _csv_safe(row.course.title),
                    row.due_date.isoformat(),
                    row.days_overdue,
                    "yes" if row.failed else "",
                ]
            )
        return response
    return render(
        request,
        "education/overdue.html",
        {"rows": rows, "can_reopen": request.user.has_role(Role.COORDINATOR)},
    )


def _csv_safe(value: str) -> str:
    # A cell starting with = + - @ runs as a formula in a spreadsheet.
    return f"'{value}" if value[:1] in ("=", "+", "-", "@") else value


@require_POST
def reopen(request, course_id: int):
    """A coordinator opens a fresh round for someone who used up their attempts."""
    course = get_object_or_404(CoursePage.objects.live(), pk=course_id)
    person_id = request.POST.get("person", "")
    if not person_id.isdigit():
        return HttpResponse("Say whose course to open.", status=400, content_type="text/plain; charset=utf-8")
    person = get_object_or_404(User, pk=int(person_id))
    try:
        services.course_progress_reopen(actor=request.user, person=person, course=course)
    except EducationError as refusal:
        status = 403 if not request.user.has_role(Role.COORDINATOR) else 409
        return HttpResponse(str(refusal), status=status, content_type="text/plain; charset=utf-8")
    messages.success(request, f"{person} can take {course.title} again.")
    return redirect("education_overdue")
