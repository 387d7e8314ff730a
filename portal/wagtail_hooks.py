"""Administrators manage departments and specialties from Wagtail's admin."""

from wagtail.snippets.models import register_snippet
from wagtail.snippets.views.snippets import SnippetViewSet, SnippetViewSetGroup

from portal.models import Department, Specialty


class DepartmentViewSet(SnippetViewSet):
    model = Department
    icon = "group"
    list_display = ["name", "code", "headcount"]
    search_fields = ["name", "code"]


class SpecialtyViewSet(SnippetViewSet):
    model = Specialty
    icon = "pick"
    list_display = ["name", "slug", "is_active"]
    search_fields = ["name"]


class OrganisationViewSetGroup(SnippetViewSetGroup):
    menu_label = "Organisation"
    menu_icon = "site"
    menu_order = 300
    items = (DepartmentViewSet, SpecialtyViewSet)


register_snippet(OrganisationViewSetGroup)
