"""Referrals, their events, and the append-only log of patient-data reads.

Nothing here writes a status: ``referrals.services`` does, after asking
``referrals.workflow``. Patient data lives only in ``Referral``'s ``patient_*``
fields; events, notifications, e-mails and logs name the reference number.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

from portal.models import Department, Specialty
from referrals.workflow import Action, Status


class Urgency(models.TextChoices):
    ROUTINE = "routine", "Routine"
    URGENT = "urgent", "Urgent"


class ReasonCategory(models.TextChoices):
    CHECK_DIAGNOSIS = "check_diagnosis", "Check the diagnosis"
    CHOOSE_TREATMENT = "choose_treatment", "Choose a treatment"
    CONFIRM_SURGERY = "confirm_surgery", "Confirm planned surgery"
    CLINICAL_TRIAL = "clinical_trial", "Clinical-trial candidacy"
    BE_SEEN_HERE = "be_seen_here", "Be seen here"
    OTHER = "other", "Other"


class RecordsLocation(models.TextChoices):
    INTERNAL = "internal", "In our record system"
    OUTSIDE = "outside", "Outside — needs a records request"


class Coverage(models.TextChoices):
    INSURANCE = "insurance", "Insurance"
    SELF_PAY = "self_pay", "Self-pay"
    FINANCIAL_ASSISTANCE = "financial_assistance", "Financial assistance requested"


class Channel(models.TextChoices):
    STAFF_PORTAL = "staff_portal", "Staff portal"
    CONCIERGE = "concierge", "Concierge partner"
    PUBLIC_WEB = "public_web", "Public web"
    OTHER = "other", "Other"


class HoldReason(models.TextChoices):
    AWAITING_RECORDS = "awaiting_records", "Awaiting records"
    AWAITING_PATIENT = "awaiting_patient", "Awaiting patient"
    REVIEWER_UNAVAILABLE = "reviewer_unavailable", "Reviewer unavailable"


class DiagnosisOutcome(models.TextChoices):
    CONFIRMED = "confirmed", "Confirmed"
    REFINED = "refined", "Refined"
    CHANGED = "changed", "Changed"


class TreatmentOutcome(models.TextChoices):
    CONFIRMED = "confirmed", "Confirmed"
    REFINED = "refined", "Refined"
    CHANGED = "changed", "Changed"
    NOT_APPLICABLE = "not_applicable", "Not applicable"


class ClinicalImpact(models.TextChoices):
    NONE = "none", "None"
    MINOR = "minor", "Minor"
    MODERATE = "moderate", "Moderate"
    MAJOR = "major", "Major"


class DownstreamOutcome(models.TextChoices):
    SCHEDULED_HERE = "scheduled_here", "Scheduled for care here"
    RETURNED = "returned", "Returned to referring clinician"
    NO_FURTHER_CARE = "no_further_care", "No further care"
    LOST_TO_FOLLOW_UP = "lost_to_follow_up", "Lost to follow-up"


class RecommendationFollowed(models.TextChoices):
    YES = "yes", "Yes"
    PARTLY = "partly", "Partly"
    NO = "no", "No"
    UNKNOWN = "unknown", "Unknown"


class ReferenceCounter(models.Model):
    """The last reference number issued in a year; locked while a referral is created."""

    year = models.PositiveIntegerField(primary_key=True)
    last_number = models.PositiveIntegerField(default=0)

    def __str__(self):
        return f"{self.year}: {self.last_number}"


class Referral(models.Model):
    """A request for a second opinion on one patient's question."""

    reference = models.CharField(max_length=20, unique=True, editable=False)
    status = models.CharField(max_length=20, choices=Status, default=Status.SUBMITTED, editable=False)
    # A double submit carries the same token; the unique constraint makes it one referral.
    submission_token = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)

    # Who and where from
    # No index of its own: referral_referrer_recent (referrer, -submitted_at) serves every lookup by referrer,
    # and each index is one more entry to write on every move.
    referrer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="referrals_made",
        null=True,
        blank=True,
        db_index=False,
    )
    department = models.ForeignKey(Department, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    channel = models.CharField(max_length=20, choices=Channel, default=Channel.STAFF_PORTAL)
    channel_partner = models.CharField(max_length=120, blank=True, help_text="Concierge partner's name.")
    previous_referral = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="follow_ups"
    )

    # Patient (protected health information)
    patient_name = models.CharField("patient name", max_length=200)
    patient_mrn = models.CharField("medical record number", max_length=40, db_index=True)
    patient_dob = models.DateField("date of birth")
    patient_phone = models.CharField("phone", max_length=40, blank=True)
    preferred_language = models.CharField(max_length=60, blank=True)
    interpreter_needed = models.BooleanField(default=False)

    # Clinical
    specialty = models.ForeignKey(Specialty, on_delete=models.PROTECT, related_name="referrals")
    question = models.TextField("question for the second opinion")
    reason_category = models.CharField(max_length=30, choices=ReasonCategory, blank=True)
    diagnosis = models.CharField(max_length=300, blank=True)
    icd10_code = models.CharField("ICD-10 code", max_length=10, blank=True)
    urgency = models.CharField(max_length=10, choices=Urgency, default=Urgency.ROUTINE)
    decision_needed_by = models.DateField(null=True, blank=True, help_text="e.g. surgery already booked")
    records_location = models.CharField(max_length=10, choices=RecordsLocation, default=RecordsLocation.INTERNAL)
    preferred_reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    coverage = models.CharField(max_length=25, choices=Coverage, default=Coverage.INSURANCE)
    patient_consented = models.BooleanField("the patient agreed to the referral", default=False)

    # Work
    # Likewise served by referral_reviewer_status (reviewer, status).
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="cases", db_index=False
    )
    records_requested_at = models.DateTimeField(null=True, blank=True)
    records_received_at = models.DateTimeField(null=True, blank=True)

    # Flags (not states); service-level clocks pause while either is set.
    info_requested_at = models.DateTimeField(null=True, blank=True)
    info_requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    hold_reason = models.CharField(max_length=30, choices=HoldReason, blank=True)
    hold_since = models.DateTimeField(null=True, blank=True)

    # Service-level clock of the current step (see referrals.clocks)
    clock_due_at = models.DateTimeField(null=True, blank=True, db_index=True)
    clock_paused_at = models.DateTimeField(null=True, blank=True)
    clock_breach_notified_at = models.DateTimeField(null=True, blank=True)

    # Opinion
    opinion_summary = models.TextField(blank=True)
    opinion_answer = models.TextField("answer to the question", blank=True)
    diagnosis_outcome = models.CharField(max_length=20, choices=DiagnosisOutcome, blank=True)
    treatment_outcome = models.CharField(max_length=20, choices=TreatmentOutcome, blank=True)
    clinical_impact = models.CharField(max_length=20, choices=ClinicalImpact, blank=True)
    recommendations = models.TextField(blank=True)
    trial_candidate = models.BooleanField(null=True, blank=True)

    # Close
    downstream_outcome = models.CharField(max_length=30, choices=DownstreamOutcome, blank=True)
    appointment_date = models.DateField(null=True, blank=True)
    recommendation_followed = models.CharField(max_length=10, choices=RecommendationFollowed, blank=True)

    # A timestamp for every step, for clocks and the dashboard.
    submitted_at = models.DateTimeField(db_index=True)
    accepted_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    review_started_at = models.DateTimeField(null=True, blank=True)
    opinion_delivered_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True, help_text="Declined, cancelled or entered in error.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-submitted_at"]
        indexes = [
            models.Index(fields=["status", "specialty"], name="referral_status_specialty"),
            models.Index(fields=["referrer", "-submitted_at"], name="referral_referrer_recent"),
            models.Index(fields=["reviewer", "status"], name="referral_reviewer_status"),
            # Open cases whose clock runs, by deadline: the breach sweep and "open past target now"
            # read only this small index, however many referrals have closed.
            models.Index(
                fields=["clock_due_at"],
                include=["status", "submitted_at"],
                condition=Q(
                    status__in=[Status.SUBMITTED, Status.ACCEPTED, Status.IN_REVIEW], clock_paused_at__isnull=True
                ),
                name="referral_running_clock_due",
            ),
            # The dashboard rollup's refresh each minute asks what changed since its watermark.
            models.Index(fields=["updated_at"], name="referral_updated_at"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=Status.values), name="referral_status_is_known"),
            models.CheckConstraint(
                condition=~Q(status__in=[Status.CLAIMED, Status.IN_REVIEW, Status.OPINION_DELIVERED, Status.CLOSED])
                | Q(reviewer__isnull=False),
                name="referral_claimed_states_have_a_reviewer",
            ),
            models.CheckConstraint(condition=Q(patient_consented=True), name="referral_requires_patient_consent"),
        ]

    def __str__(self):
        return self.reference

    @property
    def records_complete(self) -> bool:
        return self.records_location == RecordsLocation.INTERNAL or self.records_received_at is not None

    @property
    def fhir_status(self) -> tuple[str, str]:
        from referrals.workflow import FHIR_STATUS

        return FHIR_STATUS[Status(self.status)]


class ReferralEvent(models.Model):
    """One row per move, flag change or note: who, when, from → to, and why."""

    class Kind(models.TextChoices):
        CREATED = "created", "Created"
        TRANSITION = "transition", "Status change"
        INFO_REQUESTED = "info_requested", "Information requested"
        INFO_ANSWERED = "info_answered", "Information provided"
        HOLD_SET = "hold_set", "Put on hold"
        HOLD_CLEARED = "hold_cleared", "Hold cleared"
        RECORDS_REQUESTED = "records_requested", "Records requested"
        RECORDS_RECEIVED = "records_received", "Records received"
        NOTE = "note", "Note"
        CLOCK_BREACHED = "clock_breached", "Service level missed"

    referral = models.ForeignKey(Referral, on_delete=models.PROTECT, related_name="events")
    kind = models.CharField(max_length=20, choices=Kind)
    action = models.CharField(max_length=20, choices=Action, blank=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+")
    from_status = models.CharField(max_length=20, choices=Status, blank=True)
    to_status = models.CharField(max_length=20, choices=Status, blank=True)
    note = models.TextField(blank=True)
    # e.g. the reviewer a case was assigned to, a hold reason
    detail = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self):
        return f"{self.referral_id} {self.kind} {self.from_status}→{self.to_status}"


class PatientDataAccess(models.Model):
    """Append-only: who read which referral's patient data, when, where from, on which view.

    On PostgreSQL a trigger refuses UPDATE and DELETE (migration 0002).
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    referral = models.ForeignKey(Referral, on_delete=models.PROTECT, related_name="+")
    view = models.CharField(max_length=60)
    ip_address = models.GenericIPAddressField(null=True)
    accessed_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-accessed_at"]
        verbose_name_plural = "patient data accesses"

    def __str__(self):
        return f"{self.user_id} read {self.referral_id} on {self.view} at {self.accessed_at:%Y-%m-%d %H:%M}"


class Holiday(models.Model):
    """A day the program office is closed; service-level clocks skip it."""

    date = models.DateField(unique=True)
    name = models.CharField(max_length=100)

    class Meta:
        ordering = ["date"]

    def __str__(self):
        return f"{self.date}: {self.name}"


class ServiceLevelTarget(models.Model):
    """A clock's target in business days for one specialty (or all) and urgency."""

    class Clock(models.TextChoices):
        TRIAGE = "triage", "Triage (submitted → accepted / declined)"
        QUEUE = "queue", "Queue (accepted → claimed)"
        REVIEW = "review", "Review (in review → opinion delivered)"

    clock = models.CharField(max_length=10, choices=Clock)
    specialty = models.ForeignKey(
        Specialty, on_delete=models.CASCADE, null=True, blank=True, help_text="Empty: every specialty."
    )
    urgency = models.CharField(max_length=10, choices=Urgency)
    business_days = models.PositiveSmallIntegerField(help_text="0 means the same business day.")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["clock", "specialty", "urgency"],
                condition=Q(specialty__isnull=False),
                name="one_target_per_clock_specialty_urgency",
            ),
            models.UniqueConstraint(
                fields=["clock", "urgency"],
                condition=Q(specialty__isnull=True),
                name="one_default_target_per_clock_urgency",
            ),
        ]

    def __str__(self):
        return f"{self.clock} {self.specialty or 'all'} {self.urgency}: {self.business_days}d"


# --- Credit: recognition, never payment ---------------------------------------------------


class CreditRule(models.Model):
    """How many points one kind of contribution earns; an administrator edits the points.

    The codes are fixed because the services award by code; a rule's points
    are copied onto each entry, so editing a rule never rewrites the past.
    """

    class Code(models.TextChoices):
        REFERRAL_ACCEPTED = "referral_accepted", "Referral accepted (referrer)"
        OPINION_DELIVERED = "opinion_delivered", "Opinion delivered (referrer)"
        SCHEDULED_HERE = "scheduled_here", "Patient scheduled for care here (referrer)"
        REVIEW_DELIVERED = "review_delivered", "Opinion written (reviewer)"
        COURSE_COMPLETED = "course_completed", "Course completed"

    code = models.CharField(max_length=30, choices=Code, unique=True, editable=False)
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True, help_text="Shown on the credit rules page.")
    points = models.PositiveSmallIntegerField(
        help_text="Points per contribution; changing them affects only credit earned from now on."
    )
    is_active = models.BooleanField(default=True, help_text="Off: this contribution earns nothing from now on.")

    class Meta:
        ordering = ["id"]

    def __str__(self):
        return f"{self.name}: {self.points:+d}"


# PRODUCT.md's defaults (migration 0004 seeds the same); PRODUCT.md names no
# figure for review credit, so a delivered opinion earns its reviewer what it
# earns the referrer.
DEFAULT_CREDIT_RULES = {
    CreditRule.Code.REFERRAL_ACCEPTED: ("Referral accepted", 1, "The program office accepted a patient you referred."),
    CreditRule.Code.OPINION_DELIVERED: (
        "Opinion delivered to you",
        2,
        "A second opinion on a patient you referred was delivered.",
    ),
    CreditRule.Code.SCHEDULED_HERE: (
        "Patient scheduled for care here",
        3,
        "After the opinion, a patient you referred was scheduled for care at our hospital.",
    ),
    CreditRule.Code.REVIEW_DELIVERED: (
        "Opinion written",
        2,
        "You wrote and delivered a second opinion as the reviewing physician.",
    ),
    CreditRule.Code.COURSE_COMPLETED: (
        "Course completed",
        1,
        "You completed a program course (every lesson viewed and the quiz passed).",
    ),
}


class CreditEntry(models.Model):
    """Append-only: one award (or its reversal) of points to one person.

    Never updated or deleted (on PostgreSQL a trigger refuses both); a
    correction is a new row with the opposite sign that ``reverses`` the
    original. The balance is a Sum.
    """

    person = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="credit_entries")
    # The person's department when the credit was earned: a move to another
    # department does not take past credit along, and department standings are
    # one-table sums (the shape a rollup needs).
    department = models.ForeignKey(Department, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    rule = models.ForeignKey(CreditRule, on_delete=models.PROTECT, related_name="entries")
    referral = models.ForeignKey(Referral, on_delete=models.PROTECT, null=True, blank=True, related_name="credit")
    # A course page of the education app, referenced as a plain Wagtail page so
    # referrals does not depend on education.
    course = models.ForeignKey(
        "wagtailcore.Page", on_delete=models.PROTECT, null=True, blank=True, related_name="credit_entries"
    )
    points = models.IntegerField()
    reverses = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="reversals", editable=False
    )
    reason = models.CharField(max_length=200)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "credit entries"
        indexes = [
            models.Index(fields=["person", "-created_at"], name="credit_person_recent"),
            models.Index(fields=["created_at", "person"], name="credit_period_person"),
            models.Index(fields=["created_at", "department"], name="credit_period_department"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["person", "referral", "rule"],
                condition=Q(referral__isnull=False, reverses__isnull=True),
                name="one_credit_per_referral_rule",
            ),
            models.UniqueConstraint(
                fields=["person", "course", "rule"],
                condition=Q(course__isnull=False, reverses__isnull=True),
                name="one_credit_per_course_rule",
            ),
            models.UniqueConstraint(
                fields=["reverses"], condition=Q(reverses__isnull=False), name="one_reversal_per_credit_entry"
            ),
            models.CheckConstraint(
                condition=Q(referral__isnull=False, course__isnull=True)
                | Q(referral__isnull=True, course__isnull=False),
                name="credit_entry_names_a_referral_or_a_course",
            ),
            models.CheckConstraint(
                condition=Q(reverses__isnull=True) | Q(points__lte=0), name="credit_reversal_takes_points_back"
            ),
        ]

    def __str__(self):
        return f"{self.person_id} {self.points:+d} ({self.rule_id}) at {self.created_at:%Y-%m-%d}"


# --- Rollups: derived from the tables above, rebuilt from them at any time (referrals.rollups) ----------


class ReferralFact(models.Model):
    """The dashboard's row for one referral: its dimensions, where it got to and each finished clock.

    Derived, never edited by hand: ``referrals.rollups`` writes it from the
    referral and its pause events (business days need the holiday calendar, so
    they are counted once here instead of on every dashboard read). No patient
    data. Entered-in-error referrals have no row.
    """

    referral = models.OneToOneField(Referral, on_delete=models.CASCADE, primary_key=True, related_name="+")
    submitted_on = models.DateField()  # local date
    week = models.DateField()  # the Monday of submitted_on
    # Plain ids (no foreign-key constraint): a rollup must never block a change to what it summarises.
    department = models.ForeignKey(
        Department, on_delete=models.DO_NOTHING, db_constraint=False, null=True, related_name="+"
    )
    specialty = models.ForeignKey(Specialty, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+")
    channel = models.CharField(max_length=20, choices=Channel)
    referrer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.DO_NOTHING, db_constraint=False, null=True, related_name="+"
    )
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.DO_NOTHING, db_constraint=False, null=True, related_name="+"
    )
    status = models.CharField(max_length=20, choices=Status)
    urgency = models.CharField(max_length=10, choices=Urgency)
    coverage = models.CharField(max_length=25, choices=Coverage)
    interpreter_needed = models.BooleanField()
    was_accepted = models.BooleanField()
    was_claimed = models.BooleanField()  # claimed at some point, or answered
    was_delivered = models.BooleanField()
    diagnosis_outcome = models.CharField(max_length=20, blank=True)
    treatment_outcome = models.CharField(max_length=20, blank=True)
    clinical_impact = models.CharField(max_length=20, blank=True)
    downstream_outcome = models.CharField(max_length=30, blank=True)
    recommendation_followed = models.CharField(max_length=10, blank=True)
    # Business days of each finished clock (holds and open questions taken off); null while running.
    triage_days = models.PositiveSmallIntegerField(null=True)
    queue_days = models.PositiveSmallIntegerField(null=True)
    review_days = models.PositiveSmallIntegerField(null=True)
    claim_to_delivery_days = models.PositiveSmallIntegerField(null=True)
    triage_late = models.BooleanField(null=True)
    queue_late = models.BooleanField(null=True)
    review_late = models.BooleanField(null=True)

    class Meta:
        indexes = [
            models.Index(fields=["submitted_on"], name="referral_fact_submitted_on"),
            # The reads the day rollup cannot serve (per reviewer; distinct reviewers) scan only this
            # index, and only claimed referrals have a reviewer: the unclaimed are left out of it.
            models.Index(
                fields=["submitted_on", "reviewer"],
                include=["specialty", "department", "channel", "was_delivered", "claim_to_delivery_days"],
                condition=models.Q(reviewer__isnull=False),
                name="referral_fact_claimed",
            ),
        ]

    def __str__(self):
        return f"fact {self.referral_id}"


# The day rollup's counters: what ``referrals.metrics.summary`` and ``outcome_mix`` count.
SUMMARY_COUNTS = (
    "submitted",
    "accepted",
    "claimed",
    "delivered",
    "scheduled_here",
    "declined",
    "cancelled",
    "still_open",
    "with_referrer",
    "loop_closed",
    "self_pay",
    "self_pay_delivered",
    "financial_assistance",
    "financial_assistance_delivered",
    "interpreter",
    "interpreter_delivered",
    "internal",
    "concierge",
    "other_channels",
)
OUTCOME_FIELDS = (
    ("diagnosis_outcome", DiagnosisOutcome),
    ("treatment_outcome", TreatmentOutcome),
    ("clinical_impact", ClinicalImpact),
    ("downstream_outcome", DownstreamOutcome),
    ("recommendation_followed", RecommendationFollowed),
)
OUTCOME_COUNTS = tuple(f"{name}_{value}" for name, choices in OUTCOME_FIELDS for value in choices.values)


class ReferralDayCount(models.Model):
    """Referral counts per submission day for one grouping of department, specialty and channel.

    ``grouping`` says which of the three the row is broken down by (bits:
    1 department, 2 specialty, 4 channel); the others are summed over. Every
    grouping is kept, so any filter with any breakdown reads whole days of a
    few rows instead of each referral. Derived from ``ReferralFact`` in the
    same transaction that rewrites the facts of those days.
    """

    DEPARTMENT, SPECIALTY, CHANNEL = 1, 2, 4

    day = models.DateField()
    week = models.DateField()
    grouping = models.PositiveSmallIntegerField()
    department = models.ForeignKey(
        Department, on_delete=models.DO_NOTHING, db_constraint=False, null=True, related_name="+"
    )
    specialty = models.ForeignKey(
        Specialty, on_delete=models.DO_NOTHING, db_constraint=False, null=True, related_name="+"
    )
    channel = models.CharField(max_length=20, blank=True)

    class Meta:
        indexes = [models.Index(fields=["grouping", "day"], name="referral_day_count_grouping")]

    def __str__(self):
        return f"{self.day} grouping {self.grouping}"


for _name in SUMMARY_COUNTS + OUTCOME_COUNTS:
    ReferralDayCount.add_to_class(_name, models.PositiveIntegerField(default=0))


class ReferralDayClock(models.Model):
    """How many finished clocks took each number of business days, per submission day (all, or per specialty)."""

    day = models.DateField()
    specialty = models.ForeignKey(
        Specialty, on_delete=models.DO_NOTHING, db_constraint=False, null=True, related_name="+"
    )  # null: every specialty together
    clock = models.CharField(max_length=10, choices=ServiceLevelTarget.Clock)
    business_days = models.PositiveSmallIntegerField()
    finished = models.PositiveIntegerField()
    past_target = models.PositiveIntegerField()

    class Meta:
        indexes = [models.Index(fields=["day", "clock"], name="referral_day_clock_day")]

    def __str__(self):
        return f"{self.day} {self.clock} {self.business_days}: {self.finished}"


class CreditMonth(models.Model):
    """Points per person, department and calendar month: the leaderboards' rollup of the ledger.

    Written in the same transaction as each ledger entry (``referrals.services``),
    so it is never behind; ``referrals.rollups.rebuild_credit_months`` recomputes
    it from the ledger. Month, quarter and year leaderboards start on a month,
    so they are sums of at most twelve rows per person.
    """

    month = models.DateField()  # the first day of the local calendar month
    person = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    department = models.ForeignKey(
        Department, on_delete=models.DO_NOTHING, db_constraint=False, null=True, related_name="+"
    )
    points = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["month", "person", "department"], nulls_distinct=False, name="one_credit_month_per_person"
            )
        ]
        indexes = [models.Index(fields=["person", "month"], name="credit_month_person")]

    def __str__(self):
        return f"{self.person_id} {self.month:%Y-%m}: {self.points}"


class RollupState(models.Model):
    """How far a rollup has been brought up to date (one row per rollup)."""

    name = models.CharField(max_length=40, primary_key=True)
    # Referrals changed at or after this moment may not be in the rollup yet.
    watermark = models.DateTimeField(null=True)
    refreshed_at = models.DateTimeField(null=True)

    def __str__(self):
        return f"{self.name} up to {self.watermark}"
