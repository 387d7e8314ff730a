"""Correct numbers: a small hospital month built through the services, every figure checked against a hand count.

March 2026 in the portal's time zone (America/New_York). Friday 6 March is an
office holiday. The figures are read on Tuesday 31 March at noon. Business
days count like ``referrals.clocks``: the whole business days after the start's
day up to and including the end's day, minus those spent on hold or waiting
for an answer.

    ref  referrer  submitted  triage              queue            review                  end
    R1   Ana       Mon 2      accepted Tue 3 (1)  claimed Thu 5 (2) Thu 5 → Fri 13, hold    closed, scheduled here
                                                                    Mon 9 → Wed 11 (5-2=3)
    R2   Ana       Mon 2      question Tue 3 →    claimed Mon 9 (1) Mon 9 → Mon 16 (5)      closed, returned
                              Thu 5; accepted
                              Fri 6* (3-2=1)
    R3   Ben       Tue 3      declined Tue 3 (0)
    R4   Ben       Tue 3      accepted Mon 9 (3,  claimed Mon 9 (0) in review since Mon 9
                              holiday skipped)
    R5   Cara      Thu 5      accepted Thu 5 (0)  waiting in the queue
    R6   Ana       Thu 5      cancelled by Ana
    R7   Ana       Mon 9      entered in error (excluded everywhere)
    R8   concierge Mon 9      accepted Tue 10 (1) claimed Wed 11 (1) Wed 11 → Fri 13 (2)   closed, no further care
         (Sam reviews R8; Rita reviews the others)

    * R2 is accepted on the holiday itself; the holiday is not a business day of any clock.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine

from portal.roles import Role
from referrals import metrics, rollups, services
from referrals.models import Channel, Holiday
from tests.factories import DepartmentFactory, SpecialtyFactory, referral_data

pytestmark = pytest.mark.django_db

NY = ZoneInfo("America/New_York")
READ_AT = datetime(2026, 3, 31, 12, 0, tzinfo=NY)
MARCH = metrics.Filters(start=date(2026, 3, 1), end=date(2026, 3, 31))


def at(day: int, hour: int = 10, month: int = 3, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, tzinfo=NY)


class Hospital:
    """The people and referrals of the table above."""

    def __init__(self, make_user):
        self.oncology = DepartmentFactory(name="Oncology", code="onc", headcount=40)
        self.primary_care = DepartmentFactory(name="Primary Care", code="pc", headcount=20)
        self.cardiology_staff = DepartmentFactory(name="Cardiology Department", code="cardio", headcount=10)
        self.specialty = SpecialtyFactory(name="Cardiology", slug="cardiology")
        self.neurology = SpecialtyFactory(name="Neurology", slug="neurology")
        clinician = (Role.CLINICIAN,)
        self.ana = make_user(*clinician, first_name="Ana", last_name="Alvarez", department=self.oncology)
        self.ben = make_user(*clinician, first_name="Ben", last_name="Brooks", department=self.oncology)
        self.cara = make_user(*clinician, first_name="Cara", last_name="Cole", department=self.primary_care)
        self.dan = make_user(*clinician, first_name="Dan", last_name="Doyle", department=self.primary_care)
        self.rita = make_user(
            Role.REVIEWER,
            first_name="Rita",
            last_name="Reyes",
            department=self.cardiology_staff,
            review_specialties=[self.specialty],
        )
        self.sam = make_user(
            Role.REVIEWER,
            first_name="Sam",
            last_name="Stone",
            department=self.cardiology_staff,
            review_specialties=[self.specialty],
        )
        self.neuro_reviewer = make_user(Role.REVIEWER, review_specialties=[self.neurology])
        self.coordinator = make_user(Role.COORDINATOR, first_name="Grace", last_name="Lee")
        self.ben.profile.hide_from_leaderboards = True
        self.ben.profile.save()
        Holiday.objects.create(date=date(2026, 3, 6), name="Office closed for the spring clinical audit")
        self.build()

    def _at(self, when, call, **kwargs):
        with time_machine.travel(when, tick=False):
            return call(**kwargs)

    def refer(self, when, person, channel=Channel.STAFF_PORTAL, **data):
        actor = person or self.coordinator
        with time_machine.travel(when, tick=False):
            referral, _ = services.referral_create(
                actor=actor,
                data=referral_data(self.specialty, **data),
                channel=channel,
                channel_partner="Included Health" if channel == Channel.CONCIERGE else "",
            )
        return referral.pk

    def opinion(self, dx, tx):
        return {
            "opinion_summary": "Records and imaging reviewed.",
            "opinion_answer": "See the recommendations.",
            "diagnosis_outcome": dx,
            "treatment_outcome": tx,
        }

    def build(self):
        s, c = services, self.coordinator
        # Before the month: Dan referred in October (lapsed by March 31); Ben in early December.
        old = self.refer(at(1, month=10, year=2025), self.dan)
        self._at(at(2, month=10, year=2025), s.referral_accept, referral_id=old, actor=c)
        self.refer(at(1, month=12, year=2025), self.ben)

        r1 = self.refer(at(2), self.ana, interpreter_needed=True)
        r2 = self.refer(at(2, 11), self.ana, coverage="self_pay")
        r3 = self.refer(at(3), self.ben)
        r4 = self.refer(at(3, 11), self.ben)
        r5 = self.refer(at(5), self.cara, coverage="financial_assistance")
        r6 = self.refer(at(5, 11), self.ana)
        r7 = self.refer(at(9), self.ana)
        r8 = self.refer(at(9, 11), None, channel=Channel.CONCIERGE, interpreter_needed=True)
        self.ids = [r1, r2, r3, r4, r5, r6, r7, r8]

        # R1
        self._at(at(3), s.referral_accept, referral_id=r1, actor=c)
        self._at(at(5), s.referral_claim, referral_id=r1, actor=self.rita)
        self._at(at(5, 12), s.referral_start_review, referral_id=r1, actor=self.rita)
        self._at(at(9), s.referral_hold, referral_id=r1, actor=self.rita, reason="awaiting_records")
        self._at(at(11), s.referral_clear_hold, referral_id=r1, actor=self.rita)
        self._at(
            at(13),
            s.referral_deliver_opinion,
            referral_id=r1,
            actor=self.rita,
            opinion=self.opinion("confirmed", "refined"),
        )
        self._at(at(16), s.referral_close, referral_id=r1, actor=c, outcome={"downstream_outcome": "scheduled_here"})
        # R2
        self._at(
            at(3, 12), s.referral_request_info, referral_id=r2, actor=c, question="Which cardiologist saw them last?"
        )
        self._at(at(5, 12), s.referral_answer_info, referral_id=r2, actor=self.ana, answer="Dr Patel, in January.")
        self._at(at(6), s.referral_accept, referral_id=r2, actor=c)
        self._at(at(9), s.referral_claim, referral_id=r2, actor=self.rita)
        self._at(at(9, 12), s.referral_start_review, referral_id=r2, actor=self.rita)
        self._at(
            at(16),
            s.referral_deliver_opinion,
            referral_id=r2,
            actor=self.rita,
            opinion=self.opinion("refined", "changed"),
        )
        self._at(at(17), s.referral_close, referral_id=r2, actor=c, outcome={"downstream_outcome": "returned"})
        # R3
        self._at(at(3, 15), s.referral_decline, referral_id=r3, actor=c, reason="Not a second opinion question")
        # R4
        self._at(at(9), s.referral_accept, referral_id=r4, actor=c)
        self._at(at(9, 14), s.referral_claim, referral_id=r4, actor=self.rita)
        self._at(at(9, 15), s.referral_start_review, referral_id=r4, actor=self.rita)
        # R5
        self._at(at(5, 14), s.referral_accept, referral_id=r5, actor=c)
        # R6, R7
        self._at(at(5, 15), s.referral_cancel, referral_id=r6, actor=self.ana, reason="Patient chose to stay local")
        self._at(
            at(9, 12), s.referral_enter_in_error, referral_id=r7, actor=c, reason="Duplicate of an earlier referral"
        )
        # R8
        self._at(at(10), s.referral_accept, referral_id=r8, actor=c)
        self._at(at(11), s.referral_claim, referral_id=r8, actor=self.sam)
        self._at(at(11, 12), s.referral_start_review, referral_id=r8, actor=self.sam)
        self._at(
            at(13),
            s.referral_deliver_opinion,
            referral_id=r8,
            actor=self.sam,
            opinion=self.opinion("changed", "not_applicable"),
        )
        self._at(at(16), s.referral_close, referral_id=r8, actor=c, outcome={"downstream_outcome": "no_further_care"})


@pytest.fixture
def hospital(make_user):
    built = Hospital(make_user)
    # What the beat task does each minute: bring the dashboard's rollup up to date.
    rollups.refresh_referral_facts()
    return built


@pytest.fixture
def read_at_month_end():
    with time_machine.travel(READ_AT, tick=False):
        yield


def _by(rows, key):
    return {row[key]: row for row in rows}


# --- The funnel and the referral counts ------------------------------------------------------------


def test_every_funnel_step_counts_the_hand_counted_referrals(hospital, read_at_month_end):
    funnel = metrics.summary(MARCH.cohort())["funnel"]

    assert [(row["step"], row["referrals"]) for row in funnel] == [
        ("Submitted", 7),
        ("Accepted", 5),
        ("Claimed by a reviewer", 4),
        ("Opinion delivered", 3),
        ("Scheduled for care here", 1),
    ]
    assert [row["share_of_submitted"] for row in funnel] == [100.0, 71.4, 57.1, 42.9, 14.3]


def test_endings_and_open_cases_are_counted(hospital, read_at_month_end):
    figures = metrics.summary(MARCH.cohort())

    assert (figures["declined"], figures["cancelled"], figures["still_open"]) == (1, 1, 2)


def test_loop_closure_is_the_share_of_staff_referrals_whose_referrer_got_the_opinion(hospital, read_at_month_end):
    figures = metrics.summary(MARCH.cohort())

    # Staff referrals R1–R6 (R8 came from a concierge partner); opinions reached Ana on R1 and R2.
    assert (figures["with_referrer"], figures["loop_closed"], figures["loop_closure_rate"]) == (6, 2, 33.3)


def test_entered_in_error_is_left_out_of_every_volume(hospital, read_at_month_end):
    qs = MARCH.cohort()

    assert hospital.ids[6] not in set(qs.values_list("id", flat=True))
    assert metrics.volume_by_week(qs) == [
        {"week": date(2026, 3, 2), "referrals": 6},
        {"week": date(2026, 3, 9), "referrals": 1},
    ]


def test_weeks_without_referrals_show_as_zero_across_the_period(hospital, read_at_month_end):
    weeks = metrics.volume_by_week(MARCH.cohort(), MARCH.start, MARCH.end)

    assert [(w["week"], w["referrals"]) for w in weeks] == [
        (date(2026, 2, 23), 0),  # 1 March is a Sunday
        (date(2026, 3, 2), 6),
        (date(2026, 3, 9), 1),
        (date(2026, 3, 16), 0),
        (date(2026, 3, 23), 0),
        (date(2026, 3, 30), 0),
    ]


def test_volume_by_channel_department_and_specialty(hospital, read_at_month_end):
    qs = MARCH.cohort()

    assert metrics.volume_by(qs, "channel") == [
        {"channel": "Staff portal", "referrals": 6},
        {"channel": "Concierge partner", "referrals": 1},
    ]
    assert metrics.volume_by(qs, "department") == [
        {"department": "Oncology", "referrals": 5},
        {"department": "Primary Care", "referrals": 1},
        {"department": "No department", "referrals": 1},  # the concierge referral
    ]
    assert metrics.volume_by(qs, "specialty") == [{"specialty": "Cardiology", "referrals": 7}]


def test_internal_and_concierge_volume(hospital, read_at_month_end):
    sources = metrics.summary(MARCH.cohort())["sources"]

    assert [(r["source"], r["referrals"]) for r in sources] == [
        ("Internal (staff portal)", 6),
        ("Concierge partners", 1),
        ("Public web and other", 0),
    ]


def test_equity_counts_and_delivery_rates(hospital, read_at_month_end):
    equity = _by(metrics.summary(MARCH.cohort())["equity"], "group")

    assert (equity["Self-pay"]["referrals"], equity["Self-pay"]["delivered_rate"]) == (1, 100.0)
    assert (
        equity["Financial assistance requested"]["referrals"],
        equity["Financial assistance requested"]["delivered_rate"],
    ) == (1, 0.0)
    assert (equity["Interpreter needed"]["referrals"], equity["Interpreter needed"]["opinion_delivered"]) == (2, 2)


def test_outcome_mix_counts_each_recorded_outcome(hospital, read_at_month_end):
    mix = {(r["measure"], r["outcome"]): r["referrals"] for r in metrics.outcome_mix(MARCH.cohort())}

    assert [mix[("Diagnosis", o)] for o in ("Confirmed", "Refined", "Changed")] == [1, 1, 1]
    assert [mix[("Treatment", o)] for o in ("Confirmed", "Refined", "Changed", "Not applicable")] == [0, 1, 1, 1]
    assert [mix[("Downstream", o)] for o in ("Scheduled for care here", "Returned to referring clinician")] == [1, 1]
    assert mix[("Downstream", "No further care")] == 1


def test_filters_narrow_every_figure(hospital, read_at_month_end):
    concierge = metrics.Filters(start=MARCH.start, end=MARCH.end, channel=Channel.CONCIERGE)
    oncology = metrics.Filters(start=MARCH.start, end=MARCH.end, department_id=hospital.oncology.pk)
    neurology = metrics.Filters(start=MARCH.start, end=MARCH.end, specialty_id=hospital.neurology.pk)

    assert metrics.summary(concierge.cohort())["submitted"] == 1
    assert metrics.summary(oncology.cohort())["delivered"] == 2
    assert metrics.summary(neurology.cohort())["submitted"] == 0


# --- Clocks -------------------------------------------------------------------------------------------


def test_each_clocks_median_and_90th_percentile_in_business_days_with_pauses(hospital, read_at_month_end):
    clocks = _by(metrics.clock_figures(metrics.clock_rows(MARCH.cohort())), "clock")

    # triage [0, 0, 1, 1, 1, 3], queue [0, 1, 1, 2], review [2, 3, 5]; percentiles interpolate.
    assert (
        clocks["Triage"]["completed"],
        clocks["Triage"]["median_business_days"],
        clocks["Triage"]["p90_business_days"],
    ) == (6, 1.0, 2.0)
    assert (
        clocks["Queue"]["completed"],
        clocks["Queue"]["median_business_days"],
        clocks["Queue"]["p90_business_days"],
    ) == (4, 1.0, 1.7)
    assert (
        clocks["Review"]["completed"],
        clocks["Review"]["median_business_days"],
        clocks["Review"]["p90_business_days"],
    ) == (3, 3.0, 4.6)


def test_completed_clocks_past_their_target(hospital, read_at_month_end):
    clocks = _by(metrics.clock_figures(metrics.clock_rows(MARCH.cohort())), "clock")

    # R4's triage took 3 business days against the routine target of 2; every other clock met its target.
    assert [clocks[name]["past_target"] for name in ("Triage", "Queue", "Review")] == [1, 0, 0]
    assert clocks["Triage"]["within_target_share"] == 83.3


def test_open_cases_past_their_target_now(hospital, read_at_month_end):
    late = _by(metrics.open_past_target(MARCH.cohort()), "clock")

    # R5 has waited in the queue since 5 March; R4 has been in review since 9 March.
    assert [late[name]["open_cases_past_target"] for name in ("Triage", "Queue", "Review")] == [0, 1, 1]


def test_pause_intervals_merge_a_hold_and_an_open_question():
    t = [datetime(2026, 3, d, 10, tzinfo=NY) for d in (2, 3, 4, 5)]
    events = [("hold_set", t[0]), ("info_requested", t[1]), ("hold_cleared", t[2]), ("info_answered", t[3])]

    assert metrics.pause_intervals(events) == [(t[0], t[3])]


def test_percentile_interpolates_between_closest_ranks():
    assert metrics.percentile([2, 4, 5], 0.9) == pytest.approx(4.8)
    assert metrics.percentile([1, 2, 3, 4], 0.5) == 2.5
    assert metrics.percentile([], 0.5) is None


# --- Participation --------------------------------------------------------------------------------------


def test_reviewer_participation(hospital, read_at_month_end):
    qs = MARCH.cohort()
    reviewers = _by(metrics.reviewer_participation(qs, metrics.clock_rows(qs)), "reviewer")

    rita, sam = reviewers["Rita Reyes"], reviewers["Sam Stone"]
    assert (rita["claimed"], rita["delivered"], rita["median_claim_to_delivery_business_days"]) == (3, 2, 4.0)
    assert (sam["claimed"], sam["delivered"], sam["median_claim_to_delivery_business_days"]) == (1, 1, 2.0)


def test_specialty_participation(hospital, read_at_month_end):
    qs = MARCH.cohort()
    specialties = _by(metrics.specialty_participation(qs, metrics.clock_rows(qs)), "specialty")

    cardiology, neurology = specialties["Cardiology"], specialties["Neurology"]
    assert (
        cardiology["median_queue_business_days"],
        cardiology["active_reviewers"],
        cardiology["credentialed_reviewers"],
    ) == (1.0, 2, 2)
    assert (neurology["active_reviewers"], neurology["credentialed_reviewers"], neurology["active_share"]) == (
        0,
        1,
        0.0,
    )


def test_department_participation(hospital, read_at_month_end):
    departments = _by(metrics.department_participation(MARCH.cohort()), "department")

    oncology = departments["Oncology"]
    # Five referrals (R7 entered in error is left out) from Ana and Ben, 40 staff.
    assert (oncology["referrals"], oncology["referring_clinicians"], oncology["referrals_per_100_staff"]) == (
        5,
        2,
        12.5,
    )
    assert departments["Primary Care"]["referrals_per_100_staff"] == 5.0


def test_new_top_and_lapsed_referrers(hospital, read_at_month_end):
    outreach = metrics.referrer_outreach()

    assert [r["referrer"] for r in outreach["new"]] == ["Cara Cole", "Ana Alvarez"]  # Ben referred in December
    assert [(r["referrer"], r["referrals_last_90_days"]) for r in outreach["top"]] == [
        ("Ana Alvarez", 3),
        ("Ben Brooks", 2),
        ("Cara Cole", 1),
    ]
    assert [(r["referrer"], r["last_referral"]) for r in outreach["lapsed"]] == [("Dan Doyle", date(2025, 10, 1))]


# --- Leaderboards -----------------------------------------------------------------------------------------


def test_people_leaderboard_order_with_a_hidden_name_and_a_tie(hospital, read_at_month_end):
    standings = metrics.people_standings(since=metrics.period_start("month"))

    assert [(s.rank, s.name, s.points) for s in standings] == [
        (1, "Ana Alvarez", 9),
        (2, "Rita Reyes", 4),
        (3, "Sam Stone", 2),
        (4, metrics.HIDDEN_NAME, 1),  # Ben, tied with Cara
        (4, "Cara Cole", 1),
    ]
    assert standings[3].department == "" and standings[3].person_id is None


def test_a_hidden_person_sees_their_own_name_and_rank(hospital, read_at_month_end):
    standings = metrics.people_standings(since=metrics.period_start("month"), viewer=hospital.ben)

    mine = next(s for s in standings if s.is_you)
    assert (mine.rank, mine.name, mine.hidden) == (4, "Ben Brooks", True)
    assert metrics.person_rank(user=hospital.ben, since=metrics.period_start("month")) == (4, 5, 1)


def test_hidden_people_still_count_for_their_department(hospital, read_at_month_end):
    departments = metrics.department_standings(since=metrics.period_start("quarter"))

    assert [(d.rank, d.name, d.points) for d in departments] == [
        (1, "Oncology", 10),  # Ana 9 + Ben (hidden) 1
        (2, "Cardiology Department", 6),
        (3, "Primary Care", 1),
    ]
    assert departments[0].extra["per_100_staff"] == 25.0


def test_the_year_leaderboard_leaves_out_last_years_credit(hospital, read_at_month_end):
    year = metrics.people_standings(since=metrics.period_start("year"))

    assert "Dan Doyle" not in [s.name for s in year]
    assert metrics.credit_total(user=hospital.dan) == 1


def test_the_home_page_summary_and_teaser(hospital, read_at_month_end):
    from referrals import selectors

    summary = selectors.credit_summary_for(user=hospital.cara, period="month")
    teaser = selectors.leaderboard_teaser(period="month", limit=3)

    assert (summary["points"], summary["rank"], summary["ranked_people"], summary["total_points"]) == (1, 4, 5, 1)
    assert [s.name for s in teaser] == ["Ana Alvarez", "Rita Reyes", "Sam Stone"]


def test_periods_start_on_the_calendar_month_quarter_and_year():
    day = date(2026, 8, 19)

    assert [metrics.period_start(p, day).date() for p in ("month", "quarter", "year")] == [
        date(2026, 8, 1),
        date(2026, 7, 1),
        date(2026, 1, 1),
    ]
