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
