"""Intranet search finds the new pages and specialties, never patient data."""

import pytest

from tests.factories import PATIENT_MARKER, SpecialtyFactory

pytestmark = pytest.mark.django_db


def test_search_finds_a_standard_page_by_a_word_in_its_body(client, clinician, two_factor_ready, add_standard_page):
    add_standard_page(
        title="Working with interpreters",
        body=[("rich_text", "<p>Book an interpreter through the language line before the teleconsultation.</p>")],
    )
    two_factor_ready(clinician)

    html = client.get("/search/?q=teleconsultation").content.decode()

    assert "Working with interpreters" in html


def test_search_finds_a_specialty_page_by_a_word_in_its_body(client, clinician, two_factor_ready, add_specialty_page):
    add_specialty_page(
        specialty=SpecialtyFactory(name="Rheumatology", slug="rheumatology"),
        body=[("rich_text", "<p>We review suspected vasculitis and connective tissue disease.</p>")],
    )
    two_factor_ready(clinician)

    html = client.get("/search/?q=vasculitis").content.decode()

    assert 'href="/specialties/rheumatology/"' in html


def test_search_lists_specialties_by_name_with_a_refer_link(client, clinician, two_factor_ready, home_page):
    SpecialtyFactory(name="Gastroenterology", slug="gastroenterology")
    two_factor_ready(clinician)

    html = client.get("/search/?q=gastro").content.decode()

    assert "Gastroenterology" in html
    assert 'href="/refer/?specialty=gastroenterology"' in html


def test_search_never_finds_patient_data(client, make_user, two_factor_ready, home_page, referral_through):
    from portal.roles import Role

    specialty = SpecialtyFactory()
    referral_through(specialty, "accepted")
    two_factor_ready(make_user(Role.COORDINATOR))

    for term in (PATIENT_MARKER, PATIENT_MARKER.split()[1], "MRN-0042"):
        html = client.get("/search/", {"q": term}).content.decode()
        assert "No pages match" in html
        assert 'id="specialty-results-heading"' not in html
