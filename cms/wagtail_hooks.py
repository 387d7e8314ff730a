"""Admin UI for the intranet: the stale-pages report and "Publish to its audience". Hooks register UI only."""

from django.urls import path, reverse
from wagtail import hooks
from wagtail.admin.menu import MenuItem
from wagtail.admin.ui.menus.pages import PageMenuItem
from wagtail.permissions import page_permission_policy

from cms import selectors
from cms.views import StalePagesReportView


class StalePagesMenuItem(MenuItem):
    def is_shown(self, request):
        return page_permission_policy.user_has_any_permission(request.user, ["add", "change", "publish"])


@hooks.register("register_admin_urls")
def register_stale_pages_url():
    return [
        path("reports/stale-pages/", StalePagesReportView.as_view(), name="cms_stale_pages"),
        path(
            "reports/stale-pages/results/",
            StalePagesReportView.as_view(results_only=True),
            name="cms_stale_pages_results",
        ),
    ]


@hooks.register("register_reports_menu_item")
def register_stale_pages_menu_item():
    return StalePagesMenuItem(
        "Stale pages", reverse("cms_stale_pages"), name="stale-pages", icon_name="time", order=1150
    )


# --- Publish to its audience ------------------------------------------------------------


class PublishToAudienceButton(PageMenuItem):
    """Shown on a program update with unpublished changes, to people who may publish it now.

    It leads to the portal's confirmation page (cms.views.update_publish, outside the admin's URLs).
    """

    label = "Publish to its audience"
    icon_name = "upload"
    url_name = "cms_update_publish"

    def is_shown(self, user):
        from cms.models import ProgramUpdatePage

        page = self.page
        # Cheap tests first: listings call this for every row.
        if not page.has_unpublished_changes or not issubclass(page.specific_class or type(None), ProgramUpdatePage):
            return False
        return selectors.update_publish_refusal(user=user, page=page) is None


@hooks.register("register_page_header_buttons")
def update_publish_header_button(page, user, view_name, next_url=None):
    # The page editor's header and the page's own explorer view.
    yield PublishToAudienceButton(page=page, next_url=next_url, priority=5)


@hooks.register("register_page_listing_more_buttons")
def update_publish_listing_button(page, user, next_url=None):
    # The row's "more" menu in the list of updates.
    yield PublishToAudienceButton(page=page, next_url=next_url, priority=1)
