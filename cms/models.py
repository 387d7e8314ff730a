"""Wagtail pages of the intranet."""

from django import forms
from django.conf import settings
from django.db import models
from django.http import Http404
from django.shortcuts import redirect
from django.utils import timezone
from modelcluster.fields import ParentalManyToManyField
from wagtail.admin.forms import WagtailAdminPageForm
from wagtail.admin.panels import FieldPanel, MultiFieldPanel
from wagtail.contrib.routable_page.models import RoutablePageMixin, path
from wagtail.fields import RichTextField, StreamField
from wagtail.models import Page
from wagtail.search import index

from cms import selectors
from cms.blocks import BodyBlock
from portal import selectors as people_selectors
from portal.roles import Role


class HomePage(Page):
    """The intranet's root page (one per site); leadership editors write its welcome."""

    intro = RichTextField(
        blank=True,
        features=["bold", "italic", "link"],
        help_text="A short welcome shown above the quick actions.",
    )

    content_panels = [*Page.content_panels, FieldPanel("intro")]
    parent_page_types = ["wagtailcore.Page"]
    max_count = 1

    def get_context(self, request, *args, **kwargs):
        context = super().get_context(request, *args, **kwargs)
        user = request.user
        context["is_reviewer"] = user.has_role(Role.REVIEWER)
        context["blocks"] = selectors.home_blocks_for(user=user)
        context["update_index"] = ProgramUpdateIndexPage.objects.live().only("id", "url_path", "path", "depth").first()
        context["recent_notifications"] = list(people_selectors.notifications_for(user=user)[:5])
        # The intranet's top-level pages (strategy, how it works, specialties…), in editors' order.
        context["program_pages"] = list(self.get_children().live().public().order_by("path")[:12])
        return context


class ReviewByMixin(models.Model):
    """A date by which an editor re-reads the page; past it, the page is listed as stale."""

    review_by = models.DateField(
        null=True,
        blank=True,
        help_text="When to next check this page is still accurate; after it, the page is listed as stale.",
    )

    class Meta:
        abstract = True

    @property
    def is_stale(self) -> bool:
        return self.review_by is not None and self.review_by < timezone.localdate()


class StandardPage(ReviewByMixin, Page):  # noqa: DJ008 (Page defines __str__)
    """A strategy or how-to page under Home or another StandardPage; leadership editors write it."""

    intro = models.CharField(max_length=300, blank=True, help_text="One or two sentences shown under the title.")
    body = StreamField(BodyBlock(), blank=True)

    content_panels = [*Page.content_panels, FieldPanel("intro"), FieldPanel("body"), FieldPanel("review_by")]
    search_fields = [*Page.search_fields, index.SearchField("intro"), index.SearchField("body")]
    parent_page_types = ["cms.HomePage", "cms.StandardPage"]
    subpage_types = ["cms.StandardPage"]

    class Meta:
        verbose_name = "standard page"


class SpecialtyIndexPage(Page):
    """The one list of specialties, under Home; leadership editors write its introduction."""

    intro = RichTextField(blank=True, features=["bold", "italic", "link"])

    content_panels = [*Page.content_panels, FieldPanel("intro")]
    search_fields = [*Page.search_fields, index.SearchField("intro")]
    parent_page_types = ["cms.HomePage"]
    subpage_types = ["cms.SpecialtyPage"]
    max_count = 1

    class Meta:
        verbose_name = "specialty index page"

    def get_context(self, request, *args, **kwargs):
        context = super().get_context(request, *args, **kwargs)
        context["specialty_pages"] = selectors.specialty_pages_under(self)
        return context


class SpecialtyPage(ReviewByMixin, Page):  # noqa: DJ008 (Page defines __str__)
    """One specialty's page, under the SpecialtyIndexPage; leadership editors write it with the specialty's lead."""

    specialty = models.OneToOneField(
        "portal.Specialty",
        on_delete=models.PROTECT,
        related_name="page",
        help_text="Each specialty has one page.",
    )
    summary = models.CharField(
        max_length=300, blank=True, help_text="What the specialty offers, in a sentence (shown in the list)."
    )
    body = StreamField(BodyBlock(), blank=True)

    content_panels = [
        *Page.content_panels,
        FieldPanel("specialty"),
        FieldPanel("summary"),
        FieldPanel("body"),
        FieldPanel("review_by"),
    ]
    search_fields = [
        *Page.search_fields,
        index.SearchField("summary"),
        index.SearchField("body"),
        index.RelatedFields("specialty", [index.SearchField("name")]),
    ]
    parent_page_types = ["cms.SpecialtyIndexPage"]
    subpage_types: list[str] = []

    class Meta:
        verbose_name = "specialty page"

    def get_context(self, request, *args, **kwargs):
        context = super().get_context(request, *args, **kwargs)
        context["reviewers"] = selectors.specialty_reviewers(self.specialty_id)
        context["figures"] = selectors.specialty_figures(self.specialty_id)
        return context


class ProgramUpdateIndexPage(Page):
    """The one list of program updates, under Home; leadership editors write its introduction."""

    intro = RichTextField(blank=True, features=["bold", "italic", "link"])

    content_panels = [*Page.content_panels, FieldPanel("intro")]
    parent_page_types = ["cms.HomePage"]
    subpage_types = ["cms.ProgramUpdatePage"]
    max_count = 1

    class Meta:
        verbose_name = "program update index page"

    def get_context(self, request, *args, **kwargs):
        from django.core.paginator import Paginator

        context = super().get_context(request, *args, **kwargs)
        updates = selectors.updates_for(user=request.user, under=self)
        context["page_obj"] = Paginator(updates, 20).get_page(request.GET.get("page"))
        context["acknowledged_ids"] = selectors.acknowledged_update_ids(
            user=request.user, update_ids=[u.pk for u in context["page_obj"]]
        )
        return context


class ProgramUpdateForm(WagtailAdminPageForm):
    def clean(self):
        cleaned = super().clean()
        everyone = cleaned.get("audience_everyone")
        departments = cleaned.get("audience_departments")
        roles = cleaned.get("audience_roles")
        if not everyone and not departments and not roles:
            self.add_error(
                "audience_everyone", "Choose who this update is for: everyone, or at least one department or role."
            )
        if everyone and (departments or roles):
            self.add_error(
                "audience_everyone",
                "An update for everyone cannot also be limited to departments or roles: untick one of them.",
            )
        return cleaned


def role_groups_only():
    """The portal's role groups (a callable, so adding a role needs no migration here)."""
    return models.Q(name__in=[role.value for role in Role])


class ProgramUpdatePage(RoutablePageMixin, Page):  # noqa: DJ008 (Page defines __str__)
    """One program update (news), under the ProgramUpdateIndexPage; editors draft it, leadership publishes it."""

    summary = models.CharField(
        max_length=300, help_text="One or two sentences, shown in the list of updates and on Home."
    )
    body = StreamField(BodyBlock(), blank=True)
    audience_everyone = models.BooleanField(
        "for everyone", default=True, help_text="Untick to send the update only to chosen departments and/or roles."
    )
    audience_departments = ParentalManyToManyField(
        "portal.Department",
        blank=True,
        related_name="+",
        verbose_name="departments",
        help_text="Only people in these departments (if roles are chosen too, they must also hold one of them).",
    )
    audience_roles = ParentalManyToManyField(
        "auth.Group",
        blank=True,
        related_name="+",
        verbose_name="roles",
        limit_choices_to=role_groups_only,
        help_text="Only people with one of these roles (if departments are chosen too, only in those departments).",
    )
    requires_acknowledgement = models.BooleanField(
        default=False, help_text="Readers are asked to confirm they have read it, and reminded until they do."
    )
    expires_on = models.DateField(
        null=True,
        blank=True,
        help_text="After this date the update leaves Home and reminders stop; it stays readable in the list.",
    )
    critical = models.BooleanField(
        default=False, help_text="E-mailed to everyone in the audience, even people who turned these e-mails off."
    )

    base_form_class = ProgramUpdateForm
    content_panels = [
        *Page.content_panels,
        FieldPanel("summary"),
        FieldPanel("body"),
        MultiFieldPanel(
            [
                FieldPanel("audience_everyone"),
                FieldPanel("audience_departments", widget=forms.CheckboxSelectMultiple),
                FieldPanel("audience_roles", widget=forms.CheckboxSelectMultiple),
            ],
            heading="Audience",
        ),
        MultiFieldPanel(
            [FieldPanel("requires_acknowledgement"), FieldPanel("expires_on"), FieldPanel("critical")],
            heading="Reading and reach",
        ),
    ]
    search_fields = [*Page.search_fields, index.SearchField("summary"), index.SearchField("body")]
    parent_page_types = ["cms.ProgramUpdateIndexPage"]
    subpage_types: list[str] = []

    class Meta:
        verbose_name = "program update"

    @property
    def is_expired(self) -> bool:
        return self.expires_on is not None and self.expires_on < timezone.localdate()

    @property
    def event_key(self) -> str:
        """The publish notification's key: one per update, whatever how often it is published."""
        return f"update:{self.pk}:published"

    def _allowed(self, request) -> bool:
        return selectors.update_is_for(user=request.user, update=self) or selectors.can_manage_updates(request.user)

    @path("")
    def read(self, request):
        if not self._allowed(request):
            raise Http404
        # Previews (editors) and people outside the audience do not count as readers.
        if not getattr(request, "is_preview", False) and selectors.update_is_for(user=request.user, update=self):
            from cms import services

            services.update_read_record(update_id=self.pk, actor=request.user)
        return self.render(request)

    @path("acknowledge/")
    def acknowledge(self, request):
        from django.contrib import messages
        from django.http import HttpResponseNotAllowed

        from cms import services

        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"], "Acknowledge with the button on the update.")
        if not selectors.update_is_for(user=request.user, update=self):
            raise Http404
        try:
            services.update_acknowledge(update_id=self.pk, actor=request.user)
        except services.UpdateError as exc:
            from django.http import HttpResponseBadRequest

            return HttpResponseBadRequest(str(exc))
        messages.success(request, "Thank you: your acknowledgement is recorded.")
        return redirect(self.url)

    @path("reach/csv/")
    def reach_csv(self, request):
        import csv

        from django.http import HttpResponse

        if not selectors.can_manage_updates(request.user):
            raise Http404
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="update-{self.pk}-reach.csv"'
        writer = csv.writer(response)
        writer.writerow(["Department", "Audience", "Opened", "Opened %", "Acknowledged", "Acknowledged %"])
        reach = selectors.update_reach(update=self)
        for row in [*reach.rows, reach.total]:
            writer.writerow(
                [
                    row.department,
                    row.audience,
                    row.opened,
                    row.opened_percent,
                    row.acknowledged,
                    row.acknowledged_percent,
                ]
            )
        return response

    def get_context(self, request, *args, **kwargs):
        context = super().get_context(request, *args, **kwargs)
        user = request.user
        context["in_audience"] = selectors.update_is_for(user=user, update=self)
        context["acknowledged"] = bool(
            selectors.acknowledged_update_ids(user=user, update_ids=[self.pk])
            if self.requires_acknowledgement
            else False
        )
        if selectors.can_manage_updates(user):
            context["reach"] = selectors.update_reach(update=self)
            context["audience_label"] = selectors.audience_label(self)
        return context


class UpdateReceipt(models.Model):
    """One person's reading of one program update: when they first opened it and when they acknowledged it."""

    update = models.ForeignKey(ProgramUpdatePage, on_delete=models.CASCADE, related_name="receipts")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="update_receipts")
    read_at = models.DateTimeField()
    acknowledged_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["update", "user"], name="one_receipt_per_person_update")]

    def __str__(self):
        return f"{self.user} read update {self.update_id}"
