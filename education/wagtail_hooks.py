"""Leadership and administrators assign required training in Wagtail's admin (a snippet).

Records of who read and passed what are not editable here: only education.services writes them.
"""

from django.contrib import messages
from django.shortcuts import redirect
from wagtail import hooks
from wagtail.snippets.models import register_snippet
from wagtail.snippets.views.snippets import SnippetViewSet

from education import selectors
from education.models import CourseAssignment, CourseIndexPage, CoursePage


class CourseAssignmentViewSet(SnippetViewSet):
    model = CourseAssignment
    icon = "date"
    menu_label = "Required training"
    menu_order = 320
    add_to_admin_menu = True
    list_display = ["course", "due_date", "recertify_every_months", "note"]
    list_filter = ["due_date"]


register_snippet(CourseAssignmentViewSet)


@hooks.register("before_delete_page")
def keep_courses_that_hold_training_records(request, page):
    """Refuse, with a reason, to delete a course someone has a record of; unpublishing keeps the record."""
    if not isinstance(page.specific_deferred, (CoursePage, CourseIndexPage)):
        return None
    if not selectors.page_has_training_records(page):
        return None
    messages.error(
        request,
        f"“{page.title}” holds staff training records, so it cannot be deleted. Unpublish it instead.",
    )
    return redirect("wagtailadmin_pages:edit", page.pk)
