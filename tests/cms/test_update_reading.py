"""Reading and acknowledging program updates, reminders until acknowledged, and reach figures per department."""

from __future__ import annotations

import csv
import datetime
import io

import pytest
from bs4 import BeautifulSoup
from django.core import mail
from django.utils import timezone

from cms import services
from cms.models import UpdateReceipt
from portal.models import Notification
from portal.roles import Role
from tests.factories import DepartmentFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def oncology():
    return DepartmentFactory(name="Oncology", code="onc")


@pytest.fixture
def emergency():
    return DepartmentFactory(name="Emergency Medicine", code="ed")


@pytest.fixture
def required_update(add_update):
    return add_update(title="Handling patient data in referrals", requires_acknowledgement=True)


def _later(days: int) -> datetime.date:
    return timezone.localdate() + datetime.timedelta(days=days)


# --- Reads ---------------------------------------------------------------------------


def test_opening_an_update_records_one_read(client, clinician, two_factor_ready, required_update):
    two_factor_ready(clinician)

    client.get(required_update.url)
    first = UpdateReceipt.objects.get(update=required_update, user=clinician).read_at
    client.get(required_update.url)

    receipt = UpdateReceipt.objects.get(update=required_update, user=clinician)
    assert receipt.read_at == first
    assert receipt.acknowledged_at is None


def test_recording_a_read_twice_through_the_service_keeps_one_receipt(clinician, required_update):
    services.update_read_record(update_id=required_update.pk, actor=clinician)
    services.update_read_record(update_id=required_update.pk, actor=clinician)

    assert UpdateReceipt.objects.filter(update=required_update).count() == 1


def test_leadership_outside_the_audience_opening_the_update_is_not_counted_as_a_reader(
    client, make_user, two_factor_ready, add_update, oncology, emergency
):
    update = add_update(departments=[oncology])
    two_factor_ready(make_user(Role.LEADERSHIP, department=emergency))

    assert client.get(update.url).status_code == 200
    assert not UpdateReceipt.objects.exists()


# --- Acknowledgement --------------------------------------------------------------------


def test_i_have_read_this_records_the_acknowledgement_once(client, clinician, two_factor_ready, required_update):
    two_factor_ready(clinician)

    response = client.post(f"{required_update.url}acknowledge/")
    first = UpdateReceipt.objects.get(user=clinician).acknowledged_at
    client.post(f"{required_update.url}acknowledge/")

    assert response.status_code == 302
    assert first is not None
    assert UpdateReceipt.objects.get(user=clinician).acknowledged_at == first


def test_an_acknowledged_update_says_so_instead_of_showing_the_button(
    client, clinician, two_factor_ready, required_update
):
    two_factor_ready(clinician)
    html = client.get(required_update.url).content.decode()
    assert "I have read this" in html

    client.post(f"{required_update.url}acknowledge/")
    html = client.get(required_update.url).content.decode()

    assert "I have read this" not in html
    assert "You have acknowledged this update" in html


def test_acknowledge_refuses_get(client, clinician, two_factor_ready, required_update):
    two_factor_ready(clinician)

    assert client.get(f"{required_update.url}acknowledge/").status_code == 405
    assert not UpdateReceipt.objects.exists()


def test_acknowledging_an_update_that_does_not_ask_for_it_is_refused_with_a_reason(
    client, clinician, two_factor_ready, add_update
):
    update = add_update(requires_acknowledgement=False)
    two_factor_ready(clinician)

    response = client.post(f"{update.url}acknowledge/")

    assert response.status_code == 400
    assert "does not ask for an acknowledgement" in response.content.decode()
    assert not UpdateReceipt.objects.filter(acknowledged_at__isnull=False).exists()


def test_someone_outside_the_audience_cannot_acknowledge(
    client, make_user, two_factor_ready, add_update, oncology, emergency
):
    update = add_update(departments=[oncology], requires_acknowledgement=True)
    two_factor_ready(make_user(Role.CLINICIAN, department=emergency))

    assert client.post(f"{update.url}acknowledge/").status_code == 404
    assert not UpdateReceipt.objects.exists()


# --- Reminders ----------------------------------------------------------------------------


def _reminded(update) -> set[int]:
    return set(
        Notification.objects.filter(event_key__startswith=f"update:{update.pk}:reminder:").values_list(
            "recipient_id", flat=True
        )
    )


def test_reminders_go_to_the_audience_members_who_have_not_acknowledged(
    make_user, required_update, django_capture_on_commit_callbacks
):
    done, pending = make_user(Role.CLINICIAN), make_user(Role.REVIEWER)
    services.update_acknowledge(update_id=required_update.pk, actor=done)

    with django_capture_on_commit_callbacks(execute=True):
        count = services.update_reminders_send(today=_later(services.UPDATE_REMINDER_EVERY_DAYS))

    assert count == 1
    assert _reminded(required_update) == {pending.pk}
    assert [m.to for m in mail.outbox] == [[pending.email]]


def test_reminders_run_twice_in_a_period_remind_nobody_twice(
    make_user, required_update, django_capture_on_commit_callbacks
):
    make_user(Role.CLINICIAN)
    day = _later(services.UPDATE_REMINDER_EVERY_DAYS)

    with django_capture_on_commit_callbacks(execute=True):
        first = services.update_reminders_send(today=day)
        second = services.update_reminders_send(today=day + datetime.timedelta(days=1))

    assert (first, second) == (1, 0)


def test_a_new_period_brings_a_new_reminder_until_acknowledged(make_user, required_update):
    person = make_user(Role.CLINICIAN)
    every = services.UPDATE_REMINDER_EVERY_DAYS

    assert services.update_reminders_send(today=_later(every)) == 1
    assert services.update_reminders_send(today=_later(2 * every)) == 1
    services.update_acknowledge(update_id=required_update.pk, actor=person)
    assert services.update_reminders_send(today=_later(3 * every)) == 0


def test_no_reminder_in_the_first_period_after_publishing(make_user, required_update):
    make_user(Role.CLINICIAN)

    assert services.update_reminders_send(today=_later(services.UPDATE_REMINDER_EVERY_DAYS - 1)) == 0


def test_no_reminder_once_the_update_has_expired(make_user, add_update):
    make_user(Role.CLINICIAN)
    every = services.UPDATE_REMINDER_EVERY_DAYS
    add_update(requires_acknowledgement=True, expires_on=_later(every - 1))

    assert services.update_reminders_send(today=_later(every)) == 0


def test_no_reminder_for_an_update_that_does_not_ask_for_acknowledgement(make_user, add_update):
    make_user(Role.CLINICIAN)
    add_update(requires_acknowledgement=False)

    assert services.update_reminders_send(today=_later(services.UPDATE_REMINDER_EVERY_DAYS)) == 0


# --- Reach ----------------------------------------------------------------------------------


@pytest.fixture
def known_audience(make_user, add_update, oncology, emergency):
    """Oncology 3 (2 opened, 1 acknowledged), Emergency 2 (1 opened), plus a reader outside the audience."""
    update = add_update(
        title="Tumour board referrals", departments=[oncology, emergency], requires_acknowledgement=True
    )
    onc = [make_user(Role.CLINICIAN, department=oncology) for _ in range(3)]
    ed = [make_user(Role.CLINICIAN, department=emergency) for _ in range(2)]
    outsider = make_user(Role.CLINICIAN)
    for person in (onc[0], onc[1], ed[0], outsider):
        services.update_read_record(update_id=update.pk, actor=person)
    services.update_acknowledge(update_id=update.pk, actor=onc[0])
    return update


def test_reach_figures_by_department_for_a_known_audience(known_audience):
    from cms.selectors import update_reach

    reach = update_reach(update=known_audience)

    assert [(r.department, r.audience, r.opened, r.acknowledged) for r in reach.rows] == [
        ("Emergency Medicine", 2, 1, 0),
        ("Oncology", 3, 2, 1),
    ]
    assert (reach.total.audience, reach.total.opened, reach.total.acknowledged) == (5, 3, 1)
    assert (reach.total.opened_percent, reach.total.acknowledged_percent) == (60.0, 20.0)
    assert reach.rows[1].opened_percent == 66.7


def test_leadership_sees_the_reach_table_on_the_update(client, make_user, two_factor_ready, known_audience):
    two_factor_ready(make_user(Role.LEADERSHIP))

    soup = BeautifulSoup(client.get(known_audience.url).content, "html.parser")

    rows = [[c.get_text(strip=True) for c in tr.find_all(["th", "td"])] for tr in soup.select("table.reach-table tr")]
    assert rows[1:] == [
        ["Emergency Medicine", "2", "1 (50.0%)", "0 (0.0%)"],
        ["Oncology", "3", "2 (66.7%)", "1 (33.3%)"],
        ["All departments", "5", "3 (60.0%)", "1 (20.0%)"],
    ]


def test_reach_csv_export_has_the_same_figures(client, make_user, two_factor_ready, known_audience):
    two_factor_ready(make_user(Role.LEADERSHIP))

    response = client.get(f"{known_audience.url}reach/csv/")

    assert response["Content-Type"].startswith("text/csv")
    assert list(csv.reader(io.StringIO(response.content.decode()))) == [
        ["Department", "Audience", "Opened", "Opened %", "Acknowledged", "Acknowledged %"],
        ["Emergency Medicine", "2", "1", "50.0", "0", "0.0"],
        ["Oncology", "3", "2", "66.7", "1", "33.3"],
        ["All departments", "5", "3", "60.0", "1", "20.0"],
    ]


def test_readers_do_not_see_reach_figures_or_their_export(
    client, make_user, two_factor_ready, known_audience, oncology
):
    two_factor_ready(make_user(Role.CLINICIAN, department=oncology))

    assert 'id="reach-heading"' not in client.get(known_audience.url).content.decode()
    assert client.get(f"{known_audience.url}reach/csv/").status_code == 404


def test_update_page_query_count_does_not_grow_with_the_audience(
    client, make_user, two_factor_ready, add_update, oncology, emergency, django_assert_max_num_queries, count_queries
):
    update = add_update(departments=[oncology, emergency], requires_acknowledgement=True)
    two_factor_ready(make_user(Role.LEADERSHIP))
    for department in (oncology, emergency):
        make_user(Role.CLINICIAN, department=department)
    client.get(update.url)
    with count_queries() as small:
        client.get(update.url)
    for i in range(12):
        person = make_user(Role.CLINICIAN, department=oncology if i % 2 else emergency)
        services.update_read_record(update_id=update.pk, actor=person)

    with django_assert_max_num_queries(len(small)):
        assert client.get(update.url).status_code == 200
