"""People, roles, departments and specialties; the demo seed."""

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command

from portal.models import Department, Profile, Specialty, User
from portal.roles import Role

pytestmark = pytest.mark.django_db


def test_every_role_exists_as_a_group_after_migrate():
    assert set(Group.objects.values_list("name", flat=True)) >= {r.value for r in Role}


def test_administrators_can_manage_departments_and_specialties_and_clinicians_cannot():
    administrators = Group.objects.get(name=Role.ADMINISTRATOR)
    clinicians = Group.objects.get(name=Role.CLINICIAN)
    codenames = set(administrators.permissions.values_list("codename", flat=True))

    assert {"add_department", "change_department", "add_specialty", "change_specialty"} <= codenames
    assert not clinicians.permissions.filter(codename__in=["change_department", "change_specialty"]).exists()


def test_a_person_can_hold_several_roles(make_user):
    physician = make_user(Role.CLINICIAN, Role.REVIEWER)

    assert physician.has_role(Role.CLINICIAN) and physician.has_role(Role.REVIEWER)
    assert not physician.has_role(Role.COORDINATOR)


def test_leadership_alone_cannot_see_patient_data_but_clinicians_can(make_user):
    assert not make_user(Role.LEADERSHIP).can_see_patient_data
    assert make_user(Role.CLINICIAN).can_see_patient_data


def test_email_is_the_login_and_is_unique_case_insensitively(make_user):
    from django.db import IntegrityError, transaction

    make_user(email="ana.lopez@riverside.example.org")
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create(email="Ana.Lopez@riverside.example.org")
    assert User.USERNAME_FIELD == "email"


def test_administrator_manages_specialties_in_wagtail_admin_and_a_clinician_cannot(client, make_user):
    from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret

    administrator = make_user(Role.ADMINISTRATOR)
    TOTP.activate(administrator, generate_totp_secret())
    client.force_login(administrator)

    response = client.post(
        "/cms-admin/snippets/portal/specialty/add/", {"name": "Urology", "slug": "urology", "is_active": "on"}
    )
    assert response.status_code == 302
    assert Specialty.objects.filter(slug="urology").exists()

    clinician = make_user(Role.CLINICIAN)
    TOTP.activate(clinician, generate_totp_secret())
    client.force_login(clinician)
    assert client.get("/cms-admin/snippets/portal/specialty/").status_code in (302, 403)


def test_seed_demo_creates_every_role_and_running_it_twice_changes_nothing(capsys):
    from referrals.models import Referral, ReferralEvent

    def counts():
        return [m.objects.count() for m in (User, Profile, Department, Specialty, Referral, ReferralEvent)]

    call_command("seed_demo")
    first_out = capsys.readouterr().out
    first = counts()

    call_command("seed_demo")

    assert counts() == first
    assert set(Referral.objects.values_list("status", flat=True)) >= {"submitted", "accepted", "in_review", "closed"}
    for role in Role:
        assert User.objects.filter(groups__name=role.value).exists(), role
    assert "second-opinion-demo" in first_out and "grace.lee@riverside.example.org" in first_out


def test_seed_demo_makes_the_home_page_the_site_root():
    from wagtail.models import Site

    from cms.models import HomePage

    call_command("seed_demo")
    call_command("seed_demo")

    assert HomePage.objects.count() == 1
    assert Site.objects.get(is_default_site=True).root_page.specific_class is HomePage


def test_leadership_can_create_and_publish_pages_and_a_clinician_cannot(client, make_user, home_page):
    from cms.models import StandardPage

    leader = make_user(Role.LEADERSHIP)
    client.force_login(leader)
    response = client.post(
        f"/cms-admin/pages/add/cms/standardpage/{home_page.pk}/",
        {"title": "Why second opinions matter", "slug": "why", "intro": "", "body-count": "0", "action-publish": "1"},
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    assert StandardPage.objects.get(slug="why").live

    clinician = make_user(Role.CLINICIAN)
    from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret

    TOTP.activate(clinician, generate_totp_secret())
    client.force_login(clinician)
    assert client.get(f"/cms-admin/pages/add/cms/standardpage/{home_page.pk}/").status_code in (302, 403)
