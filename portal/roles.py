"""The portal's roles: Django groups with permissions.

A person may hold several roles (a physician both refers and reviews). The
groups and their permissions are kept in step by ``role_groups_sync`` after
every migration, so a fresh database always has them.
"""

from django.db import models


class Role(models.TextChoices):
    CLINICIAN = "Clinician", "Clinician (referrer)"
    REVIEWER = "Reviewer", "Reviewing physician"
    COORDINATOR = "Coordinator", "Program coordinator"
    LEADERSHIP = "Leadership", "Leadership / editor"
    ADMINISTRATOR = "Administrator", "Administrator"
    # Drafts intranet pages and program updates and submits them; Leadership approves and publishes.
    EDITOR = "Editor", "Intranet editor (submits for approval)"


def role_choices() -> list[tuple[str, str]]:
    """The roles as field choices (a callable, so adding a role needs no migration)."""
    return Role.choices


def role_groups_only() -> models.Q:
    """Limits a group field to the portal's role groups (a callable, for the same reason)."""
    return models.Q(name__in=Role.values)


# Roles whose members can see a referral's patient data (PRODUCT.md, "Protected
# health information"); two-factor is required for them. Leadership sees
# aggregates only.
PATIENT_DATA_ROLES = frozenset({Role.CLINICIAN, Role.REVIEWER, Role.COORDINATOR, Role.ADMINISTRATOR})

# Permissions per role as "app_label.codename". Apps that arrive later add
# their own codenames here; a codename whose model does not exist yet is skipped.
ROLE_PERMISSIONS: dict[str, list[str]] = {
    Role.CLINICIAN: [],
    Role.REVIEWER: [],
    Role.COORDINATOR: [
        "wagtailadmin.access_admin",
        "referrals.view_serviceleveltarget",
        "referrals.view_holiday",
        "referrals.add_holiday",
        "referrals.change_holiday",
        "portal.view_department",
        "portal.view_specialty",
        "portal.view_profile",
    ],
    Role.LEADERSHIP: [
        "wagtailadmin.access_admin",
        "portal.view_department",
        "portal.view_specialty",
        *[f"education.{verb}_courseassignment" for verb in ("add", "change", "delete", "view")],
    ],
    Role.EDITOR: ["wagtailadmin.access_admin"],
    Role.ADMINISTRATOR: [
        "wagtailadmin.access_admin",
        "portal.add_department",
        "portal.change_department",
        "portal.delete_department",
        "portal.view_department",
        "portal.add_specialty",
        "portal.change_specialty",
        "portal.delete_specialty",
        "portal.view_specialty",
        "portal.add_user",
        "portal.change_user",
        "portal.view_user",
        "portal.change_profile",
        "portal.view_profile",
        "auth.view_group",
        "referrals.add_serviceleveltarget",
        "referrals.change_serviceleveltarget",
        "referrals.delete_serviceleveltarget",
        "referrals.view_serviceleveltarget",
        "referrals.add_holiday",
        "referrals.change_holiday",
        "referrals.delete_holiday",
        "referrals.view_holiday",
        *[f"education.{verb}_courseassignment" for verb in ("add", "change", "delete", "view")],
        "referrals.change_creditrule",
        "referrals.view_creditrule",
    ],
}


# Wagtail permissions over the whole page tree and the root collection (images,
# documents), as "app_label.codename". Leadership writes and publishes the
# intranet; administrators get the same to fix content.
ROLE_PAGE_PERMISSIONS: dict[str, list[str]] = {
    Role.LEADERSHIP: ["wagtailcore.add_page", "wagtailcore.change_page", "wagtailcore.publish_page"],
    Role.ADMINISTRATOR: ["wagtailcore.add_page", "wagtailcore.change_page", "wagtailcore.publish_page"],
    # Editors write but do not publish: their changes go through the moderation workflow.
    Role.EDITOR: ["wagtailcore.add_page", "wagtailcore.change_page"],
}
ROLE_COLLECTION_PERMISSIONS: dict[str, list[str]] = {
    role: [
        "wagtailimages.add_image",
        "wagtailimages.choose_image",
        "wagtaildocs.add_document",
        "wagtaildocs.choose_document",
    ]
    for role in (Role.LEADERSHIP, Role.ADMINISTRATOR, Role.EDITOR)
}


# Roles that write program updates and see every update's reach (cms.selectors.can_manage_updates).
UPDATE_MANAGER_ROLES = frozenset({Role.LEADERSHIP, Role.ADMINISTRATOR, Role.EDITOR})
