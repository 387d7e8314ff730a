"""factory-boy factories that build people through portal.services."""

from __future__ import annotations

import factory

from portal import services
from portal.models import Department, Specialty

TEST_PASSWORD = "a-long-test-password-41"


class DepartmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Department
        django_get_or_create = ("code",)

    name = factory.Sequence(lambda n: f"Department {n}")
    code = factory.Sequence(lambda n: f"dept{n}")
    headcount = 50


class SpecialtyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Specialty
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Specialty {n}")
    slug = factory.Sequence(lambda n: f"specialty-{n}")


class UserFactory(factory.Factory):
    """Calls services.user_create, so tests travel the real path."""

    class Meta:
        model = dict  # built by _create below

    email = factory.Sequence(lambda n: f"person{n}@riverside.example.org")
    password = TEST_PASSWORD
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    department = factory.SubFactory(DepartmentFactory)
    roles = ()
    review_specialties = ()
    email_verified = True

    @classmethod
    def _create(cls, model_class, **kwargs):
        services.role_groups_sync()
        return services.user_create(**kwargs)

    _build = _create


PATIENT_MARKER = "Zyxwq Markerpatient"  # planted in test patients' names; must appear nowhere else


def referral_data(specialty, **overrides) -> dict:
    """A valid referral form's data (what services.referral_create takes)."""
    import datetime

    data = {
        "patient_name": PATIENT_MARKER,
        "patient_mrn": "MRN-0042",
        "patient_dob": datetime.date(1961, 5, 17),
        "specialty": specialty,
        "question": "Is surgery the right next step, or is active surveillance reasonable?",
        "reason_category": "confirm_surgery",
        "urgency": "routine",
        "records_location": "internal",
        "coverage": "insurance",
        "patient_consented": True,
    }
    data.update(overrides)
    return data
