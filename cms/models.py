"""Wagtail pages of the intranet."""

from django.db import models
from django.utils import timezone
from wagtail.admin.panels import FieldPanel
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
