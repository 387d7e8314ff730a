"""Administrators set service-level targets and office holidays in Wagtail's admin.

Referrals themselves are not editable here: only referrals.services writes them.
"""

from wagtail.snippets.models import register_snippet
from wagtail.snippets.views.snippets import SnippetViewSet, SnippetViewSetGroup

from referrals.models import Holiday, ServiceLevelTarget


class ServiceLevelTargetViewSet(SnippetViewSet):
    model = ServiceLevelTarget
    icon = "time"
    list_display = ["clock", "specialty", "urgency", "business_days"]
    list_filter = ["clock", "urgency"]


class HolidayViewSet(SnippetViewSet):
    model = Holiday
    icon = "date"
    list_display = ["date", "name"]


class ServiceLevelViewSetGroup(SnippetViewSetGroup):
    menu_label = "Service levels"
    menu_icon = "time"
    menu_order = 310
    items = (ServiceLevelTargetViewSet, HolidayViewSet)


register_snippet(ServiceLevelViewSetGroup)
