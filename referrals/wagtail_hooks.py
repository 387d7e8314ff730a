"""Administrators set service-level targets, office holidays and credit rules in Wagtail's admin.

Referrals themselves are not editable here: only referrals.services writes them.
"""

from wagtail.admin.panels import FieldPanel, HelpPanel
from wagtail.permission_policies.base import ModelPermissionPolicy
from wagtail.snippets.models import register_snippet
from wagtail.snippets.views.snippets import SnippetViewSet, SnippetViewSetGroup

from referrals.models import CreditRule, Holiday, ServiceLevelTarget


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


# --- Credit rules: administrators edit the points; the services award by code -----------


class CreditRulePermissionPolicy(ModelPermissionPolicy):
    """Rules are seeded, one per code the services award: edit them, never add or delete one."""

    def user_has_permission(self, user, action):
        if action in ("add", "delete", "copy"):
            return False
        return super().user_has_permission(user, action)


class CreditRuleViewSet(SnippetViewSet):
    model = CreditRule
    icon = "pick"
    menu_label = "Credit rules"
    menu_order = 320
    add_to_admin_menu = True
    list_display = ["name", "points", "is_active"]
    panels = [
        HelpPanel(
            content=(
                "<p>Credit is recognition only: points are never redeemable and never part of pay. "
                "A change here applies to credit earned from now on; entries already awarded keep "
                "their points.</p>"
            )
        ),
        FieldPanel("name"),
        FieldPanel("points"),
        FieldPanel("is_active"),
        FieldPanel("description"),
    ]

    @property
    def permission_policy(self):
        return CreditRulePermissionPolicy(self.model)


register_snippet(CreditRuleViewSet)
