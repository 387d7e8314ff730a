"""The referral screens: refer, my referrals, the review queue, my cases, the board, the detail page and its actions.

Every test patient is named ``PATIENT_MARKER``; the suite's sentinel checks
after each test that it stayed in the referral table.
"""

from __future__ import annotations

import datetime
import re
import threading
import uuid

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from portal.models import Profile
from portal.roles import Role
from referrals import selectors, services
from referrals.models import PatientDataAccess, Referral, ReferralEvent
from referrals.workflow import Status
from tests.factories import PATIENT_MARKER, SpecialtyFactory, referral_data
from tests.referrals.conftest import OPINION, walk_to

pytestmark = pytest.mark.django_db

INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
INLINE_HANDLER = re.compile(r"\son[a-z]+\s*=", re.IGNORECASE)
INLINE_STYLE = re.compile(r"<style\b|\sstyle\s*=", re.IGNORECASE)


def _today() -> datetime.date:
    return timezone.localdate()


def _form(cast, **overrides) -> dict:
    """What a clinician types into the referral form: the starred fields only."""
    data = {
        "submission_token": str(uuid.uuid4()),
        "patient_name": PATIENT_MARKER,
        "patient_mrn": "MRN-0042",
        "patient_dob": "1961-05-17",
        "specialty": cast.specialty.slug,
        "question": "Is surgery the right next step, or is active surveillance reasonable?",
        "patient_consented": "on",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def _detail(referral) -> str:
    return reverse("referral_detail", args=[referral.reference])


def _action(referral, slug: str) -> str:
    return reverse("referral_action", args=[referral.reference, slug])


def _actions_shown(html: str, referral) -> set[str]:
    return set(re.findall(rf'action="/referrals/{referral.reference}/([a-z-]+)/"', html))


def _other_client(user) -> Client:
    """A second browser, signed in as if two-factor was completed."""
    from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret

    TOTP.activate(user, generate_totp_secret())
    other = Client()
    other.force_login(user)
    return other


def _status(referral) -> str:
    return Referral.objects.get(pk=referral.pk).status


# --- The referral form ------------------------------------------------------------------------


def test_deep_link_prefills_specialty_mrn_name_dob_and_urgency(cast, two_factor_ready):
    client = two_factor_ready(cast.referrer)

    response = client.get(
        reverse("referral_create"),
        {"specialty": "cardiology", "mrn": "MRN-7", "name": PATIENT_MARKER, "dob": "1970-02-03", "urgency": "urgent"},
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert '<option value="cardiology" selected>' in html
    assert 'value="MRN-7"' in html
    assert f'value="{PATIENT_MARKER}"' in html
    assert 'value="1970-02-03"' in html
    assert re.search(r'<input[^>]*value="urgent"[^>]*checked', html)


def test_form_does_not_post_the_deep_link_back_into_a_url(cast, two_factor_ready):
    client = two_factor_ready(cast.referrer)

    html = client.get(reverse("referral_create"), {"mrn": "MRN-7", "name": PATIENT_MARKER}).content.decode()

    assert f'action="{reverse("referral_create")}"' in html
    assert "mrn=" not in html and "name=Zyxwq" not in html


def test_form_shows_referrer_and_department_from_the_profile_and_cannot_change_them(cast, two_factor_ready):
    client = two_factor_ready(cast.referrer)

    html = client.get(reverse("referral_create")).content.decode()

    line = html.split('id="referrer-line"', 1)[1].split("</p>", 1)[0]
    assert cast.referrer.get_full_name() in line
    assert cast.referrer.profile.department.name in line
    assert 'name="referrer"' not in html and 'name="department"' not in html


def test_form_requires_only_the_starred_fields(cast, two_factor_ready):
    client = two_factor_ready(cast.referrer)

    html = client.get(reverse("referral_create")).content.decode()

    required = set(re.findall(r'<input[^>]*name="([a-z_]+)"[^>]*required', html))
    required |= set(re.findall(r'<(?:select|textarea)[^>]*name="([a-z_]+)"[^>]*required', html))
    assert required == {"patient_name", "patient_mrn", "patient_dob", "specialty", "question", "patient_consented"}


def test_form_offers_active_specialties_only(cast, two_factor_ready):
    SpecialtyFactory(name="Retired specialty", slug="retired", is_active=False)
    client = two_factor_ready(cast.referrer)

    html = client.get(reverse("referral_create")).content.decode()

    assert 'value="cardiology"' in html and 'value="neurology"' in html
    assert 'value="retired"' not in html


def test_form_carries_a_fresh_submission_token(cast, two_factor_ready):
    client = two_factor_ready(cast.referrer)

    first = re.search(r'name="submission_token" value="([0-9a-f-]{36})"', client.get("/refer/").content.decode())
    second = re.search(r'name="submission_token" value="([0-9a-f-]{36})"', client.get("/refer/").content.decode())

    assert first and second and first.group(1) != second.group(1)


def test_submit_creates_one_referral_and_shows_its_reference(cast, two_factor_ready):
    client = two_factor_ready(cast.referrer)

    response = client.post(reverse("referral_create"), _form(cast), follow=True)

    referral = Referral.objects.get()
    assert re.fullmatch(r"SO-\d{4}-\d{6}", referral.reference)
    assert response.redirect_chain == [(_detail(referral), 302)]
    assert f"Referral {referral.reference} sent." in response.content.decode()
    assert (referral.referrer, referral.department) == (cast.referrer, cast.referrer.profile.department)
    assert (referral.status, referral.channel, referral.urgency) == (Status.SUBMITTED, "staff_portal", "routine")


def test_submit_keeps_the_optional_details(cast, two_factor_ready):
    client = two_factor_ready(cast.referrer)
    due = (_today() + datetime.timedelta(days=10)).isoformat()

    client.post(
        reverse("referral_create"),
        _form(
            cast,
            urgency="urgent",
            reason_category="confirm_surgery",
            diagnosis="Aortic stenosis",
            icd10_code="I35.0",
            decision_needed_by=due,
            records_location="outside",
            preferred_reviewer=str(cast.reviewer.pk),
            patient_phone="555-0100",
            preferred_language="Spanish",
            interpreter_needed="on",
            coverage="self_pay",
        ),
    )

    referral = Referral.objects.get()
    assert referral.urgency == "urgent" and referral.reason_category == "confirm_surgery"
    assert (referral.diagnosis, referral.icd10_code, referral.decision_needed_by.isoformat()) == (
        "Aortic stenosis",
        "I35.0",
        due,
    )
    assert (referral.records_location, referral.preferred_reviewer, referral.coverage) == (
        "outside",
        cast.reviewer,
        "self_pay",
    )
    assert referral.interpreter_needed and referral.preferred_language == "Spanish"


def test_double_submit_with_the_same_token_creates_one_referral_and_redirects_to_it(cast, two_factor_ready):
    client = two_factor_ready(cast.referrer)
    data = _form(cast)

    first = client.post(reverse("referral_create"), data)
    second = client.post(reverse("referral_create"), data)

    referral = Referral.objects.get()
    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"] == _detail(referral)
    assert ReferralEvent.objects.filter(kind=ReferralEvent.Kind.CREATED).count() == 1


@pytest.mark.postgres
def test_two_submits_at_once_with_the_same_token_create_one_referral(transactional_db, cast):
    browsers = [_other_client(cast.referrer), Client()]
    browsers[1].force_login(cast.referrer)
    data = _form(cast)
    start = threading.Barrier(len(browsers))
    responses = []

    def submit(browser):
        try:
            start.wait()
            responses.append(browser.post(reverse("referral_create"), data))
        finally:
            connection.close()

    threads = [threading.Thread(target=submit, args=(b,)) for b in browsers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    referral = Referral.objects.get()
    assert sorted(r.status_code for r in responses) == [302, 302]
    assert {r["Location"] for r in responses} == {_detail(referral)}


def test_invalid_form_keeps_what_was_typed_and_creates_nothing(cast, two_factor_ready):
    client = two_factor_ready(cast.referrer)
    data = _form(cast, patient_mrn="", question="Typed question, kept", patient_phone="555-0199")

    response = client.post(reverse("referral_create"), data)

    html = response.content.decode()
    assert response.status_code == 200
    assert Referral.objects.count() == 0
    assert f'value="{PATIENT_MARKER}"' in html and 'value="555-0199"' in html and "Typed question, kept" in html
    assert f'value="{data["submission_token"]}"' in html  # a corrected resubmit is still one referral
    mrn_field = html.split('id="div_id_patient_mrn"', 1)[1].split('id="div_id_', 1)[0]
    assert "This field is required." in mrn_field and "is-invalid" in mrn_field


def test_consent_is_required(cast, two_factor_ready):
    client = two_factor_ready(cast.referrer)

    response = client.post(reverse("referral_create"), _form(cast, patient_consented=None))

    assert response.status_code == 200
    assert "Confirm that the patient agreed to the referral." in response.content.decode()
    assert Referral.objects.count() == 0


def test_date_of_birth_must_be_in_the_past(cast, two_factor_ready):
    client = two_factor_ready(cast.referrer)

    response = client.post(reverse("referral_create"), _form(cast, patient_dob=_today().isoformat()))

    assert "The date of birth must be in the past." in response.content.decode()
    assert Referral.objects.count() == 0


def test_decision_needed_by_must_not_be_in_the_past(cast, two_factor_ready):
    client = two_factor_ready(cast.referrer)
    yesterday = (_today() - datetime.timedelta(days=1)).isoformat()

    response = client.post(reverse("referral_create"), _form(cast, decision_needed_by=yesterday))

    html = response.content.decode()
    assert "The decision date cannot be in the past." in html
    assert 'class="collapse show" id="more-details"' in html  # the error is not hidden in a folded section
    assert Referral.objects.count() == 0


def test_preferred_reviewer_must_review_the_chosen_specialty(cast, two_factor_ready):
    client = two_factor_ready(cast.referrer)

    response = client.post(reverse("referral_create"), _form(cast, preferred_reviewer=str(cast.other_reviewer.pk)))

    assert response.status_code == 200
    assert "does not review Cardiology" in response.content.decode()
    assert Referral.objects.count() == 0


def test_an_inactive_specialty_cannot_be_submitted(cast, two_factor_ready):
    SpecialtyFactory(name="Retired specialty", slug="retired", is_active=False)
    client = two_factor_ready(cast.referrer)

    response = client.post(reverse("referral_create"), _form(cast, specialty="retired"))

    assert response.status_code == 200
    assert Referral.objects.count() == 0


def test_a_specialty_no_slug_can_be_is_refused_next_to_the_field(cast, two_factor_ready):
    client = two_factor_ready(cast.referrer)

    response = client.post(reverse("referral_create"), _form(cast, specialty="cardio\x00logy"))

    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert Referral.objects.count() == 0


def test_leadership_cannot_open_the_referral_form(cast, client):
    client.force_login(cast.leader)

    assert client.get(reverse("referral_create")).status_code == 403


# --- My referrals ---------------------------------------------------------------------------------


def test_my_referrals_lists_every_referral_i_made_with_what_happens_next(cast, new_referral, two_factor_ready):
    submitted = new_referral()
    accepted = walk_to(Status.ACCEPTED, cast, new_referral())
    claimed = walk_to(Status.CLAIMED, cast, new_referral())
    logged_for_me, _ = services.referral_create(
        actor=cast.coordinator,
        data=referral_data(cast.specialty),
        channel="concierge",
        channel_partner="Partner Health",
        referrer=cast.referrer,
    )
    someone_elses, _ = services.referral_create(actor=cast.bystander, data=referral_data(cast.specialty))
    client = two_factor_ready(cast.referrer)

    html = client.get(reverse("my_referrals")).content.decode()

    for referral in (submitted, accepted, claimed, logged_for_me):
        assert referral.reference in html
    assert someone_elses.reference not in html
    assert "The program office triages it within 2 business days." in html
    assert "Waiting for a reviewer in Cardiology to claim it." in html
    assert f"Dr {cast.reviewer.get_full_name()} is reviewing" in html
    assert PATIENT_MARKER in html


@pytest.mark.parametrize(
    ("status", "wording"),
    [
        (Status.OPINION_DELIVERED, "Read the opinion; the office will close the loop."),
        (Status.CLOSED, "Outcome: scheduled for care here."),
        (Status.DECLINED, "declined it; the reason is on the referral."),
        (Status.CANCELLED, "Cancelled; nothing more will happen on it."),
        (Status.ENTERED_IN_ERROR, "entered in error"),
    ],
)
def test_my_referrals_says_what_happened_to_finished_referrals(status, wording, referral_in, cast, two_factor_ready):
    referral_in(status)
    client = two_factor_ready(cast.referrer)

    assert wording in client.get(reverse("my_referrals")).content.decode()


def test_my_referrals_shows_25_a_page(cast, new_referral, two_factor_ready):
    made = [new_referral() for _ in range(27)]
    client = two_factor_ready(cast.referrer)

    first = client.get(reverse("my_referrals")).content.decode()
    second = client.get(reverse("my_referrals"), {"page": 2}).content.decode()

    assert sum(r.reference in first for r in made) == 25
    assert sum(r.reference in second for r in made) == 2
    assert "Page 1 of 2" in first


# --- Review queue and my cases --------------------------------------------------------------------


def test_queue_shows_no_patient_name_or_mrn(cast, referral_in, two_factor_ready):
    referral = referral_in(Status.ACCEPTED)
    client = two_factor_ready(cast.reviewer)

    response = client.get(reverse("review_queue"))

    html = response.content.decode()
    assert referral.reference in html and referral.question in html
    assert PATIENT_MARKER not in html and referral.patient_mrn not in html
    assert "1961" not in html  # date of birth
    assert not PatientDataAccess.objects.exists()


def test_queue_lists_only_accepted_cases_in_my_specialties(cast, new_referral, referral_in, two_factor_ready):
    mine = referral_in(Status.ACCEPTED)
    not_triaged = new_referral()
    claimed = referral_in(Status.CLAIMED)
    elsewhere, _ = services.referral_create(actor=cast.referrer, data=referral_data(cast.other_specialty))
    services.referral_accept(referral_id=elsewhere.pk, actor=cast.coordinator)
    client = two_factor_ready(cast.second_reviewer)

    html = client.get(reverse("review_queue")).content.decode()

    assert mine.reference in html
    for hidden in (not_triaged, claimed, elsewhere):
        assert hidden.reference not in html


def test_queue_shows_what_a_reviewer_needs_to_decide(cast, new_referral, two_factor_ready):
    due = _today() + datetime.timedelta(days=9)
    referral = new_referral(urgency="urgent", decision_needed_by=due, interpreter_needed=True)
    services.referral_accept(referral_id=referral.pk, actor=cast.coordinator)
    client = two_factor_ready(cast.reviewer)

    row = client.get(reverse("review_queue")).content.decode().split(referral.reference, 1)[1].split("</tr>", 1)[0]

    assert "Confirm planned surgery" in row and "Urgent" in row and "Needed" in row
    assert due.strftime("%Y-%m-%d") in row
    assert _action(referral, "claim") in row


def test_queue_is_forbidden_without_the_reviewer_role(cast, two_factor_ready):
    client = two_factor_ready(cast.bystander)

    assert client.get(reverse("review_queue")).status_code == 403


def test_queue_sends_coordinators_to_the_board_of_accepted_cases(cast, two_factor_ready):
    client = two_factor_ready(cast.coordinator)

    response = client.get(reverse("review_queue"))

    assert response.status_code == 302
    assert response["Location"] == reverse("coordinator_board") + "?status=accepted"


def test_claim_from_the_queue_makes_me_the_owner(cast, referral_in, two_factor_ready):
    referral = referral_in(Status.ACCEPTED)
    client = two_factor_ready(cast.second_reviewer)

    response = client.post(_action(referral, "claim"), follow=True)

    referral.refresh_from_db()
    assert (referral.status, referral.reviewer) == (Status.CLAIMED, cast.second_reviewer)
    assert response.redirect_chain == [(_detail(referral), 302)]
    assert f"You claimed {referral.reference}." in response.content.decode()


def test_claim_of_a_case_someone_else_just_claimed_answers_409_already_claimed(cast, referral_in, two_factor_ready):
    referral = referral_in(Status.ACCEPTED)
    services.referral_claim(referral_id=referral.pk, actor=cast.reviewer)
    client = two_factor_ready(cast.second_reviewer)

    response = client.post(_action(referral, "claim"))

    html = response.content.decode()
    assert response.status_code == 409
    assert "Already claimed" in html and "claimed by a reviewer" in html
    assert PATIENT_MARKER not in html
    referral.refresh_from_db()
    assert referral.reviewer == cast.reviewer


def test_my_cases_lists_the_cases_i_own_with_the_patient_name(cast, referral_in, two_factor_ready):
    claimed = referral_in(Status.CLAIMED)
    in_review = referral_in(Status.IN_REVIEW)
    delivered = referral_in(Status.OPINION_DELIVERED)
    client = two_factor_ready(cast.reviewer)

    html = client.get(reverse("my_cases")).content.decode()

    assert claimed.reference in html and in_review.reference in html
    assert delivered.reference not in html
    assert PATIENT_MARKER in html


# --- Coordinator board ----------------------------------------------------------------------------


def test_board_is_for_coordinators_only(cast, two_factor_ready):
    client = two_factor_ready(cast.reviewer)

    assert client.get(reverse("coordinator_board")).status_code == 403


def test_board_lists_every_referral_linking_to_its_page(cast, referral_in, two_factor_ready):
    referrals = [referral_in(status) for status in Status]
    client = two_factor_ready(cast.coordinator)

    html = client.get(reverse("coordinator_board")).content.decode()

    for referral in referrals:
        assert f'href="{_detail(referral)}"' in html


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"status": "accepted"}, {"accepted"}),
        ({"specialty": "neurology"}, {"neurology"}),
        ({"urgency": "urgent"}, {"urgent"}),
        ({"channel": "concierge"}, {"concierge"}),
    ],
)
def test_board_filters_by_state_specialty_urgency_and_channel(params, expected, cast, new_referral, two_factor_ready):
    plain = new_referral()
    accepted = walk_to(Status.ACCEPTED, cast, new_referral())
    neurology, _ = services.referral_create(actor=cast.referrer, data=referral_data(cast.other_specialty))
    urgent = new_referral(urgency="urgent")
    concierge, _ = services.referral_create(
        actor=cast.coordinator, data=referral_data(cast.specialty), channel="concierge", channel_partner="Partner"
    )
    named = {"accepted": accepted, "neurology": neurology, "urgent": urgent, "concierge": concierge}
    client = two_factor_ready(cast.coordinator)

    html = client.get(reverse("coordinator_board"), params).content.decode()

    shown = {name for name, referral in named.items() if referral.reference in html}
    assert shown == expected
    assert plain.reference not in html


@pytest.mark.parametrize("flag", ["info_requested", "on_hold", "records_outstanding"])
def test_board_filters_by_flag(flag, cast, new_referral, two_factor_ready):
    plain = new_referral()
    asked = new_referral()
    services.referral_request_info(referral_id=asked.pk, actor=cast.coordinator, question="Which side?")
    held = new_referral()
    services.referral_hold(referral_id=held.pk, actor=cast.coordinator, reason="awaiting_patient")
    outside = new_referral(records_location="outside")
    flagged = {"info_requested": asked, "on_hold": held, "records_outstanding": outside}
    client = two_factor_ready(cast.coordinator)

    html = client.get(reverse("coordinator_board"), {"flag": flag}).content.decode()

    assert {name for name, r in flagged.items() if r.reference in html} == {flag}
    assert plain.reference not in html


def test_board_filters_cases_past_their_service_level(cast, new_referral, two_factor_ready):
    late = new_referral()
    paused = new_referral()
    on_time = new_referral()
    past = timezone.now() - datetime.timedelta(days=3)
    Referral.objects.filter(pk__in=[late.pk, paused.pk]).update(clock_due_at=past)
    services.referral_hold(referral_id=paused.pk, actor=cast.coordinator, reason="awaiting_records")
    client = two_factor_ready(cast.coordinator)

    html = client.get(reverse("coordinator_board"), {"breach": "on"}).content.decode()

    assert late.reference in html
    assert paused.reference not in html and on_time.reference not in html


def test_board_search_finds_a_referral_by_reference(cast, new_referral, two_factor_ready):
    wanted = new_referral()
    other = new_referral()
    client = two_factor_ready(cast.coordinator)

    html = client.post(reverse("coordinator_board"), {"q": wanted.reference.lower()}).content.decode()

    assert wanted.reference in html and other.reference not in html


def test_board_search_finds_referrals_by_exact_mrn_without_putting_it_in_a_url(cast, new_referral, two_factor_ready):
    wanted = new_referral(patient_mrn="MRN-5555")
    partial = new_referral(patient_mrn="MRN-55550")
    client = two_factor_ready(cast.coordinator)

    board = client.get(reverse("coordinator_board")).content.decode()
    response = client.post(reverse("coordinator_board"), {"q": "MRN-5555"})

    html = response.content.decode()
    assert re.search(r'<form method="post" action="/coordinator/"[^>]*role="search"', board)
    assert wanted.reference in html and partial.reference not in html
    assert "q=MRN" not in html


def test_coordinator_logs_a_concierge_referral_with_the_partner_and_a_staff_referrer(cast, two_factor_ready):
    client = two_factor_ready(cast.coordinator)

    response = client.post(
        reverse("referral_log_other_channel"),
        _form(cast, channel="concierge", channel_partner="Partner Health", referrer_email=cast.referrer.email),
    )

    referral = Referral.objects.get()
    assert response.status_code == 302 and response["Location"] == _detail(referral)
    assert (referral.channel, referral.channel_partner) == ("concierge", "Partner Health")
    assert (referral.referrer, referral.created_by) == (cast.referrer, cast.coordinator)
    assert referral.department == cast.referrer.profile.department


def test_a_public_web_referral_needs_no_staff_referrer(cast, two_factor_ready):
    client = two_factor_ready(cast.coordinator)

    client.post(reverse("referral_log_other_channel"), _form(cast, channel="public_web"))

    referral = Referral.objects.get()
    assert (referral.channel, referral.referrer, referral.channel_partner) == ("public_web", None, "")


def test_a_concierge_referral_needs_the_partner_name(cast, two_factor_ready):
    client = two_factor_ready(cast.coordinator)

    response = client.post(reverse("referral_log_other_channel"), _form(cast, channel="concierge"))

    assert response.status_code == 200
    assert "Name the concierge partner." in response.content.decode()
    assert Referral.objects.count() == 0


def test_only_coordinators_log_referrals_from_other_channels(cast, two_factor_ready):
    client = two_factor_ready(cast.referrer)

    assert client.get(reverse("referral_log_other_channel")).status_code == 403
    assert client.post(reverse("referral_log_other_channel"), _form(cast, channel="other")).status_code == 403
    assert Referral.objects.count() == 0


# --- Detail: who sees what --------------------------------------------------------------------------


def test_referrer_sees_everything_on_their_referral(cast, new_referral, two_factor_ready):
    referral = new_referral()
    services.referral_add_note(referral_id=referral.pk, actor=cast.coordinator, body="Called the clinic back.")
    client = two_factor_ready(cast.referrer)

    html = client.get(_detail(referral)).content.decode()

    assert PATIENT_MARKER in html and referral.patient_mrn in html and "17 May 1961" in html
    assert "Called the clinic back." in html and "Created" in html


def test_referrer_cannot_see_someone_elses_referral(cast, new_referral, two_factor_ready):
    referral = new_referral()
    client = two_factor_ready(cast.bystander)

    response = client.get(_detail(referral))

    assert response.status_code == 404
    assert PATIENT_MARKER not in response.content.decode()
    assert client.get(reverse("referral_detail", args=["SO-1999-999999"])).status_code == 404


def test_reviewer_of_the_specialty_sees_only_the_minimum_while_it_is_in_the_queue(cast, referral_in, two_factor_ready):
    referral = referral_in(Status.ACCEPTED)
    services.referral_add_note(referral_id=referral.pk, actor=cast.coordinator, body="Private coordinator note.")
    client = two_factor_ready(cast.second_reviewer)

    response = client.get(_detail(referral))

    html = response.content.decode()
    assert response.status_code == 200
    assert referral.question in html
    assert PATIENT_MARKER not in html and referral.patient_mrn not in html and "1961" not in html
    assert "Private coordinator note." not in html
    assert _actions_shown(html, referral) == {"claim"}
    assert not PatientDataAccess.objects.exists()


def test_reviewer_of_the_specialty_loses_sight_of_a_case_another_reviewer_claimed(cast, referral_in, two_factor_ready):
    referral = referral_in(Status.CLAIMED)
    client = two_factor_ready(cast.second_reviewer)

    assert client.get(_detail(referral)).status_code == 404


def test_reviewer_of_another_specialty_cannot_see_the_case(cast, referral_in, two_factor_ready):
    referral = referral_in(Status.ACCEPTED)
    client = two_factor_ready(cast.other_reviewer)

    assert client.get(_detail(referral)).status_code == 404


def test_leadership_sees_no_referral_data(cast, referral_in, client):
    referral = referral_in(Status.ACCEPTED)
    client.force_login(cast.leader)

    assert client.get(_detail(referral)).status_code == 404
    for name in ("my_referrals", "my_cases", "review_queue", "coordinator_board"):
        assert client.get(reverse(name)).status_code == 403, name
    assert client.post(_action(referral, "claim")).status_code == 404
    assert not PatientDataAccess.objects.exists()


def test_the_opinion_and_outcome_show_on_a_closed_referral(cast, referral_in, two_factor_ready):
    referral = referral_in(Status.CLOSED)
    client = two_factor_ready(cast.referrer)

    html = client.get(_detail(referral)).content.decode()

    assert OPINION["opinion_answer"] in html
    assert "Scheduled for care here" in html and "Refined" in html


# --- Detail: the actions on offer -------------------------------------------------------------------

ACTIONS_ON_OFFER = [
    (
        "coordinator",
        Status.SUBMITTED,
        {"accept", "decline", "cancel", "enter-in-error", "request-info", "request-records", "hold", "note"},
    ),
    ("referrer", Status.SUBMITTED, {"cancel", "note"}),
    ("referrer", Status.ACCEPTED, {"note"}),
    ("second_reviewer", Status.ACCEPTED, {"claim"}),
    (
        "coordinator",
        Status.ACCEPTED,
        {"assign", "cancel", "enter-in-error", "request-info", "request-records", "hold", "note"},
    ),
    ("reviewer", Status.CLAIMED, {"start-review", "release", "request-info", "hold", "note"}),
    ("reviewer", Status.IN_REVIEW, {"deliver-opinion", "release", "request-info", "hold", "note"}),
    (
        "coordinator",
        Status.IN_REVIEW,
        {"release", "reassign", "cancel", "enter-in-error", "request-info", "request-records", "hold", "note"},
    ),
    (
        "coordinator",
        Status.OPINION_DELIVERED,
        {"close", "cancel", "enter-in-error", "request-info", "request-records", "hold", "note"},
    ),
    ("referrer", Status.OPINION_DELIVERED, {"note"}),
    ("coordinator", Status.CLOSED, {"enter-in-error", "note"}),
    ("coordinator", Status.ENTERED_IN_ERROR, {"note"}),
]


@pytest.mark.parametrize(("person", "status", "expected"), ACTIONS_ON_OFFER)
def test_detail_shows_only_the_actions_this_person_may_take(
    person, status, expected, cast, referral_in, two_factor_ready
):
    referral = referral_in(status)
    client = two_factor_ready(getattr(cast, person))

    html = client.get(_detail(referral)).content.decode()

    assert _actions_shown(html, referral) == expected


def test_referrer_is_offered_the_answer_when_a_question_is_open(cast, new_referral, two_factor_ready):
    referral = new_referral()
    services.referral_request_info(referral_id=referral.pk, actor=cast.coordinator, question="Which knee?")
    client = two_factor_ready(cast.referrer)

    html = client.get(_detail(referral)).content.decode()

    assert "Which knee?" in html
    assert _actions_shown(html, referral) == {"answer-info", "cancel", "note"}


def test_review_cannot_start_before_outside_records_arrive(cast, new_referral, two_factor_ready):
    referral = walk_to(Status.CLAIMED, cast, new_referral(records_location="outside"))
    client = two_factor_ready(cast.reviewer)

    html = client.get(_detail(referral)).content.decode()

    assert "start-review" not in _actions_shown(html, referral)
    assert "receive-records" in _actions_shown(html, referral)
    assert "Review starts when the outside records have arrived." in html


# --- Detail: making moves -------------------------------------------------------------------------


def test_disallowed_move_answers_409_and_changes_nothing(cast, referral_in, two_factor_ready):
    referral = referral_in(Status.ACCEPTED)
    events = ReferralEvent.objects.filter(referral=referral).count()
    client = two_factor_ready(cast.coordinator)

    response = client.post(_action(referral, "decline"), {"reason": "Outside program scope"})

    html = response.content.decode()
    assert response.status_code == 409
    assert "Cannot decline a referral that is accepted" in html
    assert _status(referral) == Status.ACCEPTED
    assert ReferralEvent.objects.filter(referral=referral).count() == events


def test_a_move_someone_may_not_make_answers_409(cast, new_referral, two_factor_ready):
    referral = new_referral()
    client = two_factor_ready(cast.referrer)

    response = client.post(_action(referral, "accept"))

    assert response.status_code == 409
    assert "Cannot accept a referral that is submitted" in response.content.decode()
    assert _status(referral) == Status.SUBMITTED


def test_decline_without_reason_is_refused_with_a_message(cast, new_referral, two_factor_ready):
    referral = new_referral()
    client = two_factor_ready(cast.coordinator)

    response = client.post(_action(referral, "decline"), {"reason": "   "})

    html = response.content.decode()
    assert response.status_code == 400
    assert "Give a reason to decline." in html
    assert re.search(r'<details class="action-panel mb-2" id="action-decline" open>', html)
    assert _status(referral) == Status.SUBMITTED
    assert ReferralEvent.objects.filter(referral=referral).count() == 1


def test_decline_with_a_reason_declines_and_says_so(cast, new_referral, two_factor_ready):
    referral = new_referral()
    client = two_factor_ready(cast.coordinator)

    response = client.post(_action(referral, "decline"), {"reason": "Outside program scope"}, follow=True)

    assert response.redirect_chain == [(_detail(referral), 302)]
    assert f"{referral.reference} declined." in response.content.decode()
    assert _status(referral) == Status.DECLINED
    assert ReferralEvent.objects.filter(referral=referral).last().note == "Outside program scope"


def test_assign_to_someone_who_stopped_reviewing_the_specialty_is_refused_keeping_the_note(
    cast, new_referral, two_factor_ready
):
    referral = walk_to(Status.ACCEPTED, cast, new_referral())
    client = two_factor_ready(cast.coordinator)
    # The reviewer stops reviewing the specialty between page load and submit.
    Profile.objects.get(user=cast.second_reviewer).review_specialties.clear()

    response = client.post(_action(referral, "assign"), {"reviewer": cast.second_reviewer.pk, "note": "Kept note"})

    assert response.status_code == 400
    assert "Kept note" in response.content.decode()
    assert _status(referral) == Status.ACCEPTED


def test_start_review_before_outside_records_arrive_is_refused_with_the_reason(cast, new_referral, two_factor_ready):
    referral = walk_to(Status.CLAIMED, cast, new_referral(records_location="outside"))
    client = two_factor_ready(cast.reviewer)

    response = client.post(_action(referral, "start-review"))

    assert response.status_code == 400
    assert "review starts when the outside records have arrived" in response.content.decode()
    assert _status(referral) == Status.CLAIMED


def test_assign_offers_only_reviewers_of_the_specialty(cast, referral_in, two_factor_ready):
    referral = referral_in(Status.ACCEPTED)
    client = two_factor_ready(cast.coordinator)

    html = client.get(_detail(referral)).content.decode()
    select = html.split('id="assign-reviewer"', 1)[1].split("</select>", 1)[0]

    assert f'value="{cast.reviewer.pk}"' in select and f'value="{cast.second_reviewer.pk}"' in select
    assert f'value="{cast.other_reviewer.pk}"' not in select


def test_assign_to_a_reviewer_of_another_specialty_is_refused(cast, referral_in, two_factor_ready):
    referral = referral_in(Status.ACCEPTED)
    client = two_factor_ready(cast.coordinator)

    response = client.post(_action(referral, "assign"), {"reviewer": cast.other_reviewer.pk})

    assert response.status_code == 400
    referral.refresh_from_db()
    assert (referral.status, referral.reviewer) == (Status.ACCEPTED, None)


def test_reassign_moves_the_case_to_another_reviewer_with_a_reason(cast, referral_in, two_factor_ready):
    referral = referral_in(Status.IN_REVIEW)
    client = two_factor_ready(cast.coordinator)

    response = client.post(_action(referral, "reassign"), {"reviewer": cast.second_reviewer.pk, "reason": "Leave"})

    referral.refresh_from_db()
    assert response.status_code == 302
    assert (referral.status, referral.reviewer) == (Status.IN_REVIEW, cast.second_reviewer)


def test_deliver_opinion_needs_summary_answer_and_both_outcomes(cast, referral_in, two_factor_ready):
    referral = referral_in(Status.IN_REVIEW)
    client = two_factor_ready(cast.reviewer)

    response = client.post(
        _action(referral, "deliver-opinion"), {"opinion_summary": "Reviewed.", "recommendations": "Kept"}
    )

    html = response.content.decode()
    assert response.status_code == 400
    assert html.count("This field is required.") >= 3 and "Kept" in html
    assert _status(referral) == Status.IN_REVIEW


def test_deliver_opinion_records_the_opinion(cast, referral_in, two_factor_ready):
    referral = referral_in(Status.IN_REVIEW)
    client = two_factor_ready(cast.reviewer)

    client.post(
        _action(referral, "deliver-opinion"),
        {**OPINION, "trial_candidate": "true", "recommendations": "Repeat echo in a year."},
    )

    referral.refresh_from_db()
    assert referral.status == Status.OPINION_DELIVERED
    assert (referral.diagnosis_outcome, referral.treatment_outcome, referral.clinical_impact) == (
        "confirmed",
        "refined",
        "moderate",
    )
    assert referral.trial_candidate is True and referral.recommendations == "Repeat echo in a year."


def test_close_records_the_downstream_outcome(cast, referral_in, two_factor_ready):
    referral = referral_in(Status.OPINION_DELIVERED)
    client = two_factor_ready(cast.coordinator)
    day = (_today() + datetime.timedelta(days=5)).isoformat()

    client.post(
        _action(referral, "close"),
        {"downstream_outcome": "scheduled_here", "appointment_date": day, "recommendation_followed": "yes"},
    )

    referral.refresh_from_db()
    assert referral.status == Status.CLOSED
    assert (referral.downstream_outcome, referral.appointment_date.isoformat(), referral.recommendation_followed) == (
        "scheduled_here",
        day,
        "yes",
    )


def test_close_without_the_downstream_outcome_is_refused(cast, referral_in, two_factor_ready):
    referral = referral_in(Status.OPINION_DELIVERED)
    client = two_factor_ready(cast.coordinator)

    response = client.post(_action(referral, "close"), {"recommendation_followed": "yes"})

    assert response.status_code == 400
    assert _status(referral) == Status.OPINION_DELIVERED


def test_referrer_answers_the_open_question(cast, new_referral, two_factor_ready):
    referral = new_referral()
    services.referral_request_info(referral_id=referral.pk, actor=cast.coordinator, question="Which knee?")
    client = two_factor_ready(cast.referrer)

    response = client.post(_action(referral, "answer-info"), {"answer": "The left one."})

    referral.refresh_from_db()
    assert response.status_code == 302
    assert referral.info_requested_at is None
    assert ReferralEvent.objects.filter(referral=referral).last().note == "The left one."


def test_hold_pauses_the_case_and_clear_hold_resumes_it(cast, new_referral, two_factor_ready):
    referral = new_referral()
    client = two_factor_ready(cast.coordinator)

    client.post(_action(referral, "hold"), {"reason": "awaiting_patient"})
    held = Referral.objects.get(pk=referral.pk)
    client.post(_action(referral, "clear-hold"))
    cleared = Referral.objects.get(pk=referral.pk)

    assert held.hold_reason == "awaiting_patient" and held.clock_paused_at is not None
    assert cleared.hold_reason == "" and cleared.clock_paused_at is None


def test_records_requested_then_received(cast, new_referral, two_factor_ready):
    referral = new_referral()
    client = two_factor_ready(cast.coordinator)

    client.post(_action(referral, "request-records"))
    client.post(_action(referral, "receive-records"))

    referral.refresh_from_db()
    assert referral.records_location == "outside"
    assert referral.records_requested_at is not None and referral.records_received_at is not None


def test_a_note_appears_on_the_timeline(cast, new_referral, two_factor_ready):
    referral = new_referral()
    client = two_factor_ready(cast.referrer)

    response = client.post(_action(referral, "note"), {"body": "Patient prefers mornings."}, follow=True)

    assert "Patient prefers mornings." in response.content.decode()


def test_a_flag_someone_may_not_set_answers_409(cast, new_referral, two_factor_ready):
    referral = new_referral()
    client = two_factor_ready(cast.referrer)

    response = client.post(_action(referral, "hold"), {"reason": "awaiting_patient"})

    assert response.status_code == 409
    assert Referral.objects.get(pk=referral.pk).hold_reason == ""


def test_nobody_outside_the_referral_can_act_on_it(cast, new_referral, two_factor_ready):
    referral = new_referral()
    client = two_factor_ready(cast.bystander)

    assert client.post(_action(referral, "cancel"), {"reason": "Mine now"}).status_code == 404
    assert client.post(_action(referral, "no-such-move")).status_code == 404
    assert _status(referral) == Status.SUBMITTED


def test_actions_are_post_only(cast, new_referral, two_factor_ready):
    referral = new_referral()
    client = two_factor_ready(cast.coordinator)

    assert client.get(_action(referral, "accept")).status_code == 405
    assert _status(referral) == Status.SUBMITTED


def test_a_referral_travels_its_whole_life_through_the_screens(cast, two_factor_ready):
    coordinator = _other_client(cast.coordinator)
    reviewer = _other_client(cast.reviewer)
    referrer = two_factor_ready(cast.referrer)

    referrer.post(reverse("referral_create"), _form(cast))
    referral = Referral.objects.get()
    coordinator.post(_action(referral, "accept"))
    reviewer.post(_action(referral, "claim"))
    reviewer.post(_action(referral, "start-review"))
    reviewer.post(_action(referral, "deliver-opinion"), OPINION)
    coordinator.post(_action(referral, "close"), {"downstream_outcome": "returned"})

    html = referrer.get(reverse("my_referrals")).content.decode()
    assert _status(referral) == Status.CLOSED
    assert "Outcome: returned to referring clinician." in html


# --- Patient data rules ---------------------------------------------------------------------------


def _logged(user, view) -> list[int]:
    return sorted(PatientDataAccess.objects.filter(user=user, view=view).values_list("referral_id", flat=True))


@pytest.mark.parametrize(
    ("person", "status", "view"),
    [
        ("referrer", Status.SUBMITTED, "my_referrals"),
        ("reviewer", Status.CLAIMED, "my_cases"),
        ("coordinator", Status.SUBMITTED, "coordinator_board"),
        ("referrer", Status.SUBMITTED, "referral_detail"),
        ("reviewer", Status.IN_REVIEW, "referral_detail"),
        ("coordinator", Status.ACCEPTED, "referral_detail"),
    ],
)
def test_patient_data_views_log_access_and_send_no_store(person, status, view, cast, referral_in, two_factor_ready):
    referral = referral_in(status)
    user = getattr(cast, person)
    client = two_factor_ready(user)
    url = _detail(referral) if view == "referral_detail" else reverse(view)

    response = client.get(url, REMOTE_ADDR="10.1.2.3")

    assert response.status_code == 200
    assert PATIENT_MARKER in response.content.decode()
    assert "no-store" in response["Cache-Control"]
    access = PatientDataAccess.objects.get(user=user, view=view)
    assert (access.referral_id, access.ip_address) == (referral.pk, "10.1.2.3")


def test_lists_log_one_row_per_referral_on_the_page(cast, new_referral, two_factor_ready):
    made = [new_referral() for _ in range(27)]
    client = two_factor_ready(cast.referrer)

    client.get(reverse("my_referrals"))

    assert _logged(cast.referrer, "my_referrals") == sorted(r.pk for r in made[2:])


def test_a_refused_action_that_shows_the_page_again_logs_the_read(cast, new_referral, two_factor_ready):
    referral = new_referral()
    client = two_factor_ready(cast.coordinator)

    response = client.post(_action(referral, "decline"), {"reason": ""})

    assert response.status_code == 400 and "no-store" in response["Cache-Control"]
    assert _logged(cast.coordinator, "referral_action") == [referral.pk]


@pytest.mark.parametrize("person", ["reviewer", "second_reviewer"])
def test_queue_views_send_no_store_and_log_nothing(person, cast, referral_in, two_factor_ready):
    referral = referral_in(Status.ACCEPTED)
    client = two_factor_ready(getattr(cast, person))

    queue = client.get(reverse("review_queue"))
    detail = client.get(_detail(referral))

    assert "no-store" in queue["Cache-Control"] and "no-store" in detail["Cache-Control"]
    assert not PatientDataAccess.objects.exists()


def test_the_referral_form_sends_no_store(cast, two_factor_ready):
    client = two_factor_ready(cast.referrer)

    assert "no-store" in client.get(reverse("referral_create"), {"mrn": "MRN-1"})["Cache-Control"]


def test_success_messages_and_redirects_name_the_reference_only(cast, two_factor_ready):
    client = two_factor_ready(cast.referrer)

    response = client.post(reverse("referral_create"), _form(cast))
    page = client.get(response["Location"]).content.decode()

    referral = Referral.objects.get()
    assert PATIENT_MARKER not in response["Location"] and "MRN" not in response["Location"]
    message = page.split('class="messages"', 1)[1].split("</div>", 1)[0]
    assert referral.reference in message and PATIENT_MARKER not in message and "MRN" not in message


@pytest.mark.parametrize("name", ["referral_create", "my_referrals", "review_queue", "my_cases", "coordinator_board"])
def test_referral_pages_send_a_strict_policy_and_no_inline_code(name, cast, make_user, referral_in, two_factor_ready):
    referral_in(Status.ACCEPTED)
    person = make_user(Role.CLINICIAN, Role.REVIEWER, Role.COORDINATOR, review_specialties=[cast.specialty])
    client = two_factor_ready(person)

    response = client.get(reverse(name))

    html = response.content.decode()
    assert response.status_code == 200
    assert "script-src 'self'" in response["Content-Security-Policy"]
    assert not INLINE_SCRIPT.search(html) and not INLINE_HANDLER.search(html) and not INLINE_STYLE.search(html)


def test_the_detail_page_has_no_inline_code(cast, referral_in, two_factor_ready):
    referral = referral_in(Status.IN_REVIEW)
    client = two_factor_ready(cast.coordinator)

    html = client.get(_detail(referral)).content.decode()

    assert not INLINE_SCRIPT.search(html) and not INLINE_HANDLER.search(html) and not INLINE_STYLE.search(html)


# --- Query counts do not grow with the data -------------------------------------------------------

STATES = [Status.SUBMITTED, Status.ACCEPTED, Status.CLAIMED, Status.IN_REVIEW, Status.OPINION_DELIVERED]


def _queries(client, url) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(captured)


def _make(cast, new_referral, page: str, count: int, target=None):
    for n in range(count):
        if page == "review_queue":
            walk_to(Status.ACCEPTED, cast, new_referral())
        elif page == "my_cases":
            walk_to(Status.CLAIMED if n % 2 else Status.IN_REVIEW, cast, new_referral())
        elif page == "referral_detail":
            services.referral_add_note(referral_id=target.pk, actor=cast.coordinator, body=f"Note {n}")
            new_referral()
        else:
            status = STATES[n % len(STATES)]
            records = "outside" if status in (Status.SUBMITTED, Status.ACCEPTED) else "internal"
            walk_to(status, cast, new_referral(records_location=records))


@pytest.mark.parametrize(
    ("page", "person", "budget"),
    [
        ("my_referrals", "referrer", 9),
        ("review_queue", "reviewer", 9),
        ("my_cases", "reviewer", 9),
        ("coordinator_board", "coordinator", 10),
        ("referral_detail", "coordinator", 10),
    ],
)
def test_page_query_count_is_the_same_with_3_and_30_referrals(
    page, person, budget, cast, new_referral, two_factor_ready, django_assert_max_num_queries
):
    target = walk_to(Status.IN_REVIEW, cast, new_referral()) if page == "referral_detail" else None
    client = two_factor_ready(getattr(cast, person))
    url = _detail(target) if target else reverse(page)
    _make(cast, new_referral, page, 3, target)
    client.get(url)  # the first request of a session sets it up

    few = _queries(client, url)
    _make(cast, new_referral, page, 27, target)
    with django_assert_max_num_queries(budget):
        many = _queries(client, url)

    assert few == many


# --- The cost of the two busiest writes ---------------------------------------------------------


def _count_post(client, url, data=None) -> tuple[int, object]:
    with CaptureQueriesContext(connection) as captured:
        response = client.post(url, data or {})
    return len(captured), response


def test_a_submit_runs_a_fixed_handful_of_queries(cast, two_factor_ready, django_assert_max_num_queries):
    client = two_factor_ready(cast.referrer)
    client.post(reverse("referral_create"), _form(cast))  # the first request of a session sets it up

    # user, roles, specialty, department, reference number, referral, event, and
    # the savepoint pair of the test's own transaction; without Redis the cache
    # (calendar, session) is a database table, which adds its reads.
    with django_assert_max_num_queries(9 if connection.vendor == "postgresql" else 12):
        response = client.post(reverse("referral_create"), _form(cast))

    assert response.status_code == 302 and Referral.objects.count() == 2


def test_a_submit_without_a_preferred_reviewer_does_not_read_the_reviewer_list(cast, two_factor_ready, monkeypatch):
    client = two_factor_ready(cast.referrer)
    client.post(reverse("referral_create"), _form(cast))
    reads = []
    read_reviewer_list = selectors.reviewer_choices
    monkeypatch.setattr(selectors, "reviewer_choices", lambda: reads.append(1) or read_reviewer_list())

    response = client.post(reverse("referral_create"), _form(cast))
    chosen = client.post(reverse("referral_create"), _form(cast, preferred_reviewer=cast.reviewer.pk))

    assert response.status_code == 302 and chosen.status_code == 302
    assert len(reads) == 1  # only the submit that named a reviewer read the list


def test_a_claim_runs_a_fixed_handful_of_queries(cast, new_referral, two_factor_ready, django_assert_max_num_queries):
    first, second = (walk_to(Status.ACCEPTED, cast, new_referral()) for _ in range(2))
    client = two_factor_ready(cast.reviewer)
    client.post(_action(first, "claim"))

    # user, roles with specialties reviewed, the referral read once under its row
    # lock, update, event, and the savepoint pair of the test's own transaction
    # (one more without Redis: the session is read from the cache table)
    with django_assert_max_num_queries(7 if connection.vendor == "postgresql" else 8):
        response = client.post(_action(second, "claim"))

    assert response.status_code == 302 and _status(second) == Status.CLAIMED


def test_a_resubmit_that_no_longer_validates_still_goes_to_the_referral_it_created(cast, two_factor_ready):
    client = two_factor_ready(cast.referrer)
    data = _form(cast)
    first = client.post(reverse("referral_create"), data)
    cast.specialty.is_active = False  # the specialty closed to new referrals in between
    cast.specialty.save()

    second = client.post(reverse("referral_create"), data)

    referral = Referral.objects.get()
    assert first["Location"] == second["Location"] == _detail(referral)
