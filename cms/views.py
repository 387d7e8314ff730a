"""Intranet search, the admin's stale-pages report, and Leadership's "Publish to its audience".

Patient data is never indexed: search covers Wagtail pages and specialty names only.
Program updates are found only by the people in their audience.
"""

import datetime

from django.contrib import messages
from django.contrib.contenttypes.models import ContentType
from django.core.paginator import Paginator
from django.http import HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods
from wagtail.admin.utils import get_valid_next_url_from_request
from wagtail.admin.views.reports import PageReportView
from wagtail.models import Page
from wagtail.permissions import page_permission_policy

from cms import selectors, services
from cms.models import ProgramUpdatePage


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


@require_http_methods(["GET", "POST"])
def update_publish(request, page_id: int):
    """Leadership's "Publish to its audience" for a program update: GET confirms, POST only queues.

    A portal page (strict CSP, a plain form), linked from Wagtail's admin: outside
    the admin's URLs, the request skips the admin gate's permission and profile
    queries, and anyone refused gets a 403 saying why. The POST checks the publish
    permission and that the confirmed revision is still the latest, and queues one
    task with ids (cms.services.update_publish_queue); the Celery worker publishes
    (cms.services.update_publish_revision) and tells the person when it is live.
    """
    if request.method == "POST":
        # What the request's checks read, from the page row alone (half the cost of the update's whole join).
        updates = Page.objects.filter(content_type=ContentType.objects.get_for_model(ProgramUpdatePage)).only(
            "id",
            "path",
            "depth",
            "title",
            "draft_title",
            "has_unpublished_changes",
            "latest_revision_id",
            "content_type",  # Wagtail's publish permission reads it: deferred, it cost a query of its own
        )
    else:
        updates = ProgramUpdatePage.objects.defer_streamfields()
    update = get_object_or_404(updates, pk=page_id)
    next_url = get_valid_next_url_from_request(request) or reverse(
        "wagtailadmin_explore", args=[update.get_parent().pk]
    )

    def refused(reason: str):
        return render(
            request, "cms/update_publish.html", {"update": update, "refusal": reason, "next_url": next_url}, status=403
        )

    if request.method == "GET":
        refusal = selectors.update_publish_refusal(user=request.user, page=update)
        if refusal:
            return refused(refusal)
        preview = selectors.update_publish_preview(page=update)
        return render(request, "cms/update_publish.html", {"update": update, "preview": preview, "next_url": next_url})

    try:
        revision_id = int(request.POST.get("revision_id", ""))
    except ValueError:
        return HttpResponseBadRequest("Publish from the confirmation page: it names the version that goes live.")
    try:
        services.update_publish_queue(actor=request.user, update=update, revision_id=revision_id)
    except services.UpdatePublishRefused as exc:
        return refused(str(exc))
    except services.UpdatePublishStale as exc:
        messages.warning(request, str(exc))
        return redirect(request.get_full_path())
    except services.UpdateAlreadyLive as exc:
        messages.info(request, str(exc))
        return redirect(next_url)
    messages.success(
        request,
        f"Publishing “{update.draft_title}”: it goes live within a minute, and its audience is notified then. "
        "You'll be notified when it is live.",
    )
    return redirect(next_url)
