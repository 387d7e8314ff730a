"""Who sees a referral's patient data: every referral URL × every person × every state.

The rule (PRODUCT.md, "Protected health information"): the referrer, the
coordinators and the claiming reviewer see patient data; reviewers of the
specialty see the case without name or record number while it is open in the
queue; leadership sees aggregates only; nobody else sees anything. Every
response that shows patient data is logged and not cached.
"""

from __future__ import annotations

import itertools

import pytest
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from django.db import transaction
from django.test import Client

from referrals.models import PatientDataAccess
from referrals.views import ACTIONS
from referrals.workflow import Status
from tests.factories import PATIENT_MARKER

pytestmark = pytest.mark.django_db

MRN = "MRN-0042"  # tests.factories.referral_data's record number
PEOPLE = ["referrer", "coordinator", "reviewer", "second_reviewer", "other_reviewer", "leader", "bystander"]
OWNED = {Status.CLAIMED, Status.IN_REVIEW, Status.OPINION_DELIVERED, Status.CLOSED}


def _may_see_patient_data(person: str, status: Status) -> bool:
    if person in ("referrer", "coordinator"):
        return True
    return person == "reviewer" and status in OWNED  # walk_to has "reviewer" claim every case


def _shows_patient_data(response) -> bool:
    body = response.content.decode(errors="replace")
    return PATIENT_MARKER in body or MRN in body


@pytest.fixture
def clients(cast):
    out = {}
    for person in PEOPLE:
        user = getattr(cast, person)
        TOTP.activate(user, generate_totp_secret())
        client = Client()
        client.force_login(user)
        out[person] = client
    return out


@pytest.fixture
def referrals_by_state(referral_in):
    return {status: referral_in(status) for status in Status}


def test_detail_pages_show_patient_data_only_to_those_with_a_reason(cast, clients, referrals_by_state):
    leaks, misses = [], []
    for (status, referral), person in itertools.product(referrals_by_state.items(), PEOPLE):
        response = clients[person].get(f"/referrals/{referral.reference}/")
        allowed = _may_see_patient_data(person, status)
        if _shows_patient_data(response) and not allowed:
            leaks.append((person, status, response.status_code))
        if allowed:
            if response.status_code != 200 or not _shows_patient_data(response):
                misses.append((person, status, response.status_code))
            assert "no-store" in response["Cache-Control"]
            assert PatientDataAccess.objects.filter(
                user=getattr(cast, person), referral=referral, view="referral_detail"
            ).exists()
        elif person in ("reviewer", "second_reviewer") and status == Status.ACCEPTED:
            assert response.status_code == 200  # the queue view: the case, without identifiers
        else:
            assert response.status_code == 404, (person, status)
    assert leaks == []
    assert misses == []


def test_every_action_url_leaks_nothing_to_people_without_a_reason(cast, clients, referrals_by_state):
    leaks = []
    for (status, referral), person, slug in itertools.product(referrals_by_state.items(), PEOPLE, ACTIONS):
        with transaction.atomic():
            response = clients[person].post(f"/referrals/{referral.reference}/{slug}/", {})
            if _shows_patient_data(response) and not _may_see_patient_data(person, status):
                leaks.append((person, status, slug, response.status_code))
            assert response.status_code != 500, (person, status, slug)
            transaction.set_rollback(True)
    assert leaks == []


@pytest.mark.parametrize(
    ("path", "who_sees_patient_data"),
    [
        ("/referrals/mine/", {"referrer"}),
        ("/review/", set()),
        ("/review/mine/", {"reviewer"}),
        ("/coordinator/", {"coordinator"}),
    ],
)
def test_lists_show_patient_data_only_to_those_with_a_reason(clients, referrals_by_state, path, who_sees_patient_data):
    for person in PEOPLE:
        response = clients[person].get(path)
        assert _shows_patient_data(response) == (person in who_sees_patient_data), (path, person)
        if person in who_sees_patient_data:
            assert "no-store" in response["Cache-Control"]


def test_the_queue_never_shows_identifiers_even_to_the_specialtys_reviewers(clients, referrals_by_state):
    response = clients["second_reviewer"].get("/review/")

    assert response.status_code == 200
    assert referrals_by_state[Status.ACCEPTED].reference in response.content.decode()
    assert not _shows_patient_data(response)


def test_leadership_sees_no_referral_at_all(clients, referrals_by_state):
    for referral in referrals_by_state.values():
        assert clients["leader"].get(f"/referrals/{referral.reference}/").status_code == 404
    for path in ["/referrals/mine/", "/coordinator/", "/refer/"]:
        assert clients["leader"].get(path).status_code == 403
