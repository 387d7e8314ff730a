"""Intranet search over published pages and specialties, and the stale-pages report.

Patient data is never indexed: search covers Wagtail pages and specialty names only.
Program updates are found only by the people in their audience.
"""

import datetime

from django.core.paginator import Paginator
from django.shortcuts import render
from wagtail.admin.views.reports import PageReportView
from wagtail.models import Page
from wagtail.permissions import page_permission_policy

from cms import selectors


def search(request):
    query = request.GET.get("q", "").strip()[:200]
    results = Page.objects.none()
    specialties = []
    if query:
        # Program updates reach only their audience, in search as everywhere.
        hidden = selectors.hidden_update_ids(user=request.user)
        results = Page.objects.live().public().exclude(id__in=hidden).specific().search(query)
        if not request.GET.get("page"):
            specialties = selectors.specialties_matching(query)
    page = Paginator(results, 20).get_page(request.GET.get("page"))
    return render(request, "cms/search.html", {"query": query, "page_obj": page, "specialties": specialties})


class StalePagesReportView(PageReportView):
    """Wagtail admin report: pages whose review-by date has passed, for editors."""

    results_template_name = "cms/reports/stale_pages_results.html"
    page_title = "Stale pages"
    header_icon = "time"
    index_url_name = "cms_stale_pages"
    index_results_url_name = "cms_stale_pages_results"
    any_permission_required = ["add", "change", "publish"]
    export_headings = {
        "review_by": "Review by",
        "status_string": "Status",
        "content_type.model_class._meta.verbose_name.title": "Type",
    }
    list_export = ["title", "review_by", "status_string", "content_type.model_class._meta.verbose_name.title"]

    def get_filename(self):
        return f"stale-pages-{datetime.date.today():%Y-%m-%d}"

    def get_queryset(self):
        editable = page_permission_policy.instances_user_has_permission_for(self.request.user, "change")
        self.queryset = selectors.stale_pages(editable.select_related("content_type"))
        return super().get_queryset()
