"""Every intranet page type renders for every role, in a fixed number of queries."""

from __future__ import annotations

import pytest
from bs4 import BeautifulSoup
from django.db import connection
from django.test.utils import CaptureQueriesContext

from portal.roles import Role
from tests.cms.conftest import EVERY_ROLE
from tests.factories import PATIENT_MARKER, SpecialtyFactory

pytestmark = pytest.mark.django_db

# Upper bounds per page view, measured with headroom; the point is that they do not grow.
MAX_QUERIES = {"standard": 13, "index": 14, "specialty": 18}


def _standard_body(specialties):
    return [
        ("heading", {"text": "How a referral moves", "level": "h2"}),
        ("rich_text", "<p>The program office checks every referral within one business day.</p>"),
        ("callout", {"tone": "info", "text": "<p>Urgent cases are triaged the same day.</p>"}),
        (
            "faq",
            {
                "items": [
                    {"question": f"Question {i}?", "answer": f"<p>Answer {i}.</p>"} for i in range(len(specialties))
                ]
            },
        ),
        *[("refer", {"heading": "Refer a patient", "text": "", "specialty": s}) for s in specialties],
    ]


class Scenario:
    """One page of a type, and a way to grow what it shows from 3 to 30 items."""

    def __init__(self, kind, add_standard_page, specialty_index, add_specialty_page, make_user):
        self.kind = kind
        self.add_standard_page = add_standard_page
        self.specialty_index = specialty_index
        self.add_specialty_page = add_specialty_page
        self.make_user = make_user
        self.items = 0
        self.page = None

    def grow_to(self, n):
        if self.kind == "standard":
            specialties = [SpecialtyFactory() for _ in range(n)]
            if self.page is None:
                self.page = self.add_standard_page(title="Referral guide", body=_standard_body(specialties))
            else:
                self.page.body = _standard_body(specialties)
                self.page.save_revision().publish()
        elif self.kind == "index":
            for _ in range(n - self.items):
                self.add_specialty_page()
            self.page = self.specialty_index
        else:
            if self.page is None:
                self.page = self.add_specialty_page(
                    body=[("rich_text", "<p>Second opinions on inflammatory arthritis.</p>")]
                )
            for i in range(n - self.items):
                self.make_user(Role.REVIEWER, review_specialties=[self.page.specialty], title=f"Attending {i}")
        self.items = n
        return self.page


@pytest.fixture
def scenario(add_standard_page, specialty_index, add_specialty_page, make_user):
    def _make(kind):
        return Scenario(kind, add_standard_page, specialty_index, add_specialty_page, make_user)

    return _make


def _queries_for(client, url) -> tuple[int, object]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    return len(queries), response


@pytest.mark.parametrize("role", EVERY_ROLE)
@pytest.mark.parametrize("kind", ["standard", "index", "specialty"])
def test_page_renders_for_every_role_in_queries_that_do_not_grow(
    client, make_user, two_factor_ready, scenario, django_assert_max_num_queries, role, kind
):
    build = scenario(kind)
    page = build.grow_to(3)
    two_factor_ready(make_user(role))
    client.get(page.url)  # warm the site-root cache, as any earlier page view would

    small, response = _queries_for(client, page.url)
    assert response.status_code == 200
    build.grow_to(30)
    with django_assert_max_num_queries(MAX_QUERIES[kind]):
        response = client.get(page.url)
    large, _ = _queries_for(client, page.url)

    assert response.status_code == 200
    assert large == small, f"{kind} page: {small} queries with 3 items, {large} with 30"
    html = response.content.decode()
    assert html.count("<h1") == 1


def test_specialty_page_has_the_refer_button_and_no_patient_data(
    client, make_user, two_factor_ready, add_specialty_page, referral_through
):
    specialty = SpecialtyFactory(name="Rheumatology", slug="rheumatology")
    page = add_specialty_page(specialty=specialty)
    referral_through(specialty, "accepted")
    referral_through(specialty, "opinion_delivered")
    two_factor_ready(make_user(Role.CLINICIAN, Role.REVIEWER, review_specialties=[specialty]))

    html = client.get(page.url).content.decode()

    soup = BeautifulSoup(html, "html.parser")
    buttons = [a for a in soup.find("main").find_all("a") if "Refer to this specialty" in a.get_text()]
    assert [a["href"] for a in buttons] == ["/refer/?specialty=rheumatology"]
    assert PATIENT_MARKER not in html
    assert "MRN-0042" not in html
    assert "Is surgery the right next step" not in html  # the clinical question stays in the referral


def test_specialty_page_shows_reviewers_names_and_titles_and_live_figures(
    client, make_user, two_factor_ready, add_specialty_page, referral_through
):
    specialty = SpecialtyFactory(name="Neurology", slug="neurology")
    page = add_specialty_page(specialty=specialty)
    reviewer = make_user(
        Role.REVIEWER, review_specialties=[specialty], first_name="Jonas", last_name="Berg", title="Neurologist"
    )
    referral_through(specialty, "accepted")
    referral_through(specialty, "accepted")
    two_factor_ready(make_user(Role.CLINICIAN))

    html = client.get(page.url).content.decode()

    soup = BeautifulSoup(html, "html.parser")
    reviewers = soup.find(id="reviewers-heading").find_parent("section").get_text(" ", strip=True)
    assert "Jonas Berg" in reviewers and "Neurologist" in reviewers
    assert reviewer.email not in html
    figures = soup.find("dl", class_="cms-figures").get_text(" ", strip=True)
    assert "Open cases waiting for a reviewer 2" in figures
    assert "No opinions delivered in this period yet." in figures


def test_refer_block_links_to_the_form_with_its_specialty(client, clinician, two_factor_ready, add_standard_page):
    cardiology = SpecialtyFactory(name="Cardiology", slug="cardiology")
    page = add_standard_page(
        body=[
            ("refer", {"heading": "Heart question?", "text": "Ask cardiology.", "specialty": cardiology}),
            ("refer", {"heading": "Not sure who?", "text": "", "specialty": None}),
        ]
    )
    two_factor_ready(clinician)

    soup = BeautifulSoup(client.get(page.url).content.decode(), "html.parser")

    hrefs = [a["href"] for a in soup.select("aside.cms-refer a.btn")]
    assert hrefs == ["/refer/?specialty=cardiology", "/refer/"]


def test_faq_uses_details_without_inline_script(client, clinician, two_factor_ready, add_standard_page):
    page = add_standard_page(
        body=[("faq", {"items": [{"question": "Who pays?", "answer": "<p>Usually the insurer.</p>"}]})]
    )
    two_factor_ready(clinician)

    soup = BeautifulSoup(client.get(page.url).content.decode(), "html.parser").find("main")

    details = soup.find("details", class_="cms-faq-item")
    assert details.summary.get_text(strip=True) == "Who pays?"
    assert soup.find("script") is None


def test_specialty_index_lists_only_live_specialty_pages(
    client, clinician, two_factor_ready, specialty_index, add_specialty_page
):
    add_specialty_page(specialty=SpecialtyFactory(name="Cardiology", slug="cardiology"))
    draft = add_specialty_page(specialty=SpecialtyFactory(name="Gastroenterology", slug="gastroenterology"))
    draft.unpublish()
    two_factor_ready(clinician)

    html = client.get(specialty_index.url).content.decode()

    assert "Cardiology" in html
    assert "Gastroenterology" not in html


def test_pages_need_sign_in(client, add_standard_page, add_specialty_page):
    page = add_standard_page()
    specialty_page = add_specialty_page()

    for url in (page.url, specialty_page.url):
        response = client.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_intranet_pages_keep_the_strict_content_security_policy(
    client, make_user, two_factor_ready, add_standard_page, specialty_index, add_specialty_page
):
    from tests.portal.test_csp_and_layout import _assert_strict_page

    standard = add_standard_page(body=_standard_body([SpecialtyFactory()]))
    specialty_page = add_specialty_page(body=[("callout", {"tone": "warning", "text": "<p>Bring imaging.</p>"})])
    two_factor_ready(make_user(Role.CLINICIAN, Role.REVIEWER, Role.COORDINATOR, Role.LEADERSHIP))

    for url in (standard.url, specialty_index.url, specialty_page.url, "/search/?q=referral"):
        response = client.get(url)
        assert response.status_code == 200, url
        _assert_strict_page(response)
