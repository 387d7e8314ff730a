"""Demo referrals in every step of the lifecycle, made through the services.

Patients are fictional. Each demo referral has a fixed submission token, so
running the seed again finds it instead of creating another.
"""

from __future__ import annotations

import datetime
import uuid

from django.db import transaction

from portal.models import Specialty, User
from referrals import services
from referrals.models import Referral
from referrals.workflow import Status

DEMO_NAMESPACE = uuid.UUID("6f1c2a52-8a51-4e0c-9a55-0c6b1d0e5a10")

# (patient, mrn, dob, specialty slug, question, reason, urgency, referrer, target state)
DEMO_REFERRALS = [
    (
        "Harriet Lindqvist",
        "R-204311",
        "1958-03-02",
        "medical-oncology",
        "Stage II breast cancer: is adjuvant chemotherapy needed given her recurrence score, "
        "or is endocrine therapy alone enough?",
        "choose_treatment",
        "routine",
        "maria.rivera",
        Status.SUBMITTED,
    ),
    (
        "Tomas Okonkwo",
        "R-377820",
        "1949-11-23",
        "cardiology",
        "Moderate aortic stenosis with new exertional breathlessness: valve replacement now, "
        "or continued surveillance?",
        "confirm_surgery",
        "urgent",
        "samuel.okafor",
        Status.ACCEPTED,
    ),
    (
        "Evelyn Marsh",
        "R-118034",
        "1972-07-14",
        "neurology",
        "Intermittent numbness and a single MRI lesion: does this meet criteria for multiple sclerosis?",
        "check_diagnosis",
        "routine",
        "maria.rivera",
        Status.CLAIMED,
    ),
    (
        "Rafael Duarte",
        "R-560912",
        "1966-01-30",
        "medical-oncology",
        "Metastatic colorectal cancer after second-line therapy: is he a candidate for any open clinical trial here?",
        "clinical_trial",
        "routine",
        "maria.rivera",
        Status.IN_REVIEW,
    ),
    (
        "Grace Abernathy",
        "R-402276",
        "1980-09-05",
        "cardiology",
        "Recurrent palpitations with a structurally normal heart: ablation or continued medication?",
        "choose_treatment",
        "routine",
        "samuel.okafor",
        Status.OPINION_DELIVERED,
    ),
    (
        "Walter Pinsky",
        "R-993105",
        "1955-05-19",
        "neurology",
        "Parkinsonism with poor levodopa response: is the diagnosis right, or is this an atypical syndrome?",
        "check_diagnosis",
        "routine",
        "maria.rivera",
        Status.CLOSED,
    ),
]

OPINION = {
    "opinion_summary": "History, examination notes and imaging reviewed in full with the referring team's findings.",
    "opinion_answer": (
        "The working diagnosis holds. The proposed plan is reasonable; a shorter first step is an equal option."
    ),
    "diagnosis_outcome": "confirmed",
    "treatment_outcome": "refined",
    "clinical_impact": "moderate",
}


def _reviewer_for(specialty: Specialty) -> User | None:
    return User.objects.filter(profile__review_specialties=specialty, groups__name="Reviewer").first()


@transaction.atomic
def seed_demo_referrals(domain: str) -> int:
    """Create the demo referrals that do not exist yet; return how many were created."""
    coordinator = User.objects.filter(groups__name="Coordinator").first()
    if coordinator is None:
        return 0
    created_count = 0
    for patient, mrn, dob, slug, question, reason, urgency, referrer_local, target in DEMO_REFERRALS:
        token = uuid.uuid5(DEMO_NAMESPACE, mrn)
        if Referral.objects.filter(submission_token=token).exists():
            continue
        specialty = Specialty.objects.get(slug=slug)
        referrer = User.objects.get(email=f"{referrer_local}@{domain}")
        referral, _ = services.referral_create(
            actor=referrer,
            submission_token=token,
            data={
                "patient_name": patient,
                "patient_mrn": mrn,
                "patient_dob": datetime.date.fromisoformat(dob),
                "specialty": specialty,
                "question": question,
                "reason_category": reason,
                "urgency": urgency,
                "coverage": "insurance",
                "patient_consented": True,
            },
        )
        created_count += 1
        _walk(referral, target, coordinator, _reviewer_for(specialty))
    return created_count


def _walk(referral: Referral, target: Status, coordinator: User, reviewer: User | None) -> None:
    order = [Status.ACCEPTED, Status.CLAIMED, Status.IN_REVIEW, Status.OPINION_DELIVERED, Status.CLOSED]
    if target == Status.SUBMITTED or reviewer is None and target != Status.ACCEPTED:
        return
    steps = order[: order.index(target) + 1]
    rid = referral.pk
    for step in steps:
        if step == Status.ACCEPTED:
            services.referral_accept(referral_id=rid, actor=coordinator)
        elif step == Status.CLAIMED:
            services.referral_claim(referral_id=rid, actor=reviewer)
        elif step == Status.IN_REVIEW:
            services.referral_start_review(referral_id=rid, actor=reviewer)
        elif step == Status.OPINION_DELIVERED:
            services.referral_deliver_opinion(referral_id=rid, actor=reviewer, opinion=OPINION)
        elif step == Status.CLOSED:
            services.referral_close(
                referral_id=rid,
                actor=coordinator,
                outcome={"downstream_outcome": "scheduled_here", "recommendation_followed": "yes"},
            )
