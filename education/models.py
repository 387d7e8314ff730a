"""Staff education: course and lesson pages, the quiz, and each person's record of a course.

Pages are edited in Wagtail by leadership editors. The records (progress,
lesson views, quiz attempts) are written only by ``education.services``; the
required-training assignments are edited in Wagtail's admin as a snippet.
"""

from __future__ import annotations

from dataclasses import dataclass

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.template.response import TemplateResponse
from wagtail import blocks
from wagtail.admin.forms import WagtailAdminModelForm
from wagtail.admin.panels import FieldPanel, MultiFieldPanel
from wagtail.blocks.struct_block import StructBlockValidationError
from wagtail.fields import RichTextField, StreamField
from wagtail.models import Page
from wagtail.search import index

from cms.blocks import INLINE_FEATURES, BodyBlock
from portal.roles import Role, role_choices, role_groups_only

# --- The quiz, as editors write it --------------------------------------------------------


class QuizChoiceBlock(blocks.StructBlock):
    text = blocks.CharBlock(max_length=300)
    correct = blocks.BooleanBlock(required=False, help_text="Tick every choice that is right.")

    class Meta:
        icon = "tick"
        label = "Choice"


class QuizQuestionBlock(blocks.StructBlock):
    """One question; more than one ticked choice makes it a 'choose all that apply' question."""

    question = blocks.CharBlock(max_length=400)
    choices = blocks.ListBlock(QuizChoiceBlock(), min_num=2, max_num=8)
    explanation = blocks.RichTextBlock(
        features=INLINE_FEATURES,
        required=False,
        help_text="Why the right answer is right; shown only after the quiz is passed or all attempts are used.",
    )

    class Meta:
        icon = "help"
        label = "Question"

    def clean(self, value):
        value = super().clean(value)
        if not any(choice["correct"] for choice in value["choices"]):
            raise StructBlockValidationError(non_block_errors=["Tick at least one right choice."])
        if all(choice["correct"] for choice in value["choices"]):
            raise StructBlockValidationError(non_block_errors=["At least one choice must be wrong."])
        return value


class QuizBlock(blocks.StreamBlock):
    question = QuizQuestionBlock()


@dataclass(frozen=True)
class QuizChoice:
    id: str
    text: str


@dataclass(frozen=True)
class QuizQuestion:
    """A question as the server grades it. ``correct_ids`` never goes to a template before submission."""

    id: str
    number: int
    text: str
    choices: tuple[QuizChoice, ...]
    correct_ids: frozenset[str]
    explanation: object

    @property
    def multiple(self) -> bool:
        return len(self.correct_ids) > 1


class CountingAttempt(models.TextChoices):
    BEST = "best", "Best attempt counts"
    LAST = "last", "Last attempt counts"


# --- Pages ------------------------------------------------------------------------------------


class CourseIndexPage(Page):
    """The one list of courses, under Home; leadership editors write its introduction."""

    intro = RichTextField(blank=True, features=["bold", "italic", "link"])

    content_panels = [*Page.content_panels, FieldPanel("intro")]
    search_fields = [*Page.search_fields, index.SearchField("intro")]
    parent_page_types = ["cms.HomePage"]
    subpage_types = ["education.CoursePage"]
    max_count = 1

    class Meta:
        verbose_name = "course index page"

    def get_context(self, request, *args, **kwargs):
        from education import selectors

        context = super().get_context(request, *args, **kwargs)
        cards = selectors.course_cards_for(user=request.user, courses=selectors.courses_under(self))
        context["courses"] = [card for card in cards if card.open_to_user]
        return context


class CoursePage(Page):  # noqa: DJ008 (Page defines __str__)
    """A course under the CourseIndexPage, its lessons as child pages and its quiz; leadership editors write it."""

    summary = models.CharField(max_length=300, help_text="What the course is for, in a sentence (shown in lists).")
    body = StreamField(BodyBlock(), blank=True, help_text="Shown above the list of lessons.")
    estimated_minutes = models.PositiveSmallIntegerField(
        default=15, validators=[MinValueValidator(1)], help_text="About how long the lessons and quiz take."
    )
    audience_role = models.CharField(
        max_length=20,
        blank=True,
        choices=role_choices,
        help_text="Leave empty for all staff; otherwise only people with this role may take the course.",
    )
    questions = StreamField(QuizBlock(min_num=1), help_text="The quiz. Answers are checked on the server.")
    pass_mark = models.PositiveSmallIntegerField(
        default=80,
        validators=[MinValueValidator(1), MaxValueValidator(100)],
        help_text="Percentage of questions answered right to pass.",
    )
    max_attempts = models.PositiveSmallIntegerField(
        default=3, help_text="How many times a person may take the quiz; 0 means no limit."
    )
    counting_attempt = models.CharField(max_length=4, choices=CountingAttempt, default=CountingAttempt.BEST)

    content_panels = [
        *Page.content_panels,
        FieldPanel("summary"),
        FieldPanel("body"),
        FieldPanel("estimated_minutes"),
        FieldPanel("audience_role"),
        MultiFieldPanel(
            [FieldPanel("pass_mark"), FieldPanel("max_attempts"), FieldPanel("counting_attempt")],
            heading="Quiz rules",
        ),
        FieldPanel("questions"),
    ]
    # The quiz is not indexed: search must never surface the answers.
    search_fields = [*Page.search_fields, index.SearchField("summary"), index.SearchField("body")]
    parent_page_types = ["education.CourseIndexPage"]
    subpage_types = ["education.LessonPage"]

    class Meta:
        verbose_name = "course page"

    def clean(self):
        super().clean()
        if self.max_attempts and self.max_attempts < 1:
            raise ValidationError({"max_attempts": "Use 0 for no limit, or a positive number."})

    def is_open_to(self, user) -> bool:
        if not self.audience_role:
            return True
        return user.is_authenticated and user.has_role(Role(self.audience_role))

    def quiz_questions(self) -> list[QuizQuestion]:
        """The quiz as the grader sees it, with stable ids for questions and choices."""
        out = []
        for number, block in enumerate(self.questions, start=1):
            choices = block.value["choices"].bound_blocks
            out.append(
                QuizQuestion(
                    id=block.id,
                    number=number,
                    text=block.value["question"],
                    choices=tuple(QuizChoice(id=c.id, text=c.value["text"]) for c in choices),
                    correct_ids=frozenset(c.id for c in choices if c.value["correct"]),
                    explanation=block.value["explanation"],
                )
            )
        return out

    def serve(self, request, *args, **kwargs):
        if not getattr(request, "is_preview", False) and not self.is_open_to(request.user):
            return not_for_you(request, self)
        return super().serve(request, *args, **kwargs)

    def get_context(self, request, *args, **kwargs):
        from education import selectors

        context = super().get_context(request, *args, **kwargs)
        context["overview"] = selectors.course_overview_for(user=request.user, course=self)
        return context


class LessonPage(Page):  # noqa: DJ008 (Page defines __str__)
    """One lesson, a child of its CoursePage, in the editors' order; leadership editors write it."""

    intro = models.CharField(max_length=300, blank=True, help_text="One or two sentences shown under the title.")
    body = StreamField(BodyBlock())

    content_panels = [*Page.content_panels, FieldPanel("intro"), FieldPanel("body")]
    search_fields = [*Page.search_fields, index.SearchField("intro"), index.SearchField("body")]
    parent_page_types = ["education.CoursePage"]
    subpage_types: list[str] = []

    class Meta:
        verbose_name = "lesson page"

    def serve(self, request, *args, **kwargs):
        from education import services

        course = CoursePage.objects.get(pk=self.get_parent().pk)
        request.education_course = course
        # Reading the lesson is what "viewed" means; an editor's preview is not a reading.
        if not getattr(request, "is_preview", False):
            if not course.is_open_to(request.user):
                return not_for_you(request, course)
            services.lesson_view_record(actor=request.user, lesson=self, course=course)
        return super().serve(request, *args, **kwargs)

    def get_context(self, request, *args, **kwargs):
        from education import selectors

        context = super().get_context(request, *args, **kwargs)
        course = getattr(request, "education_course", None) or CoursePage.objects.get(pk=self.get_parent().pk)
        context["course"] = course
        context["place"] = selectors.lesson_place_for(user=request.user, course=course, lesson=self)
        return context


def not_for_you(request, course) -> TemplateResponse:
    """The clear refusal shown for a course meant for another role."""
    return TemplateResponse(
        request,
        "education/not_for_you.html",
        {"course": course, "audience": Role(course.audience_role).label},
        status=403,
    )


# --- Each person's record -------------------------------------------------------------------


class CourseProgress(models.Model):
    """One person's round of one course: lessons viewed, quiz attempts, and whether they passed or failed.

    A recertification opens a new round; earlier rounds stay as the record.
    """

    class Status(models.TextChoices):
        IN_PROGRESS = "in_progress", "In progress"
        PASSED = "passed", "Complete (passed)"
        FAILED = "failed", "Failed (no attempts left)"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="course_progress")
    # PROTECT: a course someone has a record of is unpublished, not deleted.
    course = models.ForeignKey(CoursePage, on_delete=models.PROTECT, related_name="progress")
    round = models.PositiveSmallIntegerField(default=1)
    status = models.CharField(max_length=12, choices=Status, default=Status.IN_PROGRESS)
    started_at = models.DateTimeField()
    quiz_passed = models.BooleanField(default=False, help_text="Whether the counting attempt passed.")
    score = models.PositiveSmallIntegerField(null=True, blank=True, help_text="The counting attempt's score (%).")
    attempts_used = models.PositiveSmallIntegerField(default=0)
    completed_at = models.DateTimeField(null=True, blank=True, help_text="When the course was complete (passed).")
    failed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "course", "round"], name="one_progress_per_person_course_round"),
        ]
        indexes = [models.Index(fields=["course", "status"], name="progress_course_status")]
        verbose_name_plural = "course progress"

    def __str__(self):
        return f"{self.user} · {self.course_id} · round {self.round}: {self.status}"


class LessonView(models.Model):
    """The first time a person read a lesson in a round (one row, however often they read it)."""

    progress = models.ForeignKey(CourseProgress, on_delete=models.CASCADE, related_name="lesson_views")
    lesson = models.ForeignKey(LessonPage, on_delete=models.CASCADE, related_name="views")
    viewed_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["progress", "lesson"], name="one_view_per_lesson_per_round")]

    def __str__(self):
        return f"{self.progress_id} read {self.lesson_id}"


class QuizAttempt(models.Model):
    """One submitted quiz, append-only: the answers chosen and the score the server gave them."""

    progress = models.ForeignKey(CourseProgress, on_delete=models.CASCADE, related_name="attempts")
    number = models.PositiveSmallIntegerField()
    submission_token = models.UUIDField(help_text="From the form: a second submit of the same form is one attempt.")
    answers = models.JSONField(help_text="Question id → the choice ids chosen.")
    results = models.JSONField(help_text="Question id → answered right or not.")
    question_count = models.PositiveSmallIntegerField()
    correct_count = models.PositiveSmallIntegerField()
    score = models.PositiveSmallIntegerField(help_text="Percentage answered right.")
    passed = models.BooleanField()
    submitted_at = models.DateTimeField()

    class Meta:
        ordering = ["progress", "number"]
        constraints = [
            models.UniqueConstraint(fields=["progress", "number"], name="attempt_numbers_unique_per_round"),
            models.UniqueConstraint(fields=["progress", "submission_token"], name="one_attempt_per_submission"),
        ]

    def __str__(self):
        return f"Attempt {self.number} of {self.progress_id}: {self.score}%"


# --- Required training ------------------------------------------------------------------------


class CourseAssignmentAdminForm(WagtailAdminModelForm):
    def clean(self):
        cleaned = super().clean()
        if not cleaned.get("roles") and not cleaned.get("departments"):
            raise ValidationError("Choose at least one role or department.")
        return cleaned


class CourseAssignment(models.Model):
    """A course required of roles and/or departments by a date; leadership and administrators edit it in Wagtail.

    With both roles and departments, a person must match both (e.g. clinicians in
    Oncology); with one of them, matching it is enough.
    """

    course = models.ForeignKey(CoursePage, on_delete=models.CASCADE, related_name="assignments")
    roles = models.ManyToManyField(
        "auth.Group",
        blank=True,
        related_name="+",
        limit_choices_to=role_groups_only,
        help_text="People with any of these roles must take it.",
    )
    departments = models.ManyToManyField(
        "portal.Department", blank=True, related_name="+", help_text="People in any of these departments must take it."
    )
    due_date = models.DateField(help_text="Complete by this date.")
    recertify_every_months = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text="Optional: a completion expires after this many months and must be taken again.",
    )
    note = models.CharField(max_length=200, blank=True, help_text="Why it is required (shown to staff).")

    panels = [
        FieldPanel("course"),
        FieldPanel("roles", widget=forms.CheckboxSelectMultiple),
        FieldPanel("departments", widget=forms.CheckboxSelectMultiple),
        FieldPanel("due_date"),
        FieldPanel("recertify_every_months"),
        FieldPanel("note"),
    ]

    base_form_class = CourseAssignmentAdminForm

    class Meta:
        ordering = ["due_date"]
        verbose_name = "required training"
        verbose_name_plural = "required training"

    def __str__(self):
        return f"{self.course.title} by {self.due_date:%d %b %Y}"
