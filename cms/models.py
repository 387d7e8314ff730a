"""Wagtail pages of the intranet."""

from wagtail.admin.panels import FieldPanel
from wagtail.fields import RichTextField
from wagtail.models import Page

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
        return context
