"""Admin UI for the intranet: the stale-pages report. Hooks register UI only."""

from django.urls import path, reverse
from wagtail import hooks
from wagtail.admin.menu import MenuItem
from wagtail.permissions import page_permission_policy

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
