"""Service-level targets and holidays are set in Wagtail's admin; referrals are not editable there."""

import pytest

from portal.roles import Role
from referrals.models import Holiday, ServiceLevelTarget

pytestmark = pytest.mark.django_db


def test_administrator_sets_a_specialty_target_and_a_holiday(client, make_user, two_factor_ready):
    from tests.factories import SpecialtyFactory

    specialty = SpecialtyFactory()
    two_factor_ready(make_user(Role.ADMINISTRATOR))

    target = client.post(
        "/cms-admin/snippets/referrals/serviceleveltarget/add/",
        {"clock": "review", "specialty": specialty.pk, "urgency": "routine", "business_days": 4},
    )
    holiday = client.post("/cms-admin/snippets/referrals/holiday/add/", {"date": "2026-12-25", "name": "Christmas Day"})

    assert target.status_code == holiday.status_code == 302
    assert ServiceLevelTarget.objects.get(specialty=specialty).business_days == 4
    assert Holiday.objects.filter(name="Christmas Day").exists()


def test_clinicians_cannot_reach_service_level_settings(client, make_user, two_factor_ready):
    two_factor_ready(make_user(Role.CLINICIAN))

    response = client.get("/cms-admin/snippets/referrals/serviceleveltarget/")

    assert response.status_code in (302, 403)


def test_referrals_are_not_registered_for_editing_in_any_admin():
    from django.contrib import admin
    from wagtail.snippets.models import get_snippet_models

    from referrals.models import Referral, ReferralEvent

    assert Referral not in admin.site._registry and ReferralEvent not in admin.site._registry
    assert Referral not in get_snippet_models()
