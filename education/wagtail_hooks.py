"""Leadership and administrators assign required training in Wagtail's admin (a snippet).

Records of who read and passed what are not editable here: only education.services writes them.
"""

from wagtail.snippets.models import register_snippet
from wagtail.snippets.views.snippets import SnippetViewSet

from education.models import CourseAssignment


class CourseAssignmentViewSet(SnippetViewSet):
    model = CourseAssignment
    icon = "date"
    menu_label = "Required training"
    menu_order = 320
    add_to_admin_menu = True
    list_display = ["course", "due_date", "recertify_every_months", "note"]
    list_filter = ["due_date"]


register_snippet(CourseAssignmentViewSet)
