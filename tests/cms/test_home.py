"""The home page leads to the intranet's top-level pages."""

import os

import pytest

from cms.demo import seed_demo_intranet
from education.demo import seed_demo_courses
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
    with django_assert_max_num_queries(HOME_MAX_QUERIES[Role.CLINICIAN]):
        assert client.get("/").status_code == 200
    seed_demo_intranet()
    client.get("/")  # Wagtail re-caches the site's root paths once after publishing
    with django_assert_max_num_queries(HOME_MAX_QUERIES[Role.CLINICIAN]):
        assert client.get("/").status_code == 200


# --- Per-role blocks -----------------------------------------------------------------


def _sections(html) -> set[str]:
    from bs4 import BeautifulSoup

    return {s["id"] for s in BeautifulSoup(html, "html.parser").select("main section[id^=home-]")}


@pytest.mark.parametrize(
    ("roles", "expected"),
    [
        ((Role.CLINICIAN,), {"home-my-referrals", "home-credit"}),
        ((Role.CLINICIAN, Role.REVIEWER), {"home-my-referrals", "home-open-cases", "home-credit"}),
        ((Role.COORDINATOR,), {"home-my-referrals", "home-credit"}),
        ((Role.LEADERSHIP,), set()),
        ((Role.EDITOR,), set()),
    ],
)
def test_each_role_sees_only_its_blocks(client, make_user, home_page, two_factor_ready, roles, expected):
    two_factor_ready(make_user(*roles))

    html = client.get("/").content.decode()

    everyone = {"home-updates", "home-training", "home-leaderboard"}
    assert _sections(html) == everyone | expected
    assert ('id="action-refer"' in html) == ("home-my-referrals" in expected)


def test_my_referrals_by_step_counts_each_step(
    client, make_user, home_page, two_factor_ready, django_capture_on_commit_callbacks
):
    from referrals import services
    from tests.factories import SpecialtyFactory, referral_data

    referrer, coordinator = make_user(Role.CLINICIAN), make_user(Role.COORDINATOR)
    specialty = SpecialtyFactory()
    made = [services.referral_create(actor=referrer, data=referral_data(specialty))[0] for _ in range(3)]
    services.referral_accept(referral_id=made[0].pk, actor=coordinator)
    two_factor_ready(referrer)

    from bs4 import BeautifulSoup

    soup = BeautifulSoup(client.get("/").content, "html.parser")
    figures = {dd["data-status"]: dd.get_text(strip=True) for dd in soup.select("#home-my-referrals dd")}
    assert figures == {"submitted": "2", "accepted": "1"}


def test_open_cases_in_my_specialties_counts_the_queue_per_specialty(
    client, make_user, home_page, two_factor_ready, referral_through
):
    from bs4 import BeautifulSoup

    from tests.factories import SpecialtyFactory

    neurology = SpecialtyFactory(name="Neurology", slug="neurology")
    rheumatology = SpecialtyFactory(name="Rheumatology", slug="rheumatology")
    cardiology = SpecialtyFactory(name="Cardiology", slug="cardiology")
    for specialty, n in ((neurology, 2), (rheumatology, 1), (cardiology, 3)):
        for _ in range(n):
            referral_through(specialty, "accepted")
    two_factor_ready(make_user(Role.CLINICIAN, Role.REVIEWER, review_specialties=[neurology, rheumatology]))

    soup = BeautifulSoup(client.get("/").content, "html.parser")

    rows = [t.get_text(strip=True) for t in soup.select("#home-open-cases dt, #home-open-cases dd")]
    assert rows == ["Neurology", "2", "Rheumatology", "1"]


def test_latest_updates_show_only_current_updates_for_my_audience(client, make_user, two_factor_ready, add_update):
    import datetime

    from tests.factories import DepartmentFactory

    oncology, emergency = DepartmentFactory(name="Oncology", code="onc"), DepartmentFactory(code="ed")
    add_update(title="For oncology", departments=[oncology])
    add_update(title="For the emergency department", departments=[emergency])
    add_update(title="Read and acknowledge", requires_acknowledgement=True)
    add_update(title="Expired news", expires_on=datetime.date(2020, 1, 1))
    two_factor_ready(make_user(Role.CLINICIAN, department=oncology))

    from bs4 import BeautifulSoup

    soup = BeautifulSoup(client.get("/").content, "html.parser")
    items = [li.get_text(" ", strip=True) for li in soup.select("#home-updates li")]
    assert [i.split(" ·")[0] for i in items] == ["Read and acknowledge Please read and acknowledge", "For oncology"]


def test_empty_home_says_what_to_do_next(client, make_user, home_page, two_factor_ready):
    two_factor_ready(make_user(Role.CLINICIAN, Role.REVIEWER))

    html = client.get("/").content.decode()

    assert "You have not referred a patient yet" in html
    assert "No cases are waiting in your specialties right now" in html
    assert "There are no current updates for you" in html
    assert "Your referral and review credit will appear here" in html
    assert "Nothing required of you is due" in html
    assert "No credit has been earned yet this month" in html


# Measured per role with one update and the demo's required training
# (25/26/23/19/23/19: the page, my referrals, cases, updates, my credit and rank,
# training due, the departments' board), plus one of headroom; the point is
# they do not grow.
# Without Redis the cache is a database table: the session and the calendar are
# read from it (the suite's SQLite run on a bare machine).
WITHOUT_REDIS_EXTRA = 0 if os.environ.get("REDIS_URL") else 2
HOME_MAX_QUERIES = {
    Role.CLINICIAN: 26,
    Role.REVIEWER: 27,
    Role.COORDINATOR: 24,
    Role.LEADERSHIP: 20,
    Role.ADMINISTRATOR: 24,
    Role.EDITOR: 20,
}


@pytest.mark.parametrize("role", list(HOME_MAX_QUERIES))
def test_home_query_count_per_role_does_not_grow_with_pages_updates_or_referrals(
    client,
    make_user,
    home_page,
    two_factor_ready,
    add_update,
    referral_through,
    django_assert_max_num_queries,
    role,
    count_queries,
):
    from referrals import services
    from tests.factories import SpecialtyFactory, referral_data

    specialty = SpecialtyFactory()
    person = make_user(role, review_specialties=[specialty] if role == Role.REVIEWER else [])
    two_factor_ready(person)
    add_update(title="First", requires_acknowledgement=True)
    # Required training for clinicians and reviewers (its own query count is
    # shown not to grow with assignments in tests/education).
    seed_demo_courses()
    client.get("/")
    with count_queries() as small:
        assert client.get("/").status_code == 200
    assert len(small) <= HOME_MAX_QUERIES[role] + WITHOUT_REDIS_EXTRA

    seed_demo_intranet()
    for i in range(8):
        add_update(title=f"Update {i}", requires_acknowledgement=bool(i % 2), critical=i == 3)
        referral_through(specialty, "accepted")
        if person.can_see_patient_data:
            services.referral_create(actor=person, data=referral_data(specialty))
    client.get("/")  # Wagtail re-caches the site's root paths once after publishing

    with django_assert_max_num_queries(len(small)):
        assert client.get("/").status_code == 200


def test_home_shows_my_credit_my_training_and_the_leading_departments(
    client, make_user, home_page, two_factor_ready, referral_through
):
    from bs4 import BeautifulSoup

    from referrals import services
    from tests.factories import DepartmentFactory, SpecialtyFactory, referral_data

    cardiology = DepartmentFactory(name="Cardiology department", code="card")
    me = make_user(Role.CLINICIAN, department=cardiology)
    coordinator = make_user(Role.COORDINATOR)
    specialty = SpecialtyFactory()
    referral, _ = services.referral_create(actor=me, data=referral_data(specialty))
    services.referral_accept(referral_id=referral.pk, actor=coordinator)  # +1 for me and my department
    seed_demo_courses()
    two_factor_ready(me)

    soup = BeautifulSoup(client.get("/").content, "html.parser")

    assert soup.select_one("#home-credit-points").get_text(strip=True) == "1"
    assert soup.select_one("#home-credit-rank").get_text(strip=True) == "1 of 1"
    training = soup.select_one("#home-training").get_text(" ", strip=True)
    assert "Second opinions in our strategy" in training and "Due" in training
    board = [li.get_text(" ", strip=True) for li in soup.select("#home-leaderboard li")]
    assert board == ["1. Cardiology department 1 point"]


def test_home_query_count_is_the_same_whether_the_latest_updates_ask_for_acknowledgement(
    client, make_user, home_page, two_factor_ready, add_update, count_queries
):
    two_factor_ready(make_user(Role.CLINICIAN))
    add_update(title="Please confirm the new triage rule", requires_acknowledgement=True)
    client.get("/")
    with count_queries() as asking:
        assert client.get("/").status_code == 200

    # Newer updates that ask nothing push it off the home page's short list.
    for i in range(5):
        add_update(title=f"News {i}")
    client.get("/")  # Wagtail re-caches the site's root paths once after publishing
    with count_queries() as not_asking:
        html = client.get("/").content.decode()

    assert "Please confirm the new triage rule" not in html
    assert len(not_asking) == len(asking)


def test_home_marks_the_updates_i_acknowledged(client, make_user, home_page, two_factor_ready, add_update):
    from bs4 import BeautifulSoup

    from cms import services

    person = make_user(Role.CLINICIAN)
    two_factor_ready(person)
    done = add_update(title="Acknowledged already", requires_acknowledgement=True)
    add_update(title="Still to acknowledge", requires_acknowledgement=True)
    services.update_acknowledge(update_id=done.pk, actor=person)

    soup = BeautifulSoup(client.get("/").content, "html.parser")
    badges = {
        li.a.get_text(strip=True): [b.get_text(strip=True) for b in li.select(".badge")]
        for li in soup.select("#home-updates li")
    }
    assert badges == {"Acknowledged already": ["Acknowledged"], "Still to acknowledge": ["Please read and acknowledge"]}
