"""Session lifetime and the two-factor requirement, enforced on every request."""

from __future__ import annotations

import time

from allauth.mfa.models import Authenticator
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpResponse
from django.shortcuts import redirect
from django.urls import reverse

SESSION_STARTED_KEY = "portal_auth_started_at"
SESSION_ACTIVITY_KEY = "portal_last_activity_at"
SESSION_TWO_FACTOR_KEY = "portal_two_factor_ok"
# Writing the activity stamp on every request would save the session every
# time; a few seconds of slack on a 15-minute idle limit saves most writes.
ACTIVITY_WRITE_GRANULARITY_SECONDS = 15


def passive_session(view_func):
    """Mark a view whose requests do not count as activity (e.g. a badge poll)."""
    view_func.passive_session = True
    return view_func


class SessionTimeoutMiddleware:
    """Sign out after idle time and after an absolute lifetime.

    Activity is any request to a view that is not marked ``passive_session``,
    so an open page polling the unread count does not keep a session alive.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        if not request.user.is_authenticated:
            return None
        session = request.session
        now = time.time()
        started = session.get(SESSION_STARTED_KEY)
        last = session.get(SESSION_ACTIVITY_KEY)
        if started is None:
            session[SESSION_STARTED_KEY] = session[SESSION_ACTIVITY_KEY] = now
            return None
        idle_limit = settings.SESSION_IDLE_TIMEOUT.total_seconds()
        absolute_limit = settings.SESSION_ABSOLUTE_LIFETIME.total_seconds()
        if now - started > absolute_limit:
            return self._end(
                request, f"You were signed out after {_hours(absolute_limit)} signed in. Please sign in again."
            )
        if last is not None and now - last > idle_limit:
            return self._end(
                request, f"You were signed out after {_minutes(idle_limit)} without activity. Please sign in again."
            )
        if not getattr(view_func, "passive_session", False) and (
            last is None or now - last >= ACTIVITY_WRITE_GRANULARITY_SECONDS
        ):
            session[SESSION_ACTIVITY_KEY] = now
        return None

    def _end(self, request, message):
        logout(request)
        messages.info(request, message)
        login_url = reverse(settings.LOGIN_URL)
        if getattr(request, "htmx", False):
            # An open page learns it was signed out and leaves for the sign-in
            # page, so patient data does not stay on an unattended screen.
            response = HttpResponse(status=200)
            response["HX-Redirect"] = login_url
            return response
        return redirect(f"{login_url}?next={request.path}")


def _minutes(seconds: float) -> str:
    minutes = int(seconds // 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


def _hours(seconds: float) -> str:
    hours = int(seconds // 3600)
    return f"{hours} hour{'s' if hours != 1 else ''}"


def two_factor_exempt(view_func):
    """Mark a view reachable before two-factor is set up (sign-out, health)."""
    view_func.two_factor_exempt = True
    return view_func


class RequireTwoFactorMiddleware:
    """Send people who can see patient data to set up two-factor before any other page."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        if not settings.MFA_REQUIRED_FOR_PATIENT_DATA:
            return None
        user = request.user
        if not user.is_authenticated or request.session.get(SESSION_TWO_FACTOR_KEY):
            return None
        if getattr(view_func, "two_factor_exempt", False) or _is_account_view(view_func):
            return None
        if not user.can_see_patient_data:
            return None
        if Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists():
            request.session[SESSION_TWO_FACTOR_KEY] = True
            return None
        messages.warning(request, "Set up two-factor authentication to continue: your role can see patient data.")
        if getattr(request, "htmx", False):
            response = HttpResponse(status=200)
            response["HX-Redirect"] = reverse("mfa_activate_totp")
            return response
        return redirect("mfa_activate_totp")


def _is_account_view(view_func) -> bool:
    # allauth's own pages (sign-out, two-factor set-up, e-mail, password).
    module = getattr(view_func, "__module__", "") or ""
    return module.startswith("allauth.")
