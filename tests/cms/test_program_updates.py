"""Program updates reach only their audience: the list, the page, search and the editor's audience rule."""

from __future__ import annotations

import pytest
from bs4 import BeautifulSoup

from portal.roles import Role
from tests.factories import DepartmentFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def oncology():
    return DepartmentFactory(name="Oncology", code="onc")


@pytest.fixture
def emergency():
    return DepartmentFactory(name="Emergency Medicine", code="ed")


def _listed_titles(client, index) -> list[str]:
    soup = BeautifulSoup(client.get(index.url).content, "html.parser")
    return [a.get_text(strip=True) for a in soup.select("ul.program-updates h2 a")]


def test_an_update_for_everyone_is_listed_and_opens_for_anyone(
    client, make_user, two_factor_ready, update_index, add_update
):
    update = add_update(title="One-click referrals from the EHR toolbar")
    two_factor_ready(make_user(Role.CLINICIAN))

    assert _listed_titles(client, update_index) == ["One-click referrals from the EHR toolbar"]
    assert client.get(update.url).status_code == 200


def test_a_department_update_is_listed_for_its_department_only(
    client, make_user, two_factor_ready, update_index, add_update, oncology, emergency
):
    add_update(title="Tumour board moves to Thursdays", departments=[oncology])
    add_update(title="For everyone")

    two_factor_ready(make_user(Role.CLINICIAN, department=oncology))
    assert _listed_titles(client, update_index) == ["For everyone", "Tumour board moves to Thursdays"]

    two_factor_ready(make_user(Role.CLINICIAN, department=emergency))
    assert _listed_titles(client, update_index) == ["For everyone"]


def test_someone_outside_the_audience_gets_404_for_the_update(
    client, make_user, two_factor_ready, add_update, oncology, emergency
):
    update = add_update(departments=[oncology])
    two_factor_ready(make_user(Role.CLINICIAN, department=emergency))

    assert client.get(update.url).status_code == 404


def test_a_role_update_opens_for_holders_of_the_role_in_any_department(
    client, make_user, two_factor_ready, add_update, oncology, emergency
):
    update = add_update(roles=[Role.REVIEWER])

    two_factor_ready(make_user(Role.REVIEWER, department=emergency))
    assert client.get(update.url).status_code == 200
    two_factor_ready(make_user(Role.CLINICIAN, department=oncology))
    assert client.get(update.url).status_code == 404


def test_departments_and_roles_together_mean_people_matching_both(
    client, make_user, two_factor_ready, add_update, oncology, emergency
):
    update = add_update(departments=[oncology], roles=[Role.REVIEWER])

    two_factor_ready(make_user(Role.REVIEWER, department=oncology))
    assert client.get(update.url).status_code == 200
    two_factor_ready(make_user(Role.REVIEWER, department=emergency))
    assert client.get(update.url).status_code == 404
    two_factor_ready(make_user(Role.CLINICIAN, department=oncology))
    assert client.get(update.url).status_code == 404


def test_leadership_outside_the_audience_may_open_the_update_to_see_its_reach(
    client, make_user, two_factor_ready, add_update, oncology, emergency
):
    update = add_update(departments=[oncology])
    two_factor_ready(make_user(Role.LEADERSHIP, department=emergency))

    response = client.get(update.url)

    assert response.status_code == 200
    assert 'id="reach-heading"' in response.content.decode()


def test_search_finds_an_update_only_for_its_audience(
    client, make_user, two_factor_ready, add_update, oncology, emergency
):
    add_update(
        title="Chemotherapy day unit hours", summary="The infusion suite opens at seven.", departments=[oncology]
    )

    two_factor_ready(make_user(Role.CLINICIAN, department=oncology))
    assert "Chemotherapy day unit hours" in client.get("/search/?q=infusion").content.decode()
    two_factor_ready(make_user(Role.CLINICIAN, department=emergency))
    assert "Chemotherapy day unit hours" not in client.get("/search/?q=infusion").content.decode()


def test_index_query_count_does_not_grow_with_the_number_of_updates(
    client,
    make_user,
    two_factor_ready,
    update_index,
    add_update,
    oncology,
    django_assert_max_num_queries,
    count_queries,
):
    two_factor_ready(make_user(Role.CLINICIAN, department=oncology))
    for i in range(3):
        add_update(title=f"Update {i}", requires_acknowledgement=True)
    client.get(update_index.url)
    with count_queries() as small:
        client.get(update_index.url)
    for i in range(3, 20):
        add_update(title=f"Update {i}", departments=[oncology] if i % 2 else (), requires_acknowledgement=True)

    with django_assert_max_num_queries(len(small)):
        response = client.get(update_index.url)

    assert len(_listed_titles(client, update_index)) == 20
    assert response.status_code == 200


def _admin_add_form_data(**overrides):
    from wagtail.test.utils.form_data import nested_form_data, streamfield

    data = nested_form_data(
        {
            "title": "Patient data handling",
            "slug": "patient-data-handling",
            "summary": "Read before Monday.",
            "body": streamfield([]),
            "expires_on": "",
        }
    )
    data.update(overrides)  # lists stay lists: the client posts one value per item
    return data


def test_editor_must_choose_an_audience(client, editor, two_factor_ready, update_index):
    from django.urls import reverse

    from cms.models import ProgramUpdatePage

    two_factor_ready(editor)
    url = reverse("wagtailadmin_pages:add", args=("cms", "programupdatepage", update_index.pk))

    response = client.post(url, _admin_add_form_data())

    assert response.status_code == 200
    assert "Choose who this update is for" in response.content.decode()
    assert not ProgramUpdatePage.objects.exists()


def test_editor_saves_a_department_update_through_the_admin(client, editor, two_factor_ready, update_index, oncology):
    from django.urls import reverse

    from cms.models import ProgramUpdatePage

    two_factor_ready(editor)
    url = reverse("wagtailadmin_pages:add", args=("cms", "programupdatepage", update_index.pk))

    response = client.post(url, _admin_add_form_data(audience_departments=[str(oncology.pk)]))

    assert response.status_code == 302
    update = ProgramUpdatePage.objects.get()
    assert list(update.get_latest_revision_as_object().audience_departments.all()) == [oncology]
