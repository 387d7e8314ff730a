"""Realistic referral volume for scale work: years of referrals, their events and the credit they earned.

Used by ``manage.py generate_volume`` and the dashboard benchmark. PostgreSQL
only: a million referrals go in with COPY (minutes), which the ORM's inserts
would take an hour to match. Every row is what the services would have
written for the same history (states, timestamps, one event row per move,
ledger entries per the default rules, reference numbers gap-free per year);
the patients are synthetic (``Volume Patient n``), nobody real.

The shape: volume grows over the years (the program is being adopted), few
referrals at weekends; departments and specialties are skewed (a few refer
most, as in any hospital); three channels with the staff portal ahead; a
funnel where most referrals are accepted, claimed and answered, some are
declined at triage, a few cancelled or entered in error; holds and open
questions pause some clocks. The latest referrals are still on their way, so
every open state is present.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.contrib.auth.models import Group
from django.db import connection, transaction
from django.utils import timezone

from portal.models import Department, Profile, Specialty, User
from portal.roles import Role
from referrals.clocks import CLOCK_OF_STATUS, DEFAULT_TARGETS
from referrals.models import (
    DEFAULT_CREDIT_RULES,
    CreditEntry,
    CreditRule,
    Holiday,
    ReferenceCounter,
    Referral,
    ReferralEvent,
)
from referrals.workflow import Action, Status

EMAIL_DOMAIN = "volume.example.org"

DEPARTMENTS = [
    "Medical Oncology", "Primary Care", "Cardiology", "Neurology", "Orthopaedics", "General Surgery",
    "Gastroenterology", "Rheumatology", "Endocrinology", "Nephrology", "Pulmonology", "Urology",
    "Obstetrics and Gynaecology", "Paediatrics", "Dermatology", "Haematology", "Emergency Medicine",
    "Radiation Oncology", "Infectious Diseases", "Geriatrics", "Psychiatry", "Ophthalmology",
]  # fmt: skip
SPECIALTIES = [
    "Oncology", "Cardiology", "Neurology", "Orthopaedic Surgery", "Gastroenterology", "Rheumatology",
    "Endocrinology", "Nephrology", "Pulmonology", "Urology", "Haematology", "Spine Surgery",
]  # fmt: skip


@dataclass
class Plan:
    referrals: int = 1_000_000
    years: int = 3
    clinicians: int = 4000
    reviewers: int = 240
    seed: int = 20261201


def _zipf_weights(n: int, s: float = 1.1) -> list[float]:
    return [1 / (rank**s) for rank in range(1, n + 1)]


def _copy(table: str, columns: list[str], rows) -> int:
    """COPY rows (tuples in ``columns`` order) into ``table``; returns how many."""
    count = 0
    with connection.cursor() as cursor:
        sql = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
        with cursor.cursor.copy(sql) as copy:
            for row in rows:
                copy.write_row(row)
                count += 1
    return count


def _next_ids(model, n: int) -> int:
    """Reserve ``n`` ids from the model's sequence; returns the first."""
    table = model._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            # The table name is the model's own (quoted), never input.
            "SELECT setval(pg_get_serial_sequence(%s, 'id'), "  # noqa: S608
            f"COALESCE((SELECT MAX(id) FROM {connection.ops.quote_name(table)}), 0) + %s)",
            [table, n],
        )
        last = cursor.fetchone()[0]
    return last - n + 1


class _Clock:
    """Moves forward by business days (weekends and holidays skipped), at office hours."""

    def __init__(self, holidays: set[date]):
        self.holidays = holidays

    def business(self, day: date) -> bool:
        return day.weekday() < 5 and day not in self.holidays

    def after(self, moment: datetime, business_days: int, rng: random.Random) -> datetime:
        day = moment.date()
        added = 0
        while added < business_days:
            day += timedelta(days=1)
            if self.business(day):
                added += 1
        if business_days == 0:
            hour = min(17, moment.hour + rng.randint(1, 4))
            return moment.replace(hour=hour, minute=rng.randint(0, 59))
        return moment.replace(year=day.year, month=day.month, day=day.day, hour=rng.randint(8, 17))


def _holidays(first_year: int, last_year: int) -> dict[date, str]:
    out = {}
    for year in range(first_year, last_year + 1):
        out[date(year, 1, 1)] = "New Year's Day"
        out[date(year, 7, 4)] = "Independence Day"
        out[date(year, 12, 25)] = "Christmas Day"
        november = date(year, 11, 1)
        first_thursday = november + timedelta(days=(3 - november.weekday()) % 7)
        out[first_thursday + timedelta(days=21)] = "Thanksgiving"
    return out


def _people(plan: Plan, rng: random.Random, departments, specialties):
    """The clinicians and reviewers of the volume (created once; reused on a second run)."""
    existing = list(User.objects.filter(email__endswith="@" + EMAIL_DOMAIN).values_list("id", "email"))
    if not existing:
        password = "!"  # unusable: these people never sign in
        users = [
            User(
                email=f"{kind.lower()}-{n:05d}@{EMAIL_DOMAIN}",
                first_name=f"{kind}{n}",
                last_name=f"Volume{n % 97}",
                password=password,
            )
            for kind, how_many in (("Clinician", plan.clinicians), ("Reviewer", plan.reviewers))
            for n in range(how_many)
        ]
        User.objects.bulk_create(users, batch_size=2000)
        existing = list(User.objects.filter(email__endswith="@" + EMAIL_DOMAIN).values_list("id", "email"))
    by_email = dict((email, pk) for pk, email in existing)
    clinician_ids = [by_email[e] for e in sorted(by_email) if e.startswith("clinician-")]
    reviewer_ids = [by_email[e] for e in sorted(by_email) if e.startswith("reviewer-")]

    department_weights = _zipf_weights(len(departments), 0.9)
    home = {pk: rng.choices(departments, department_weights)[0] for pk in clinician_ids}
    reviewer_specialty = {pk: specialties[i % len(specialties)] for i, pk in enumerate(reviewer_ids)}
    have_profiles = set(Profile.objects.filter(user_id__in=by_email.values()).values_list("user_id", flat=True))
    Profile.objects.bulk_create(
        [
            Profile(user_id=pk, department_id=home.get(pk, departments[0]).pk)
            for pk in by_email.values()
            if pk not in have_profiles
        ],
        batch_size=2000,
    )
    profiles = dict(Profile.objects.filter(user_id__in=by_email.values()).values_list("user_id", "id"))
    home = dict(Profile.objects.filter(user_id__in=by_email.values()).values_list("user_id", "department_id"))
    clinician_group = Group.objects.get_or_create(name=Role.CLINICIAN)[0]
    reviewer_group = Group.objects.get_or_create(name=Role.REVIEWER)[0]
    memberships = User.groups.through
    memberships.objects.bulk_create(
        [memberships(user_id=pk, group_id=clinician_group.pk) for pk in clinician_ids]
        + [memberships(user_id=pk, group_id=reviewer_group.pk) for pk in reviewer_ids],
        ignore_conflicts=True,
        batch_size=2000,
    )
    credentials = Profile.review_specialties.through
    credentials.objects.bulk_create(
        [credentials(profile_id=profiles[pk], specialty_id=s.pk) for pk, s in reviewer_specialty.items()],
        ignore_conflicts=True,
        batch_size=2000,
    )
    reviewers_of: dict[int, list[int]] = {}
    for pk, specialty in reviewer_specialty.items():
        reviewers_of.setdefault(specialty.pk, []).append(pk)
    return clinician_ids, home, reviewers_of


def generate(plan: Plan, *, now: datetime | None = None, log=print) -> dict[str, int]:
    """Write ``plan.referrals`` referrals over ``plan.years`` years ending now, with events and credit."""
    if connection.vendor != "postgresql":
        raise RuntimeError("generate_volume writes with PostgreSQL's COPY; point DATABASE_URL at PostgreSQL.")
    rng = random.Random(plan.seed)
    now = now or timezone.now()
    tz = timezone.get_current_timezone()
    today = timezone.localdate(now)
    first_day = today - timedelta(days=365 * plan.years)

    holidays = _holidays(first_day.year, today.year + 1)
    Holiday.objects.bulk_create(
        [Holiday(date=d, name=name) for d, name in holidays.items()], ignore_conflicts=True, batch_size=500
    )
    holidays_set = set(Holiday.objects.values_list("date", flat=True))
    clock = _Clock(holidays_set)

    departments = []
    for n, name in enumerate(DEPARTMENTS):
        department, _ = Department.objects.get_or_create(
            name=name, defaults={"code": f"vol-{n}", "headcount": rng.randint(40, 400)}
        )
        departments.append(department)
    specialties = []
    for name in SPECIALTIES:
        slug = name.lower().replace(" ", "-")
        specialty = Specialty.objects.filter(name=name).first() or Specialty.objects.create(name=name, slug=slug)
        specialties.append(specialty)
    rules = {}
    for code, (name, points, description) in DEFAULT_CREDIT_RULES.items():
        rules[code] = CreditRule.objects.get_or_create(
            code=code, defaults={"name": name, "points": points, "description": description}
        )[0]

    clinician_ids, home_department, reviewers_of = _people(plan, rng, departments, specialties)
    coordinator = User.objects.filter(groups__name=Role.COORDINATOR).order_by("pk").first() or User.objects.get(
        pk=clinician_ids[0]
    )
    log(f"people ready: {len(clinician_ids)} clinicians, {sum(map(len, reviewers_of.values()))} reviewers")

    # Which day each referral arrives: growth over the years, quiet weekends.
    days = [first_day + timedelta(days=n) for n in range((today - first_day).days + 1)]
    span = len(days)
    weights = [
        (0.5 + n / span) * (0.08 if d.weekday() >= 5 else 1.0) * (0.3 if d in holidays_set else 1.0)
        for n, d in enumerate(days)
    ]
    arrival_days = sorted(rng.choices(range(span), weights, k=plan.referrals))
    clinician_weights = _zipf_weights(len(clinician_ids), 0.8)
    rng.shuffle(clinician_weights)  # who refers most is not who was created first
    specialty_weights = _zipf_weights(len(specialties), 0.7)

    referral_columns = [
        "id", "reference", "status", "submission_token", "referrer_id", "department_id", "created_by_id",
        "channel", "channel_partner", "patient_name", "patient_mrn", "patient_dob", "patient_phone",
        "preferred_language", "interpreter_needed", "specialty_id", "question", "reason_category", "diagnosis",
        "icd10_code", "urgency", "records_location", "coverage", "patient_consented", "reviewer_id",
        "opinion_summary", "opinion_answer", "diagnosis_outcome", "treatment_outcome", "clinical_impact",
        "recommendations", "downstream_outcome", "recommendation_followed", "submitted_at", "accepted_at",
        "claimed_at", "review_started_at", "opinion_delivered_at", "closed_at", "ended_at", "updated_at",
        "hold_reason", "hold_since", "info_requested_at", "clock_due_at", "clock_paused_at",
    ]  # fmt: skip
    event_columns = [
        "referral_id",
        "kind",
        "action",
        "actor_id",
        "from_status",
        "to_status",
        "note",
        "detail",
        "created_at",
    ]
    credit_columns = [
        "person_id",
        "department_id",
        "rule_id",
        "referral_id",
        "points",
        "reverses_id",
        "reason",
        "created_at",
    ]

    first_id = _next_ids(Referral, plan.referrals)
    counters = dict(ReferenceCounter.objects.values_list("year", "last_number"))
    events: list[tuple] = []
    credit: list[tuple] = []
    totals = {"referrals": 0, "events": 0, "credit_entries": 0}
    T = ReferralEvent.Kind

    def move(rid, action, actor, frm, to, at, note=""):
        events.append((rid, T.TRANSITION, action, actor, frm, to, note, "{}", at))

    def award(person, department, code, rid, reference, at):
        if person is not None:
            rule = rules[code]
            credit.append((person, department, rule.pk, rid, rule.points, None, f"{rule.name}: {reference}", at))

    def referral_rows():
        for n, day_index in enumerate(arrival_days):
            rid = first_id + n
            day = days[day_index]
            submitted = timezone.make_aware(datetime.combine(day, time(rng.randint(7, 18), rng.randint(0, 59))), tz)
            if submitted > now:
                submitted = now - timedelta(minutes=rng.randint(1, 600))
            year = submitted.astimezone(tz).year
            counters[year] = counters.get(year, 0) + 1
            reference = f"SO-{year}-{counters[year]:06d}"
            roll = rng.random()
            channel = (
                "staff_portal"
                if roll < 0.72
                else "concierge"
                if roll < 0.87
                else "public_web"
                if roll < 0.96
                else "other"
            )
            referrer = rng.choices(clinician_ids, clinician_weights)[0] if channel == "staff_portal" else None
            department = home_department.get(referrer) if referrer else None
            specialty = rng.choices(specialties, specialty_weights)[0]
            urgent = rng.random() < 0.15
            coverage_roll = rng.random()
            coverage = (
                "insurance" if coverage_roll < 0.86 else "self_pay" if coverage_roll < 0.95 else "financial_assistance"
            )
            interpreter = rng.random() < 0.07
            creator = referrer or coordinator.pk
            row = {
                "status": Status.SUBMITTED, "reviewer_id": None, "accepted_at": None, "claimed_at": None,
                "review_started_at": None, "opinion_delivered_at": None, "closed_at": None, "ended_at": None,
                "diagnosis_outcome": "", "treatment_outcome": "", "clinical_impact": "", "downstream_outcome": "",
                "recommendation_followed": "", "opinion_summary": "", "opinion_answer": "", "recommendations": "",
                "hold_reason": "", "hold_since": None, "info_requested_at": None, "clock_paused_at": None,
            }  # fmt: skip
            events.append((rid, T.CREATED, "", creator, "", Status.SUBMITTED, "", "{}", submitted))
            last = submitted
            outcome = rng.random()

            def happens(at):
                return at <= now

            # Triage: sometimes a question to the referrer first (pauses the clock).
            triage_at = clock.after(submitted, rng.choice((0, 1, 1, 1, 2, 3) if not urgent else (0, 0, 1)), rng)
            if rng.random() < 0.06:
                asked = clock.after(submitted, 0, rng)
                if happens(asked):
                    events.append((rid, T.INFO_REQUESTED, "", coordinator.pk, "", "", "", "{}", asked))
                    answered = clock.after(asked, rng.randint(1, 3), rng)
                    if happens(answered):
                        events.append((rid, T.INFO_ANSWERED, "", creator, "", "", "", "{}", answered))
                        triage_at = clock.after(answered, rng.randint(0, 1), rng)
                    else:
                        row["info_requested_at"], row["clock_paused_at"] = asked, asked
                        triage_at = None
            if outcome < 0.005 and happens(last + timedelta(hours=2)):
                row["status"], row["ended_at"] = Status.ENTERED_IN_ERROR, last + timedelta(hours=2)
                move(rid, Action.ENTER_IN_ERROR, coordinator.pk, Status.SUBMITTED, row["status"], row["ended_at"])
            elif triage_at is not None and happens(triage_at):
                if outcome < 0.075:
                    row["status"], row["ended_at"] = Status.DECLINED, triage_at
                    move(rid, Action.DECLINE, coordinator.pk, Status.SUBMITTED, Status.DECLINED, triage_at)
                else:
                    row["status"], row["accepted_at"] = Status.ACCEPTED, triage_at
                    move(rid, Action.ACCEPT, coordinator.pk, Status.SUBMITTED, Status.ACCEPTED, triage_at)
                    award(referrer, department, CreditRule.Code.REFERRAL_ACCEPTED, rid, reference, triage_at)
                    last = triage_at
            if row["status"] == Status.ACCEPTED:
                claimed = clock.after(last, rng.choice((0, 1, 1, 2, 2, 3, 4, 6) if not urgent else (0, 0, 1)), rng)
                if outcome < 0.105 and happens(claimed):  # the patient went elsewhere before a reviewer took it
                    row["status"], row["ended_at"] = Status.CANCELLED, claimed
                    move(rid, Action.CANCEL, creator, Status.ACCEPTED, Status.CANCELLED, claimed, "Patient's choice")
                    if referrer is not None:
                        rule = rules[CreditRule.Code.REFERRAL_ACCEPTED]
                        credit.append(
                            (
                                referrer,
                                department,
                                rule.pk,
                                rid,
                                -rule.points,
                                "REVERSE",
                                f"Reversed (cancel): {reference}",
                                claimed,
                            )
                        )
                elif happens(claimed):
                    reviewer = rng.choice(reviewers_of[specialty.pk])
                    row["status"], row["reviewer_id"], row["claimed_at"] = Status.CLAIMED, reviewer, claimed
                    move(rid, Action.CLAIM, reviewer, Status.ACCEPTED, Status.CLAIMED, claimed)
                    started = clock.after(claimed, rng.choice((0, 1, 1, 2)), rng)
                    if happens(started):
                        row["status"], row["review_started_at"] = Status.IN_REVIEW, started
                        move(rid, Action.START_REVIEW, reviewer, Status.CLAIMED, Status.IN_REVIEW, started)
                        review_days = rng.choice((2, 3, 4, 5, 5, 6, 7, 8, 10, 14) if not urgent else (1, 2, 3))
                        delivered = clock.after(started, review_days, rng)
                        if rng.random() < 0.08:  # a hold while records arrive
                            held = clock.after(started, 1, rng)
                            if happens(held):
                                events.append(
                                    (rid, T.HOLD_SET, "", reviewer, "", "", "", '{"reason": "awaiting_records"}', held)
                                )
                                cleared = clock.after(held, rng.randint(1, 5), rng)
                                if happens(cleared):
                                    events.append((rid, T.HOLD_CLEARED, "", reviewer, "", "", "", "{}", cleared))
                                    delivered = clock.after(cleared, max(1, review_days - 1), rng)
                                else:
                                    row["hold_reason"], row["hold_since"], row["clock_paused_at"] = (
                                        "awaiting_records",
                                        held,
                                        held,
                                    )
                                    delivered = now + timedelta(days=1)
                        if happens(delivered):
                            row["status"], row["opinion_delivered_at"] = Status.OPINION_DELIVERED, delivered
                            row["diagnosis_outcome"] = rng.choices(("confirmed", "refined", "changed"), (55, 30, 15))[0]
                            row["treatment_outcome"] = rng.choices(
                                ("confirmed", "refined", "changed", "not_applicable"), (45, 30, 15, 10)
                            )[0]
                            row["clinical_impact"] = rng.choices(
                                ("none", "minor", "moderate", "major"), (35, 35, 20, 10)
                            )[0]
                            row["opinion_summary"] = "Records and imaging reviewed."
                            row["opinion_answer"] = "See the recommendations."
                            move(
                                rid,
                                Action.DELIVER_OPINION,
                                reviewer,
                                Status.IN_REVIEW,
                                Status.OPINION_DELIVERED,
                                delivered,
                            )
                            award(referrer, department, CreditRule.Code.OPINION_DELIVERED, rid, reference, delivered)
                            award(
                                reviewer,
                                home_department.get(reviewer),
                                CreditRule.Code.REVIEW_DELIVERED,
                                rid,
                                reference,
                                delivered,
                            )
                            closed = clock.after(delivered, rng.randint(2, 10), rng)
                            if happens(closed):
                                row["status"], row["closed_at"] = Status.CLOSED, closed
                                downstream = rng.choices(
                                    ("scheduled_here", "returned", "no_further_care", "lost_to_follow_up"),
                                    (30, 45, 15, 10),
                                )[0]
                                row["downstream_outcome"] = downstream
                                row["recommendation_followed"] = rng.choices(
                                    ("yes", "partly", "no", "unknown"), (50, 25, 10, 15)
                                )[0]
                                move(rid, Action.CLOSE, coordinator.pk, Status.OPINION_DELIVERED, Status.CLOSED, closed)
                                if downstream == "scheduled_here":
                                    award(referrer, department, CreditRule.Code.SCHEDULED_HERE, rid, reference, closed)
            updated = max(e[8] for e in events[-12:] if e[0] == rid)
            running = CLOCK_OF_STATUS.get(row["status"])
            clock_due = None
            if running is not None and row["clock_paused_at"] is None:
                started = {Status.SUBMITTED: submitted, Status.ACCEPTED: row["accepted_at"]}.get(
                    row["status"], row["review_started_at"]
                )
                clock_due = clock.after(started, DEFAULT_TARGETS[(running, "urgent" if urgent else "routine")], rng)
            yield (
                rid, reference, row["status"], uuid.UUID(int=rng.getrandbits(128), version=4), referrer, department,
                creator, channel, "Partner Health" if channel == "concierge" else "", f"Volume Patient {rid}",
                f"V{rid:08d}", date(1940 + rid % 60, 1 + rid % 12, 1 + rid % 28), "", "", interpreter, specialty.pk,
                "Is the planned treatment the right one?", "choose_treatment", "", "",
                "urgent" if urgent else "routine",
                "internal", coverage, True, row["reviewer_id"], row["opinion_summary"], row["opinion_answer"],
                row["diagnosis_outcome"], row["treatment_outcome"], row["clinical_impact"], row["recommendations"],
                row["downstream_outcome"], row["recommendation_followed"], submitted, row["accepted_at"],
                row["claimed_at"], row["review_started_at"], row["opinion_delivered_at"], row["closed_at"],
                row["ended_at"], updated, row["hold_reason"], row["hold_since"], row["info_requested_at"], clock_due,
                row["clock_paused_at"],
            )  # fmt: skip

    batch = 50_000
    rows = referral_rows()
    while True:
        chunk = []
        for row in rows:
            chunk.append(row)
            if len(chunk) == batch:
                break
        if not chunk:
            break
        with transaction.atomic():
            totals["referrals"] += _copy(Referral._meta.db_table, referral_columns, chunk)
            totals["events"] += _copy(ReferralEvent._meta.db_table, event_columns, events)
            totals["credit_entries"] += _write_credit(credit_columns, credit)
        events.clear()
        credit.clear()
        log(f"{totals['referrals']} referrals, {totals['events']} events, {totals['credit_entries']} credit entries")
    for year, number in counters.items():
        ReferenceCounter.objects.update_or_create(year=year, defaults={"last_number": number})
    return totals


def _write_credit(columns: list[str], entries: list[tuple]) -> int:
    """COPY the awards, then the reversals pointing at the award they take back."""
    awards = [e for e in entries if e[5] is None]
    reversals = [e for e in entries if e[5] == "REVERSE"]
    first = _next_ids(CreditEntry, len(awards)) if awards else 0
    numbered = [(first + n, *entry) for n, entry in enumerate(awards)]
    count = _copy(CreditEntry._meta.db_table, ["id", *columns], numbered)
    award_of = {(e[1], e[4], e[3]): e[0] for e in numbered}  # (person, referral, rule) -> id
    fixed = [(*e[:5], award_of[(e[0], e[3], e[2])], *e[6:]) for e in reversals]
    count += _copy(CreditEntry._meta.db_table, columns, fixed)
    return count
