"""The quiz: graded on the server, answers kept from the page, the attempt policy, and bad input."""

from __future__ import annotations

import re
import uuid

import pytest
from django.core.exceptions import ValidationError

from education import services
from education.models import CountingAttempt, CourseProgress, QuizAttempt, QuizQuestionBlock
from portal.roles import Role
from tests.education.conftest import EXPLANATION, QUIZ, Answers, lessons_of, read_all, take_quiz

pytestmark = pytest.mark.django_db


def quiz_url(course) -> str:
    return f"/learn/courses/{course.pk}/quiz/"


def submit(client, answers: Answers, chosen, token=None, course_id=None):
    return client.post(quiz_url(answers.course), answers.post_data(chosen, token or uuid.uuid4(), course_id))


# --- The answers never reach the page before submission ------------------------------------


def test_quiz_page_holds_no_trace_of_which_choices_are_right(client, signed_in_clinician, course, answers):
    html = client.get(quiz_url(course)).content.decode()

    assert "correct" not in html.lower()
    assert "(the answer)" not in html and EXPLANATION not in html
    inputs = re.findall(r"<input[^>]*name=\"q_[^\"]+\"[^>]*>", html)
    assert len(inputs) == sum(len(q.choices) for q in answers.questions)
    # Within a question, right and wrong choices are the same markup apart from their value and id.
    for question in answers.questions:
        tags = [tag for tag in inputs if f'name="q_{question.id}"' in tag]
        assert len({re.sub(r'(value|id)="[^"]*"', "", tag) for tag in tags}) == 1, tags


def test_course_and_lesson_pages_carry_no_quiz_content(client, signed_in_clinician, course):
    for url in (course.url, lessons_of(course)[0].url):
        html = client.get(url).content.decode()
        for _question, choices in QUIZ:
            for text, _right in choices:
                assert text not in html, (url, text)
        assert EXPLANATION not in html


def test_single_answer_questions_are_radios_and_multiple_answer_questions_checkboxes(
    client, signed_in_clinician, course, answers
):
    html = client.get(quiz_url(course)).content.decode()
    single, multiple = answers.questions

    assert f'type="radio" name="q_{single.id}"' in html
    assert f'type="checkbox" name="q_{multiple.id}"' in html


# --- Grading ----------------------------------------------------------------------------------


def test_right_answers_pass_and_the_attempt_records_the_answers_and_score(client, signed_in_clinician, course, answers):
    response = submit(client, answers, answers.right())

    assert response.status_code == 302
    attempt = QuizAttempt.objects.get()
    assert (attempt.number, attempt.score, attempt.correct_count, attempt.passed) == (1, 100, 2, True)
    assert attempt.answers == answers.right()
    assert attempt.results == {q.id: True for q in answers.questions}


def test_a_multiple_answer_question_needs_every_right_choice(clinician, course, answers):
    single, multiple = answers.questions
    chosen = {single.id: sorted(single.correct_ids), multiple.id: sorted(multiple.correct_ids)[:1]}

    attempt, _ = take_quiz(clinician, course, chosen)

    assert attempt.results == {single.id: True, multiple.id: False}
    assert attempt.score == 50 and not attempt.passed


def test_an_extra_wrong_choice_makes_a_multiple_answer_question_wrong(clinician, course, answers):
    single, multiple = answers.questions
    chosen = {single.id: sorted(single.correct_ids), multiple.id: [c.id for c in multiple.choices]}

    attempt, _ = take_quiz(clinician, course, chosen)

    assert attempt.results[multiple.id] is False


def test_the_pass_mark_decides(clinician, make_course):
    course = make_course(pass_mark=50)
    half = Answers(course).half()

    attempt, _ = take_quiz(clinician, course, half)

    assert attempt.score == 50 and attempt.passed


def test_a_failed_attempt_says_which_questions_were_wrong_but_not_the_answers(
    client, signed_in_clinician, course, answers
):
    submit(client, answers, answers.half())

    html = client.get(quiz_url(course)).content.decode()

    assert "Question 1: not right" in html and "Question 2: right" in html
    assert "(the answer)" not in html and EXPLANATION not in html
    assert "2 attempts left" in html


def test_once_passed_the_answers_and_explanations_are_shown(client, signed_in_clinician, clinician, course, answers):
    read_all(clinician, course)
    submit(client, answers, answers.right())

    html = client.get(quiz_url(course)).content.decode()

    assert html.count("(the answer)") == 3
    assert EXPLANATION in html
    assert "Course complete" in html


def test_every_attempt_is_kept_in_order(clinician, course, answers):
    for chosen in (answers.wrong(), answers.half(), answers.right()):
        take_quiz(clinician, course, chosen)

    assert list(QuizAttempt.objects.values_list("number", "score", "passed")) == [
        (1, 0, False),
        (2, 50, False),
        (3, 100, True),
    ]


# --- Attempt policy ---------------------------------------------------------------------------


def test_best_attempt_counts_keeps_an_earlier_pass(clinician, make_course):
    course = make_course(counting_attempt=CountingAttempt.BEST)
    answers = Answers(course)
    take_quiz(clinician, course, answers.right())
    take_quiz(clinician, course, answers.wrong())

    progress = CourseProgress.objects.get()
    assert progress.quiz_passed and progress.score == 100


def test_last_attempt_counts_lets_a_later_failure_undo_a_pass(clinician, make_course):
    course = make_course(counting_attempt=CountingAttempt.LAST)
    answers = Answers(course)
    take_quiz(clinician, course, answers.right())
    take_quiz(clinician, course, answers.half())

    progress = CourseProgress.objects.get()
    assert not progress.quiz_passed and progress.score == 50


def test_using_every_attempt_without_passing_records_a_failed_course(clinician, make_course):
    course = make_course(max_attempts=2)
    answers = Answers(course)
    for _ in range(2):
        take_quiz(clinician, course, answers.wrong())

    progress = CourseProgress.objects.get()
    assert progress.status == CourseProgress.Status.FAILED and progress.failed_at is not None
    assert progress.attempts_used == 2


def test_no_limit_when_max_attempts_is_zero(clinician, make_course):
    course = make_course(max_attempts=0)
    answers = Answers(course)
    for _ in range(5):
        take_quiz(clinician, course, answers.wrong())

    assert CourseProgress.objects.get().status == CourseProgress.Status.IN_PROGRESS
    assert QuizAttempt.objects.count() == 5


# --- Bad input --------------------------------------------------------------------------------


def test_a_double_submit_is_one_attempt(client, signed_in_clinician, course, answers):
    token = uuid.uuid4()
    submit(client, answers, answers.half(), token)
    response = submit(client, answers, answers.half(), token)

    assert QuizAttempt.objects.count() == 1
    assert CourseProgress.objects.get().attempts_used == 1
    page = client.get(response["Location"]).content.decode()
    assert "already submitted; it counts once" in page


def test_a_missing_answer_is_shown_next_to_its_question_and_the_other_answers_are_kept(
    client, signed_in_clinician, course, answers
):
    single, multiple = answers.questions
    chosen = {single.id: sorted(single.correct_ids)}

    response = submit(client, answers, chosen)

    assert response.status_code == 400
    html = response.content.decode()
    assert "Some questions have no answer yet. Nothing was recorded." in html
    error = html.index("Choose at least one answer.")
    assert html.index(multiple.text) < error < html.index(multiple.choices[0].text)
    assert re.search(rf'value="{next(iter(single.correct_ids))}"[^>]*checked', html)
    assert not QuizAttempt.objects.exists() and not CourseProgress.objects.exists()


def test_answers_to_another_quiz_are_refused(client, signed_in_clinician, course, make_course):
    other = Answers(make_course("Referring a patient in one click"))

    response = client.post(quiz_url(course), other.post_data(other.right(), uuid.uuid4(), course_id=course.pk))

    assert response.status_code == 400
    assert "Those answers belong to a different quiz, so nothing was recorded." in response.content.decode()
    assert not QuizAttempt.objects.exists() and not CourseProgress.objects.exists()


def test_a_form_of_another_quiz_posted_here_is_refused(client, signed_in_clinician, course, answers, make_course):
    other = make_course("Referring a patient in one click")

    response = submit(client, answers, answers.right(), course_id=other.pk)

    assert response.status_code == 400
    assert not QuizAttempt.objects.exists()


def test_a_choice_of_another_question_is_refused_by_the_service(clinician, course, answers):
    single, multiple = answers.questions
    forged = {single.id: [multiple.choices[0].id], multiple.id: sorted(multiple.correct_ids)}

    with pytest.raises(services.QuizAnswersMismatch):
        take_quiz(clinician, course, forged)
    assert not QuizAttempt.objects.exists() and not CourseProgress.objects.exists()


def test_two_answers_to_a_single_answer_question_are_refused(clinician, course, answers):
    single, multiple = answers.questions
    forged = {single.id: [c.id for c in single.choices], multiple.id: sorted(multiple.correct_ids)}

    with pytest.raises(services.QuizError, match="takes one answer"):
        take_quiz(clinician, course, forged)
    assert not QuizAttempt.objects.exists()


def test_a_submission_after_the_attempts_are_used_up_is_refused(client, signed_in_clinician, make_course):
    course = make_course(max_attempts=1)
    answers = Answers(course)
    submit(client, answers, answers.wrong())

    response = submit(client, answers, answers.right())

    assert response.status_code == 409
    assert "You have used all 1 attempts at this quiz." in response.content.decode()
    assert QuizAttempt.objects.count() == 1
    assert CourseProgress.objects.get().status == CourseProgress.Status.FAILED


def test_the_quiz_page_offers_no_form_once_the_attempts_are_used_up(client, signed_in_clinician, make_course):
    course = make_course(max_attempts=1)
    answers = Answers(course)
    submit(client, answers, answers.wrong())

    html = client.get(quiz_url(course)).content.decode()

    assert 'class="quiz-form"' not in html
    assert "You have used all 1 attempts" in html
    assert "(the answer)" not in html  # a new round, if the office opens one, is still a test


def test_a_submission_after_the_course_is_complete_is_refused(client, signed_in_clinician, clinician, course, answers):
    read_all(clinician, course)
    submit(client, answers, answers.right())

    response = submit(client, answers, answers.wrong())

    assert response.status_code == 409
    assert "You have completed this course." in response.content.decode()
    assert QuizAttempt.objects.count() == 1


def test_a_course_for_reviewers_is_refused_to_others_and_records_nothing(client, signed_in_clinician, make_course):
    course = make_course("Claiming cases, turnaround and writing a useful opinion", audience_role=Role.REVIEWER)
    answers = Answers(course)

    for url in (course.url, lessons_of(course)[0].url, quiz_url(course)):
        response = client.get(url)
        assert response.status_code == 403, url
        assert "This course is for the Reviewing physician role only" in response.content.decode()
    response = submit(client, answers, answers.right())

    assert response.status_code == 403
    assert not CourseProgress.objects.exists() and not QuizAttempt.objects.exists()


def test_a_course_for_reviewers_is_open_to_a_reviewer(client, make_user, two_factor_ready, make_course):
    reviewer = make_user(Role.CLINICIAN, Role.REVIEWER)
    two_factor_ready(reviewer)
    course = make_course("Claiming cases, turnaround and writing a useful opinion", audience_role=Role.REVIEWER)
    answers = Answers(course)

    assert client.get(lessons_of(course)[0].url).status_code == 200
    assert submit(client, answers, answers.right()).status_code == 302
    assert QuizAttempt.objects.filter(progress__user=reviewer).count() == 1


def test_the_quiz_of_an_unpublished_course_is_not_found(client, signed_in_clinician, course, answers):
    course.unpublish()

    assert client.get(quiz_url(course)).status_code == 404
    assert submit(client, answers, answers.right()).status_code == 404
    assert not QuizAttempt.objects.exists()


@pytest.mark.parametrize(("first", "second"), [(False, False), (True, True)], ids=["no-right-choice", "all-right"])
def test_a_question_with_no_right_or_no_wrong_choice_is_refused_in_the_editor(first, second):
    block = QuizQuestionBlock()
    value = block.to_python(
        {"question": "Which?", "choices": [{"text": "A", "correct": first}, {"text": "B", "correct": second}]}
    )

    with pytest.raises(ValidationError):
        block.clean(value)
