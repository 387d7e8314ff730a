"""The home page leads to the intranet's top-level pages."""

import pytest

from cms.demo import seed_demo_intranet
from portal.roles import Role

pytestmark = pytest.mark.django_db


def test_home_lists_the_program_pages_in_editors_order(client, make_user, home_page, two_factor_ready):
    seed_demo_intranet()
    two_factor_ready(make_user(Role.CLINICIAN))

    html = client.get("/").content.decode()

    assert 'id="program-heading"' in html
    assert "Why second opinions matter to our strategy" in html and "Specialties" in html
    assert html.index("Why second opinions matter") < html.index("Frequently asked questions")


def test_home_query_count_does_not_grow_with_the_number_of_pages(
    client, make_user, home_page, two_factor_ready, django_assert_max_num_queries
):
    two_factor_ready(make_user(Role.CLINICIAN))
    client.get("/")
    with django_assert_max_num_queries(17):
        assert client.get("/").status_code == 200
    seed_demo_intranet()
    client.get("/")  # Wagtail re-caches the site's root paths once after publishing
    with django_assert_max_num_queries(17):
        assert client.get("/").status_code == 200
