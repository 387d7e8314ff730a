"""Editors can open Wagtail's add and edit forms for every intranet page type."""

import pytest
from django.urls import reverse

from tests.factories import SpecialtyFactory

pytestmark = pytest.mark.django_db


def test_add_forms_open_for_standard_and_specialty_pages(client, editor, two_factor_ready, home_page, specialty_index):
    SpecialtyFactory(name="Cardiology", slug="cardiology")
    two_factor_ready(editor)

    for model_name, parent in (("standardpage", home_page), ("specialtypage", specialty_index)):
        response = client.get(reverse("wagtailadmin_pages:add", args=["cms", model_name, parent.pk]))
        assert response.status_code == 200, model_name


def test_edit_form_opens_with_a_chosen_specialty_in_a_refer_block(
    client, editor, two_factor_ready, add_standard_page, add_specialty_page
):
    cardiology = SpecialtyFactory(name="Cardiology", slug="cardiology")
    page = add_standard_page(body=[("refer", {"heading": "Heart?", "text": "", "specialty": cardiology})])
    specialty_page = add_specialty_page(review_by="2030-01-01")
    two_factor_ready(editor)

    for target in (page, specialty_page):
        response = client.get(reverse("wagtailadmin_pages:edit", args=[target.pk]))
        assert response.status_code == 200
    assert "Cardiology" in client.get(reverse("wagtailadmin_pages:edit", args=[page.pk])).content.decode()
