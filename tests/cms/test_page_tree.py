"""Where each intranet page type may sit in the tree."""

import pytest
from django.core.exceptions import ValidationError
from wagtail.models import Page
from wagtail.test.utils import WagtailPageTestCase

from cms.models import (
    HomePage,
    ProgramUpdateIndexPage,
    ProgramUpdatePage,
    SpecialtyIndexPage,
    SpecialtyPage,
    StandardPage,
)
from tests.factories import SpecialtyFactory


class PageTreeRulesTests(WagtailPageTestCase):
    def test_standard_page_sits_under_home_or_another_standard_page(self):
        self.assertAllowedParentPageTypes(StandardPage, {HomePage, StandardPage})
        self.assertCanCreateAt(HomePage, StandardPage)
        self.assertCanCreateAt(StandardPage, StandardPage)
        self.assertCanNotCreateAt(SpecialtyIndexPage, StandardPage)
        self.assertCanNotCreateAt(SpecialtyPage, StandardPage)

    def test_standard_page_holds_only_standard_pages(self):
        self.assertAllowedSubpageTypes(StandardPage, {StandardPage})

    def test_specialty_index_sits_under_home_and_holds_only_specialty_pages(self):
        self.assertAllowedParentPageTypes(SpecialtyIndexPage, {HomePage})
        self.assertAllowedSubpageTypes(SpecialtyIndexPage, {SpecialtyPage})
        self.assertCanNotCreateAt(StandardPage, SpecialtyIndexPage)

    def test_specialty_page_sits_only_under_the_specialty_index_and_has_no_children(self):
        self.assertAllowedParentPageTypes(SpecialtyPage, {SpecialtyIndexPage})
        self.assertAllowedSubpageTypes(SpecialtyPage, set())
        self.assertCanNotCreateAt(HomePage, SpecialtyPage)
        self.assertCanNotCreateAt(StandardPage, SpecialtyPage)

    def test_update_index_sits_under_home_and_holds_only_updates(self):
        self.assertAllowedParentPageTypes(ProgramUpdateIndexPage, {HomePage})
        self.assertAllowedSubpageTypes(ProgramUpdateIndexPage, {ProgramUpdatePage})
        self.assertCanNotCreateAt(StandardPage, ProgramUpdateIndexPage)

    def test_update_sits_only_under_the_update_index_and_has_no_children(self):
        self.assertAllowedParentPageTypes(ProgramUpdatePage, {ProgramUpdateIndexPage})
        self.assertAllowedSubpageTypes(ProgramUpdatePage, set())
        self.assertCanNotCreateAt(HomePage, ProgramUpdatePage)
        self.assertCanNotCreateAt(StandardPage, ProgramUpdatePage)

    def test_home_and_standard_pages_cannot_hold_updates(self):
        self.assertCanNotCreateAt(HomePage, ProgramUpdatePage)
        self.assertCanNotCreateAt(SpecialtyIndexPage, ProgramUpdatePage)

    def test_new_page_types_cannot_be_site_roots(self):
        for page_type in (StandardPage, SpecialtyIndexPage, SpecialtyPage, ProgramUpdateIndexPage, ProgramUpdatePage):
            self.assertCanNotCreateAt(Page, page_type)

    def test_there_is_one_specialty_index(self):
        from portal.demo import seed_demo_home_page

        seed_demo_home_page()
        home = HomePage.objects.get()
        self.assertTrue(SpecialtyIndexPage.can_create_at(home))
        home.add_child(instance=SpecialtyIndexPage(title="Specialties", slug="specialties"))

        self.assertFalse(SpecialtyIndexPage.can_create_at(home))

    def test_there_is_one_update_index(self):
        from portal.demo import seed_demo_home_page

        seed_demo_home_page()
        home = HomePage.objects.get()
        home.add_child(instance=ProgramUpdateIndexPage(title="Program updates", slug="updates"))

        self.assertFalse(ProgramUpdateIndexPage.can_create_at(home))


def test_a_specialty_has_at_most_one_page(db):
    from portal.demo import seed_demo_home_page

    seed_demo_home_page()
    specialty = SpecialtyFactory()
    index = HomePage.objects.get().add_child(instance=SpecialtyIndexPage(title="Specialties", slug="specialties"))
    index.add_child(instance=SpecialtyPage(title="One", slug="one", specialty=specialty))

    with pytest.raises(ValidationError, match="already exists"):
        index.add_child(instance=SpecialtyPage(title="Two", slug="two", specialty=specialty))
