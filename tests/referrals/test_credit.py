"""The credit ledger: written inside the transition that earns it, exactly once, reversed by new rows, never edited."""

from __future__ import annotations

import itertools

import pytest
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models import Sum
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from referrals import services
from referrals.models import Channel, CreditEntry, CreditRule
from referrals.workflow import OPEN, Action, Status
from tests.factories import referral_data

pytestmark = pytest.mark.django_db

Code = CreditRule.Code


def _balance(person) -> int:
    return CreditEntry.objects.filter(person=person).aggregate(total=Sum("points"))["total"] or 0


def _codes(person) -> list[str]:
    return sorted(CreditEntry.objects.filter(person=person, reverses__isnull=True).values_list("rule__code", flat=True))


# --- Rules ---------------------------------------------------------------------------------


def test_default_rules_are_seeded_with_the_product_points():
    points = dict(CreditRule.objects.values_list("code", "points"))

    assert points == {
        Code.REFERRAL_ACCEPTED: 1,
        Code.OPINION_DELIVERED: 2,
        Code.SCHEDULED_HERE: 3,
        Code.REVIEW_DELIVERED: 2,
        Code.COURSE_COMPLETED: 1,
    }


def test_changing_a_rule_never_rewrites_past_entries(cast, referral_in):
    first = referral_in(Status.ACCEPTED)
    CreditRule.objects.filter(code=Code.REFERRAL_ACCEPTED).update(points=5)

    second = referral_in(Status.ACCEPTED)

    assert CreditEntry.objects.get(referral=first).points == 1
    assert CreditEntry.objects.get(referral=second).points == 5
    assert _balance(cast.referrer) == 6


def test_a_switched_off_rule_awards_nothing(cast, referral_in):
    CreditRule.objects.filter(code=Code.REFERRAL_ACCEPTED).update(is_active=False)

    referral_in(Status.ACCEPTED)

    assert _balance(cast.referrer) == 0


# --- Earning ------------------------------------------------------------------------------


def test_accept_credits_the_referrer_one_point_for_their_department(cast, referral_in):
    referral = referral_in(Status.ACCEPTED)

    entry = CreditEntry.objects.get()
    assert (entry.person, entry.referral_id, entry.rule.code, entry.points) == (
        cast.referrer,
        referral.pk,
        Code.REFERRAL_ACCEPTED,
        1,
    )
    assert entry.department_id == cast.referrer.profile.department_id
    assert referral.reference in entry.reason


def test_delivering_the_opinion_credits_the_referrer_and_the_reviewer(cast, referral_in):
    referral_in(Status.OPINION_DELIVERED)

    assert _codes(cast.referrer) == [Code.OPINION_DELIVERED, Code.REFERRAL_ACCEPTED]
    assert _codes(cast.reviewer) == [Code.REVIEW_DELIVERED]
    assert (_balance(cast.referrer), _balance(cast.reviewer)) == (3, 2)
    assert CreditEntry.objects.get(person=cast.reviewer).department_id == cast.reviewer.profile.department_id


def test_closing_with_the_patient_scheduled_here_credits_the_referrer_three(cast, referral_in):
    referral_in(Status.CLOSED)  # walk_to closes with scheduled_here

    assert Code.SCHEDULED_HERE in _codes(cast.referrer)
    assert _balance(cast.referrer) == 6


@pytest.mark.parametrize("outcome", ["returned", "no_further_care", "lost_to_follow_up"])
def test_closing_with_another_outcome_earns_no_scheduling_credit(cast, referral_in, outcome):
    referral = referral_in(Status.OPINION_DELIVERED)

    services.referral_close(referral_id=referral.pk, actor=cast.coordinator, outcome={"downstream_outcome": outcome})

    assert Code.SCHEDULED_HERE not in _codes(cast.referrer)
    assert _balance(cast.referrer) == 3


def test_a_referral_from_another_channel_without_a_referrer_credits_nobody(cast):
    referral, _ = services.referral_create(
        actor=cast.coordinator,
        data=referral_data(cast.specialty),
        channel=Channel.CONCIERGE,
        channel_partner="Included Health",
    )

    services.referral_accept(referral_id=referral.pk, actor=cast.coordinator)

    assert not CreditEntry.objects.exists()


def test_claiming_submitting_and_releasing_run_no_credit_query(cast, new_referral):
    with CaptureQueriesContext(connection) as submitted:
        referral = new_referral()
    services.referral_accept(referral_id=referral.pk, actor=cast.coordinator)
    with CaptureQueriesContext(connection) as claimed:
        services.referral_claim(referral_id=referral.pk, actor=cast.reviewer)
        services.referral_release(referral_id=referral.pk, actor=cast.reviewer, reason="Away next week")

    sql = " ".join(q["sql"] for q in submitted.captured_queries + claimed.captured_queries)
    assert "referrals_credit" not in sql


# --- Exactly once ---------------------------------------------------------------------------


def test_a_double_click_on_accept_credits_once(cast, new_referral):
    from referrals.workflow import TransitionNotAllowed

    referral = new_referral()
    services.referral_accept(referral_id=referral.pk, actor=cast.coordinator)

    with pytest.raises(TransitionNotAllowed):
        services.referral_accept(referral_id=referral.pk, actor=cast.coordinator)

    assert CreditEntry.objects.filter(person=cast.referrer).count() == 1


def test_a_replayed_transition_credits_once(cast, referral_in):
    referral = referral_in(Status.OPINION_DELIVERED)

    with transaction.atomic():
        for action in (Action.ACCEPT, Action.DELIVER_OPINION):
            services._credit_for_move(referral, action, timezone.now())

    assert CreditEntry.objects.count() == 3  # accepted +1, delivered +2 (referrer), review +2
    assert (_balance(cast.referrer), _balance(cast.reviewer)) == (3, 2)


def test_the_database_refuses_a_second_award_for_the_same_person_referral_and_rule(cast, referral_in):
    referral = referral_in(Status.ACCEPTED)
    entry = CreditEntry.objects.get()

    with pytest.raises(IntegrityError, match="one_credit_per_referral_rule|UNIQUE"), transaction.atomic():
        CreditEntry.objects.create(
            person=cast.referrer,
            rule=entry.rule,
            referral=referral,
            points=1,
            reason="again",
            created_at=timezone.now(),
        )


def test_credit_rolls_back_with_a_transition_that_fails(cast, new_referral, monkeypatch):
    referral = new_referral()

    def broken_event(*args, **kwargs):
        raise DatabaseError("event table unavailable")

    monkeypatch.setattr(services, "_event", broken_event)
    with pytest.raises(DatabaseError):
        services.referral_accept(referral_id=referral.pk, actor=cast.coordinator)

    referral.refresh_from_db()
    assert referral.status == Status.SUBMITTED
    assert not CreditEntry.objects.exists()


# --- Compensating entries --------------------------------------------------------------------


def test_cancelling_an_accepted_referral_adds_a_reversal_and_keeps_the_original(cast, referral_in):
    referral = referral_in(Status.ACCEPTED)
    original = CreditEntry.objects.get()

    services.referral_cancel(referral_id=referral.pk, actor=cast.coordinator, reason="Patient moved away")

    reversal = CreditEntry.objects.get(reverses=original)
    assert (reversal.person, reversal.points, reversal.referral_id) == (cast.referrer, -1, referral.pk)
    assert reversal.department_id == original.department_id
    assert CreditEntry.objects.get(pk=original.pk).points == 1
    assert _balance(cast.referrer) == 0


def test_entered_in_error_after_closing_reverses_everything_for_everyone(cast, referral_in):
    referral = referral_in(Status.CLOSED)

    services.referral_enter_in_error(referral_id=referral.pk, actor=cast.coordinator, reason="Duplicate of another")

    assert (_balance(cast.referrer), _balance(cast.reviewer)) == (0, 0)
    assert CreditEntry.objects.filter(reverses__isnull=True).count() == 4
    assert CreditEntry.objects.filter(reverses__isnull=False).count() == 4


def test_reversing_twice_adds_no_second_reversal(cast, referral_in):
    referral = referral_in(Status.ACCEPTED)
    services.referral_cancel(referral_id=referral.pk, actor=cast.coordinator, reason="Patient moved away")

    with transaction.atomic():
        services._credit_reverse_referral(referral, Action.CANCEL, timezone.now())

    assert CreditEntry.objects.count() == 2
    assert _balance(cast.referrer) == 0


def test_the_database_refuses_a_second_reversal_of_one_entry(cast, referral_in):
    referral = referral_in(Status.ACCEPTED)
    services.referral_cancel(referral_id=referral.pk, actor=cast.coordinator, reason="Patient moved away")
    reversal = CreditEntry.objects.get(reverses__isnull=False)

    with pytest.raises(IntegrityError), transaction.atomic():
        CreditEntry.objects.create(
            person=cast.referrer,
            rule=reversal.rule,
            referral=referral,
            points=-1,
            reverses=reversal.reverses,
            reason="again",
            created_at=timezone.now(),
        )


# Expected balances (referrer, reviewer) once a referral has reached each state by the real path.
EXPECTED = {
    Status.SUBMITTED: (0, 0),
    Status.ACCEPTED: (1, 0),
    Status.CLAIMED: (1, 0),
    Status.IN_REVIEW: (1, 0),
    Status.OPINION_DELIVERED: (3, 2),
    Status.CLOSED: (6, 2),
    Status.DECLINED: (0, 0),
    Status.CANCELLED: (0, 0),
    Status.ENTERED_IN_ERROR: (0, 0),
}


@pytest.mark.parametrize("status", list(Status))
def test_each_state_holds_exactly_the_credit_its_path_earned(cast, referral_in, status):
    referral_in(status)

    assert (_balance(cast.referrer), _balance(cast.reviewer)) == EXPECTED[status]


def _ending_moves():
    return [
        (status, action)
        for status, action in itertools.product(list(Status), [Action.CANCEL, Action.ENTER_IN_ERROR])
        if (action == Action.CANCEL and status in OPEN)
        or (action == Action.ENTER_IN_ERROR and status != Status.ENTERED_IN_ERROR)
    ]


@pytest.mark.parametrize(("status", "action"), _ending_moves())
def test_ending_a_referral_from_any_state_leaves_everyone_at_zero_and_each_award_reversed_once(
    cast, referral_in, status, action
):
    referral = referral_in(status)
    if action == Action.CANCEL:
        services.referral_cancel(referral_id=referral.pk, actor=cast.coordinator, reason="No longer needed")
    else:
        services.referral_enter_in_error(referral_id=referral.pk, actor=cast.coordinator, reason="Wrong patient")

    awards = CreditEntry.objects.filter(reverses__isnull=True)
    assert (_balance(cast.referrer), _balance(cast.reviewer)) == (0, 0)
    assert all(entry.reversals.count() == 1 for entry in awards)
    assert CreditEntry.objects.filter(reverses__isnull=False).count() == awards.count()


# --- Course completion -------------------------------------------------------------------------


def _plain_page(title="Second opinions: how the program works"):
    from wagtail.models import Page

    root = Page.get_first_root_node()
    return root.add_child(instance=Page(title=title, slug=title.lower().replace(" ", "-").replace(":", "")))


def test_course_completion_credits_one_point_once_per_person_and_course(cast):
    course = _plain_page()

    first = services.credit_award_course_completion(person=cast.referrer, course_page=course)
    again = services.credit_award_course_completion(person=cast.referrer, course_page=course)

    assert first is not None and again is None
    assert (first.course_id, first.points, first.rule.code) == (course.pk, 1, Code.COURSE_COMPLETED)
    assert _balance(cast.referrer) == 1


def test_each_course_and_each_person_is_credited_separately(cast):
    course, other_course = _plain_page(), _plain_page("Equity and self-pay patients")

    services.credit_award_course_completion(person=cast.referrer, course_page=course)
    services.credit_award_course_completion(person=cast.referrer, course_page=other_course)
    services.credit_award_course_completion(person=cast.reviewer, course_page=course)

    assert (_balance(cast.referrer), _balance(cast.reviewer)) == (2, 1)


def test_the_database_refuses_a_second_course_award(cast):
    course = _plain_page()
    entry = services.credit_award_course_completion(person=cast.referrer, course_page=course)

    with pytest.raises(IntegrityError, match="one_credit_per_course_rule|UNIQUE"), transaction.atomic():
        CreditEntry.objects.create(
            person=cast.referrer, rule=entry.rule, course=course, points=1, reason="again", created_at=timezone.now()
        )


def test_an_entry_must_name_a_referral_or_a_course(cast):
    rule = CreditRule.objects.get(code=Code.COURSE_COMPLETED)

    with pytest.raises(IntegrityError), transaction.atomic():
        CreditEntry.objects.create(
            person=cast.referrer, rule=rule, points=1, reason="nothing", created_at=timezone.now()
        )


# --- Append-only in the database ------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.parametrize("statement", ["UPDATE {table} SET points = 100", "DELETE FROM {table}"])
def test_postgres_refuses_update_and_delete_on_the_ledger(cast, referral_in, statement):
    referral_in(Status.ACCEPTED)

    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(statement.format(table=CreditEntry._meta.db_table))

    assert CreditEntry.objects.get().points == 1


@pytest.mark.postgres
def test_postgres_refuses_the_orm_changing_an_entry(cast, referral_in):
    referral_in(Status.ACCEPTED)

    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        CreditEntry.objects.update(points=0)


# --- Administrators edit the rules in Wagtail's admin ---------------------------------------------


def test_administrator_changes_a_rules_points_in_the_admin(client, make_user, two_factor_ready):
    from portal.roles import Role

    rule = CreditRule.objects.get(code=Code.SCHEDULED_HERE)
    two_factor_ready(make_user(Role.ADMINISTRATOR))

    page = client.get(f"/cms-admin/snippets/referrals/creditrule/edit/{rule.pk}/")
    response = client.post(
        f"/cms-admin/snippets/referrals/creditrule/edit/{rule.pk}/",
        {"name": rule.name, "points": 4, "is_active": "on", "description": rule.description},
    )

    assert "recognition only" in page.content.decode()
    assert response.status_code == 302
    assert CreditRule.objects.get(pk=rule.pk).points == 4


def test_nobody_adds_or_deletes_a_rule_in_the_admin(client, make_user, two_factor_ready):
    from portal.roles import Role

    rule = CreditRule.objects.get(code=Code.SCHEDULED_HERE)
    two_factor_ready(make_user(Role.ADMINISTRATOR, is_superuser=True))

    assert client.get("/cms-admin/snippets/referrals/creditrule/add/").status_code in (302, 403)
    assert client.post(f"/cms-admin/snippets/referrals/creditrule/delete/{rule.pk}/").status_code in (302, 403)
    assert CreditRule.objects.filter(pk=rule.pk).exists()


def test_clinicians_cannot_reach_the_credit_rules_admin(client, make_user, two_factor_ready):
    from portal.roles import Role

    two_factor_ready(make_user(Role.CLINICIAN))

    assert client.get("/cms-admin/snippets/referrals/creditrule/").status_code in (302, 403)
