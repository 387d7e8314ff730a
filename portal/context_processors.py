from django.conf import settings
from django.utils.functional import SimpleLazyObject

from portal import selectors
from portal.roles import Role


def portal(request):
    """Names, role flags for the navigation, the unread count, and the demo two-factor notice."""
    user = getattr(request, "user", None)
    roles = {}
    unread_count = 0
    if user is not None and user.is_authenticated:
        # Counted only if the page renders the header's badge.
        unread_count = SimpleLazyObject(lambda: selectors.unread_count(user=user))
        roles = {
            # Referring (and following one's referrals) needs a role that may see patient data.
            "can_refer": user.can_see_patient_data,
            "is_editor": user.has_role(Role.EDITOR),
            "is_reviewer": user.has_role(Role.REVIEWER),
            "is_coordinator": user.has_role(Role.COORDINATOR),
            "is_leadership": user.has_role(Role.LEADERSHIP),
            "is_administrator": user.has_role(Role.ADMINISTRATOR),
        }
    return {
        "PORTAL_NAME": settings.PORTAL_NAME,
        "HOSPITAL_NAME": settings.HOSPITAL_NAME,
        "TWO_FACTOR_RELAXED": not settings.MFA_REQUIRED_FOR_PATIENT_DATA,
        "NOTIFICATION_POLL_SECONDS": settings.NOTIFICATION_POLL_SECONDS,
        "WAGTAIL_ADMIN_URL": f"/{settings.WAGTAIL_ADMIN_PREFIX}",
        "roles": roles,
        "unread_count": unread_count,
    }
