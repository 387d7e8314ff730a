"""Site views of the portal: health, protected media, notification centre."""

from __future__ import annotations

import mimetypes
import posixpath
from pathlib import Path

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils._os import safe_join
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from portal import selectors, services
from portal.forms import NotificationPreferencesForm
from portal.health import run_health_checks
from portal.middleware import passive_session, two_factor_exempt


@login_not_required
@two_factor_exempt
@never_cache
@require_GET
def health(request):
    """Database, cache/broker and worker reachability as JSON; 503 when one is down."""
    report = run_health_checks()
    return JsonResponse(report, status=200 if report["status"] == "ok" else 503)


@require_GET
def protected_media(request, path: str):
    """Serve uploaded images and documents to signed-in people only."""
    normalized = posixpath.normpath(path).lstrip("/")
    try:
        full_path = Path(safe_join(settings.MEDIA_ROOT, normalized))
    except Exception as exc:  # SuspiciousFileOperation: path escapes MEDIA_ROOT
        raise Http404("No such file") from exc
    if not full_path.is_file():
        raise Http404("No such file")
    if settings.MEDIA_X_ACCEL_REDIRECT_PREFIX:
        response = HttpResponse()
        response["X-Accel-Redirect"] = f"{settings.MEDIA_X_ACCEL_REDIRECT_PREFIX.rstrip('/')}/{normalized}"
        response["Content-Type"] = mimetypes.guess_type(full_path.name)[0] or "application/octet-stream"
    else:
        response = FileResponse(full_path.open("rb"))
    response["Cache-Control"] = "private, max-age=3600"
    return response


def notification_list(request):
    """The notification centre: everything, or only what is unread."""
    only_unread = request.GET.get("show") == "unread"
    page = Paginator(selectors.notifications_for(user=request.user, only_unread=only_unread), 25).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "portal/notification_list.html",
        {"page_obj": page, "only_unread": only_unread, "unread_count": selectors.unread_count(user=request.user)},
    )


@require_GET
def notification_open(request, notification_id: int):
    """Follow a notification's link and mark it read: what a click on it in the centre does."""
    link = services.notification_open(user=request.user, notification_id=notification_id)
    if link is None:
        raise Http404("No such notification of yours.")
    # Links are portal paths written by the services; anything else goes back to the centre.
    if not link or not url_has_allowed_host_and_scheme(link, allowed_hosts=None) or not link.startswith("/"):
        return redirect("notification_list")
    return redirect(link)


@passive_session
@require_GET
def notification_badge(request):
    """The header's unread badge, polled by htmx; does not count as activity."""
    return render(
        request, "portal/includes/notification_badge.html", {"unread_count": selectors.unread_count(user=request.user)}
    )


def notification_preferences(request):
    current = selectors.notification_preferences_for(user=request.user)
    form = NotificationPreferencesForm(request.POST or None, initial=current)
    if request.method == "POST" and form.is_valid():
        services.notification_preferences_set(user=request.user, deliveries=form.cleaned_data)
        messages.success(request, "Your notification preferences are saved.")
        return redirect("notification_preferences")
    return render(request, "portal/notification_preferences.html", {"form": form})
