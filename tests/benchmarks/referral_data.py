"""Referral data for the referrals suite: people, one long-lived case made through
the services, and many referrals bulk-inserted in batches.

Bulk rows are written with ``bulk_create`` (the services would take minutes
for 100,000), but shaped like the services' output: a reference from the
year's ``ReferenceCounter`` (gap-free, advanced in the same transaction), the
timestamps and people each state implies, the constraint-bound fields
(a reviewer in claimed states, patient consent), and one ``ReferralEvent`` per
step the referral went through. Events and read-log rows are only inserted:
PostgreSQL triggers refuse UPDATE and DELETE on those tables.
"""

from __future__ import annotations

import datetime
import random
import uuid
from collections import Counter
from dataclasses import dataclass, field

from django.db import connection, transaction
from django.utils import timezone

BATCH = 4000

FIRST_NAMES = [
    "Ada", "Bram", "Celia", "Dmitri", "Elena", "Farid", "Greta", "Hugo", "Ines", "Jomo", "Kaito", "Lena",
    "Mateo", "Nadia", "Oren", "Priya", "Quinn", "Rosa", "Soren", "Tala", "Umar", "Vera", "Wen", "Yara",
]  # fmt: skip
LAST_NAMES = [
    "Abara", "Bianchi", "Castellano", "Dubois", "Eriksen", "Fontaine", "Gallagher", "Haddad", "Ivanova",
    "Jansen", "Kowalski", "Lindgren", "Moreau", "Nakamura", "Okafor", "Petrov", "Quispe", "Rahman",
    "Silva", "Tanaka", "Ulloa", "Varga", "Whitaker", "Yilmaz",
]  # fmt: skip
QUESTIONS = [
    "Is the proposed operation the right next step, or is watchful waiting reasonable?",
    "Does the imaging support the working diagnosis, or should an alternative be considered?",
    "Which of the two treatment plans offered fits this patient better?",
    "Is the patient a candidate for any clinical trial open here?",
    "Second look at the pathology: is the grading right?",
    "The patient asks whether the treatment can safely wait until after a family event.",
]
NOTES = ["Discussed with the referring team.", "Patient informed by phone.", "Records checked; complete."]

# Share of bulk referrals in each state (closed and ended ones dominate a real year).
STATUS_WEIGHTS = {
    "submitted": 6,
    "accepted": 10,
    "claimed": 5,
    "in_review": 7,
    "opinion_delivered": 4,
    "closed": 53,
    "declined": 7,
    "cancelled": 6,
    "entered_in_error": 2,
}
# Specialty slugs with more weight; the others share the rest evenly.
SPECIALTY_WEIGHTS = {"medical-oncology": 30, "cardiology": 20, "neurology": 14}
OTHER_SPECIALTY_WEIGHT = 12
# The main referrer of the lists (maria.rivera) makes this share of all referrals.
MAIN_REFERRER_SHARE = 0.05
EXTRA_REFERRERS = 24
REVIEWERS_PER_SPECIALTY = 2


@dataclass
class Cast:
    """Ids of the people bulk referrals name."""

    coordinators: list[int]
    main_referrer: tuple[int, int | None]
    referrers: list[tuple[int, int | None]]  # (user id, department id)
    reviewers_by_specialty: dict[int, list[int]]
    specialty_ids_by_slug: dict[str, int]
    extra: dict = field(default_factory=dict)


def ensure_people(domain: str, main_referrer_email: str) -> Cast:
    """Extra referrers and reviewers (through ``services.user_create``) so bulk referrals spread over people."""
    from portal import services
    from portal.models import Department, Profile, Specialty, User
    from portal.roles import Role

    departments = list(Department.objects.order_by("code"))
    specialties = list(Specialty.objects.order_by("slug"))
    for i in range(EXTRA_REFERRERS):
        email = f"bench.referrer{i:02d}@{domain}"
        if not User.objects.filter(email=email).exists():
            services.user_create(
                email=email,
                password=None,  # never signs in; skips the deliberately slow password hash
                first_name=f"Referrer{i:02d}",
                last_name="Bench",
                department=departments[i % len(departments)],
                job_role=Profile.JobRole.PHYSICIAN if i % 3 else Profile.JobRole.NURSE,
                title="Generated for the benchmark",
                roles=(Role.CLINICIAN,),
            )
    for specialty in specialties:
        have = User.objects.filter(groups__name=Role.REVIEWER, profile__review_specialties=specialty).count()
        for n in range(have, REVIEWERS_PER_SPECIALTY):
            services.user_create(
                email=f"bench.reviewer.{specialty.slug}.{n}@{domain}",
                password=None,
                first_name=f"Reviewer{n}",
                last_name=specialty.name.split()[0],
                department=departments[n % len(departments)],
                job_role=Profile.JobRole.PHYSICIAN,
                title=f"Attending, {specialty.name}",
                roles=(Role.CLINICIAN, Role.REVIEWER),
                review_specialties=[specialty],
            )
    clinicians = list(
        User.objects.filter(groups__name=Role.CLINICIAN, is_active=True)
        .order_by("pk")
        .values_list("pk", "profile__department_id")
    )
    main = User.objects.filter(email=main_referrer_email).values_list("pk", "profile__department_id").get()
    reviewers: dict[int, list[int]] = {s.pk: [] for s in specialties}
    for user_id, specialty_id in (
        User.objects.filter(groups__name=Role.REVIEWER, is_active=True)
        .order_by("pk")
        .values_list("pk", "profile__review_specialties")
    ):
        if specialty_id is not None:
            reviewers[specialty_id].append(user_id)
    coordinators = list(User.objects.filter(groups__name=Role.COORDINATOR).order_by("pk").values_list("pk", flat=True))
    return Cast(
        coordinators=coordinators,
        main_referrer=main,
        referrers=[c for c in clinicians if c[0] != main[0]],
        reviewers_by_specialty=reviewers,
        specialty_ids_by_slug={s.slug: s.pk for s in specialties},
    )


# --- One long case through the services ---------------------------------------------------


def long_case(*, referrer, coordinator, reviewer, other_reviewer, specialty) -> str:
    """A referral made and moved through the services, ending in review, with a long timeline.

    Every kind of event the detail page names: question and answer, claim,
    release, assignment, reassignment, hold, records, a note, start of review.
    Returns its reference.
    """
    from referrals import services
    from referrals.models import HoldReason

    referral, _ = services.referral_create(
        actor=referrer,
        submission_token=uuid.uuid5(uuid.NAMESPACE_URL, "bench-long-case"),
        data={
            "patient_name": "Ottilie Brandvold",
            "patient_mrn": "B-0000001",
            "patient_dob": datetime.date(1957, 6, 3),
            "specialty": specialty,
            "question": QUESTIONS[0],
            "reason_category": "confirm_surgery",
            "urgency": "urgent",
            "records_location": "outside",
            "coverage": "insurance",
            "patient_consented": True,
        },
    )
    rid = referral.pk
    services.referral_request_info(referral_id=rid, actor=coordinator, question="Which surgeon saw her last?")
    services.referral_answer_info(referral_id=rid, actor=referrer, answer="Dr Ames at the county hospital.")
    services.referral_accept(referral_id=rid, actor=coordinator)
    services.referral_claim(referral_id=rid, actor=reviewer)
    services.referral_release(referral_id=rid, actor=reviewer, reason="Away next week; back to the queue.")
    services.referral_assign(referral_id=rid, actor=coordinator, reviewer=other_reviewer, note="Covering.")
    services.referral_reassign(referral_id=rid, actor=coordinator, reviewer=reviewer, reason="Back early.")
    services.referral_hold(referral_id=rid, actor=coordinator, reason=HoldReason.AWAITING_RECORDS)
    services.referral_request_records(referral_id=rid, actor=coordinator, note="Asked the county hospital.")
    services.referral_receive_records(referral_id=rid, actor=reviewer, note="Imaging and notes arrived.")
    services.referral_clear_hold(referral_id=rid, actor=coordinator)
    services.referral_add_note(referral_id=rid, actor=reviewer, body=NOTES[0])
    services.referral_start_review(referral_id=rid, actor=reviewer)
    services.referral_add_note(referral_id=rid, actor=coordinator, body=NOTES[1])
    return referral.reference


# --- Bulk referrals ----------------------------------------------------------------------------


def _allocate_references(year_counts: Counter) -> dict[int, int]:
    """Advance each year's reference counter by its count (row locked); return the first new number per year."""
    from referrals.models import ReferenceCounter

    ReferenceCounter.objects.bulk_create(
        [ReferenceCounter(year=y, last_number=0) for y in year_counts], ignore_conflicts=True
    )
    first = {}
    for counter in ReferenceCounter.objects.select_for_update().filter(year__in=list(year_counts)).order_by("year"):
        first[counter.year] = counter.last_number + 1
        counter.last_number += year_counts[counter.year]
        counter.save(update_fields=["last_number"])
    return first


def _weighted(rng: random.Random, weights: dict):
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _specialty_weights(cast: Cast) -> dict[int, int]:
    return {pk: SPECIALTY_WEIGHTS.get(slug, OTHER_SPECIALTY_WEIGHT) for slug, pk in cast.specialty_ids_by_slug.items()}


class _Builder:
    """Builds one referral and its events in memory, for a state, as the services would have left it."""

    def __init__(self, rng: random.Random, cast: Cast, now: datetime.datetime):
        self.rng = rng
        self.cast = cast
        self.now = now

    def referral(self, *, status: str, specialty_id: int, submitted_at, referrer: tuple[int, int | None]):
        from referrals.models import Referral

        rng = self.rng
        coordinator = rng.choice(self.cast.coordinators)
        channel = "staff_portal" if rng.random() < 0.9 else rng.choice(["concierge", "public_web", "other"])
        referrer_id, department_id = referrer
        if channel != "staff_portal" and rng.random() < 0.5:
            referrer_id, department_id = None, None  # logged with no staff referrer
        created_by = referrer_id if channel == "staff_portal" else coordinator
        urgency = "urgent" if rng.random() < 0.15 else "routine"
        r = Referral(
            status=status,
            submission_token=uuid.UUID(int=rng.getrandbits(128), version=4),
            referrer_id=referrer_id,
            department_id=department_id,
            created_by_id=created_by,
            channel=channel,
            channel_partner="Harbor Health Concierge" if channel == "concierge" else "",
            patient_name=f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}",
            patient_mrn=f"B-{rng.randrange(10**7):07d}",
            patient_dob=datetime.date(1930, 1, 1) + datetime.timedelta(days=rng.randrange(365 * 80)),
            patient_phone="" if rng.random() < 0.5 else f"555-{rng.randrange(10**4):04d}",
            preferred_language="" if rng.random() < 0.9 else "Spanish",
            interpreter_needed=rng.random() < 0.05,
            specialty_id=specialty_id,
            question=QUESTIONS[rng.randrange(len(QUESTIONS))],
            reason_category=rng.choice(
                ["check_diagnosis", "choose_treatment", "confirm_surgery", "clinical_trial", "be_seen_here", ""]
            ),
            urgency=urgency,
            records_location="outside" if rng.random() < 0.2 else "internal",
            coverage=rng.choice(["insurance", "insurance", "insurance", "self_pay", "financial_assistance"]),
            patient_consented=True,
            submitted_at=submitted_at,
        )
        events = [("created", "", created_by, "", "submitted", "", {"channel": channel}, submitted_at)]
        t = submitted_at
        path = {
            "submitted": [],
            "accepted": ["accept"],
            "claimed": ["accept", "claim"],
            "in_review": ["accept", "claim", "start_review"],
            "opinion_delivered": ["accept", "claim", "start_review", "deliver_opinion"],
            "closed": ["accept", "claim", "start_review", "deliver_opinion", "close"],
            "declined": ["decline"],
            "cancelled": ["cancel"] if rng.random() < 0.5 else ["accept", "cancel"],
            "entered_in_error": ["enter_in_error"],
        }[status]
        reviewers = self.cast.reviewers_by_specialty.get(specialty_id) or []
        reviewer = rng.choice(reviewers) if reviewers else None
        state = "submitted"
        step_hours = min(72.0, max(0.5, (self.now - submitted_at).total_seconds() / 3600 / (len(path) + 1)))
        for action in path:
            t = t + datetime.timedelta(hours=rng.uniform(0.3, 1.0) * step_hours)
            target = {
                "accept": "accepted",
                "claim": "claimed",
                "start_review": "in_review",
                "deliver_opinion": "opinion_delivered",
                "close": "closed",
                "decline": "declined",
                "cancel": "cancelled",
                "enter_in_error": "entered_in_error",
            }[action]
            actor, note, detail = coordinator, "", {}
            if action == "accept":
                r.accepted_at = t
            elif action == "claim":
                actor, detail = reviewer, {"reviewer": reviewer}
                r.reviewer_id, r.claimed_at = reviewer, t
            elif action == "start_review":
                actor = reviewer
                r.review_started_at = t
                if r.records_location == "outside":
                    r.records_requested_at = r.records_received_at = t
            elif action == "deliver_opinion":
                actor = reviewer
                r.opinion_summary = "Imaging, pathology and notes reviewed."
                r.opinion_answer = "The plan is reasonable; a shorter first step is an equal option."
                r.diagnosis_outcome = rng.choice(["confirmed", "refined", "changed"])
                r.treatment_outcome = rng.choice(["confirmed", "refined", "changed", "not_applicable"])
                r.clinical_impact = rng.choice(["none", "minor", "moderate", "major", ""])
                r.opinion_delivered_at = t
            elif action == "close":
                r.downstream_outcome = rng.choice(["scheduled_here", "returned", "no_further_care"])
                r.recommendation_followed = rng.choice(["yes", "partly", "no", "unknown"])
                r.closed_at = t
            else:  # decline, cancel, enter in error: a reason, and the case ends
                if action == "cancel" and referrer_id and rng.random() < 0.5 and state == "submitted":
                    actor = referrer_id
                note = "Not a second-opinion question." if action == "decline" else "Patient withdrew."
                r.ended_at = t
            events.append(("transition", action, actor, state, target, note, detail, t))
            state = target
        # The running clock of the current state, as referrals.clocks would have set it (some already past).
        if status == "submitted":
            r.clock_due_at = submitted_at + datetime.timedelta(days=2 if urgency == "routine" else 0.5)
        elif status == "accepted":
            r.clock_due_at = r.accepted_at + datetime.timedelta(days=3)
        elif status == "in_review":
            r.clock_due_at = r.review_started_at + datetime.timedelta(days=7)
        if status in ("submitted", "accepted", "claimed", "in_review"):
            roll = rng.random()
            if roll < 0.05:
                t = t + datetime.timedelta(minutes=30)
                r.info_requested_at, r.info_requested_by_id = t, coordinator
                r.clock_paused_at = t if r.clock_due_at else None
                events.append(("info_requested", "", coordinator, "", "", "Which imaging was done?", {}, t))
            elif roll < 0.08:
                t = t + datetime.timedelta(minutes=30)
                r.hold_reason, r.hold_since = "awaiting_patient", t
                r.clock_paused_at = t if r.clock_due_at else None
                events.append(("hold_set", "", coordinator, "", "", "", {"reason": "awaiting_patient"}, t))
        if rng.random() < 0.1:
            t = t + datetime.timedelta(minutes=5)
            events.append(("note", "", coordinator, "", "", rng.choice(NOTES), {}, t))
        return r, events


def bulk_referrals(
    count: int,
    *,
    cast: Cast,
    seed: int,
    statuses: dict | None = None,
    specialty_ids: list[int] | None = None,
    open_within_days: float = 30,
    closed_within_days: float = 400,
) -> list[tuple[str, int]]:
    """Insert ``count`` referrals (and their events) in batches; return [(reference, specialty id)].

    ``statuses`` (state -> weight) and ``specialty_ids`` narrow what is made
    (the claim pool: accepted ones in the reviewers' specialties).
    """
    from referrals.models import Referral, ReferralEvent

    if count <= 0:
        return []
    rng = random.Random(seed)
    now = timezone.now()
    builder = _Builder(rng, cast, now)
    statuses = statuses or STATUS_WEIGHTS
    specialty_weights = _specialty_weights(cast)
    if specialty_ids:
        specialty_weights = {pk: specialty_weights[pk] for pk in specialty_ids}
    referrers = cast.referrers
    made: list[tuple[str, int]] = []
    for start in range(0, count, BATCH):
        size = min(BATCH, count - start)
        rows = []
        for _ in range(size):
            status = _weighted(rng, statuses)
            ended = status in ("closed", "declined", "cancelled", "entered_in_error")
            age_days = rng.uniform(1, closed_within_days) if ended else rng.uniform(0.05, open_within_days)
            submitted_at = now - datetime.timedelta(days=age_days)
            referrer = cast.main_referrer if rng.random() < MAIN_REFERRER_SHARE else rng.choice(referrers)
            rows.append(
                builder.referral(
                    status=status,
                    specialty_id=_weighted(rng, specialty_weights),
                    submitted_at=submitted_at,
                    referrer=referrer,
                )
            )
        rows.sort(key=lambda pair: pair[0].submitted_at)  # references in submission order within a year
        with transaction.atomic():
            years = Counter(timezone.localdate(r.submitted_at).year for r, _ in rows)
            next_number = _allocate_references(years)
            for r, _ in rows:
                year = timezone.localdate(r.submitted_at).year
                r.reference = f"SO-{year}-{next_number[year]:06d}"
                next_number[year] += 1
            Referral.objects.bulk_create([r for r, _ in rows])
            ReferralEvent.objects.bulk_create(
                [
                    ReferralEvent(
                        referral_id=r.pk,
                        kind=kind,
                        action=action,
                        actor_id=actor,
                        from_status=from_status,
                        to_status=to_status,
                        note=note,
                        detail=detail,
                        created_at=at,
                    )
                    for r, events in rows
                    for kind, action, actor, from_status, to_status, note, detail, at in events
                ]
            )
        made.extend((r.reference, r.specialty_id) for r, _ in rows)
    return made


def grow_to(total: int, *, cast: Cast, seed: int) -> int:
    """Bulk-insert referrals until there are ``total``; return how many were added."""
    from referrals.models import Referral

    missing = total - Referral.objects.count()
    bulk_referrals(missing, cast=cast, seed=seed)
    return max(0, missing)


def analyze() -> None:
    """Fresh planner statistics after a bulk load (autovacuum would otherwise do it mid-measurement)."""
    with connection.cursor() as cursor:
        for table in ("referrals_referral", "referrals_referralevent", "referrals_patientdataaccess"):
            cursor.execute(f"ANALYZE {table}")


def sizes(*, main_referrer_id: int, reviewer_specialty_ids: list[int]) -> dict:
    from referrals.models import PatientDataAccess, Referral, ReferralEvent

    by_status = dict(Counter(Referral.objects.values_list("status", flat=True).order_by()))
    return {
        "referrals": Referral.objects.count(),
        "referrals_by_status": dict(sorted(by_status.items())),
        "referral_events": ReferralEvent.objects.count(),
        "patient_data_accesses": PatientDataAccess.objects.count(),
        "referrals_of_main_referrer": Referral.objects.filter(referrer_id=main_referrer_id).count(),
        "accepted_in_queue_reviewer_specialties": Referral.objects.filter(
            status="accepted", specialty_id__in=reviewer_specialty_ids
        ).count(),
    }
