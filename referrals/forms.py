"""Forms of the referral screens. They validate input; ``referrals.services`` writes.

The referral form is one short screen: the starred fields of PRODUCT.md are
required, everything else is optional and grouped under "More details".
"""

from __future__ import annotations

import datetime
import uuid

from django import forms
from django.utils import timezone
from django.utils.functional import cached_property

from portal import selectors as portal_selectors
from portal.models import Specialty
from referrals import selectors
from referrals.models import (
    Channel,
    ClinicalImpact,
    Coverage,
    DiagnosisOutcome,
    DownstreamOutcome,
    HoldReason,
    ReasonCategory,
    RecommendationFollowed,
    RecordsLocation,
    Referral,
    TreatmentOutcome,
    Urgency,
)
from referrals.selectors import Visibility, visibility_of
from referrals.services import CREATE_FIELDS

REQUIRED_FIELDS = ("patient_name", "patient_mrn", "patient_dob", "specialty", "question", "patient_consented")
# Shown under "More details"; urgency sits with the required fields (it changes the triage clock).
OPTIONAL_FIELDS = (
    "reason_category",
    "diagnosis",
    "icd10_code",
    "decision_needed_by",
    "records_location",
    "preferred_reviewer",
    "patient_phone",
    "preferred_language",
    "interpreter_needed",
    "coverage",
    "previous_referral",
)
# Optional fields with a model default: an empty answer means the default.
DEFAULTS = {
    "urgency": Urgency.ROUTINE,
    "records_location": RecordsLocation.INTERNAL,
    "coverage": Coverage.INSURANCE,
}


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs=None):
        super().__init__(attrs=attrs, format="%Y-%m-%d")


class SpecialtyField(forms.ModelChoiceField):
    """Options carry the specialty's slug (as deep links do); a primary key is accepted too.

    The options come from the field's queryset; a submitted value is checked
    against active specialties by ``portal.selectors.active_specialty``.
    """

    def to_python(self, value):
        if value in self.empty_values:
            return None
        specialty = portal_selectors.active_specialty(str(value).strip())
        if specialty is None:
            raise forms.ValidationError(
                self.error_messages["invalid_choice"], code="invalid_choice", params={"value": value}
            )
        return specialty


def _today() -> datetime.date:
    return timezone.localdate()


class ReferralForm(forms.ModelForm):
    """A clinician's one-click referral. Referrer and department come from the profile."""

    submission_token = forms.UUIDField(required=False, widget=forms.HiddenInput)
    specialty = SpecialtyField(
        queryset=Specialty.objects.filter(is_active=True),
        to_field_name="slug",
        label="Specialty for the second opinion",
        empty_label="Choose a specialty",
    )
    urgency = forms.ChoiceField(
        choices=Urgency.choices,
        required=False,
        initial=Urgency.ROUTINE,
        widget=forms.RadioSelect,
        help_text="Urgent referrals are triaged the same business day.",
    )
    patient_consented = forms.BooleanField(
        required=True,
        label="The patient agreed to this referral",
        error_messages={"required": "Confirm that the patient agreed to the referral."},
    )
    preferred_reviewer = forms.TypedChoiceField(
        required=False, coerce=int, empty_value=None, label="Preferred reviewer", help_text="Optional."
    )
    previous_referral = forms.CharField(
        required=False,
        max_length=20,
        label="Earlier referral this follows (reference)",
        help_text="e.g. SO-2026-000123, when this asks again about a closed case.",
    )

    class Meta:
        model = Referral
        # Required fields first (urgency beside the specialty: it sets the triage clock), then the rest.
        fields = [*REQUIRED_FIELDS[:4], "urgency", *REQUIRED_FIELDS[4:], *OPTIONAL_FIELDS]
        labels = {
            "patient_mrn": "Medical record number (MRN)",
            "question": "Question for the second opinion",
            "reason_category": "Reason",
            "diagnosis": "Diagnosis",
            "decision_needed_by": "Decision needed by",
            "records_location": "Where the records are",
            "patient_phone": "Patient phone",
            "interpreter_needed": "Interpreter needed",
        }
        help_texts = {
            "question": "What should the reviewer answer? e.g. Is surgery the right next step?",
            "decision_needed_by": "e.g. surgery is already booked.",
            "icd10_code": "Optional, e.g. C50.911.",
        }
        widgets = {
            "patient_dob": DateInput,
            "decision_needed_by": DateInput,
            "question": forms.Textarea(attrs={"rows": 3}),
            "records_location": forms.RadioSelect,
            "coverage": forms.RadioSelect,
        }

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        today = _today().isoformat()
        self.fields["patient_dob"].widget.attrs["max"] = today
        self.fields["decision_needed_by"].widget.attrs["min"] = today
        # A callable: the reviewer list is read when the form is drawn or a
        # reviewer was chosen, not on every submit that leaves it empty.
        self.fields["preferred_reviewer"].choices = self._preferred_reviewer_choices

    @cached_property
    def _reviewer_groups(self) -> list[tuple]:
        """[(specialty, [people])] of active reviewers, read once per form."""
        return selectors.reviewer_choices()

    def _preferred_reviewer_choices(self) -> list:
        groups = [(specialty.name, [(p.pk, str(p)) for p in people]) for specialty, people in self._reviewer_groups]
        return [("", "No preference"), *groups]

    @cached_property
    def _reviewers(self) -> dict[int, object]:
        return {p.pk: p for _, people in self._reviewer_groups for p in people}

    @cached_property
    def _reviewers_by_specialty(self) -> dict[int, set[int]]:
        """Only reviewers of the chosen specialty are valid."""
        return {specialty.pk: {p.pk for p in people} for specialty, people in self._reviewer_groups}

    def _post_clean(self):
        """Skip ModelForm's model validation: this form never saves an instance.

        ``services.referral_create`` builds the referral and applies the rules
        every entry path shares, and the database holds the constraints; the
        model's own checks would only repeat them, at the cost of a specialty
        lookup and a constraint query on every submit. The form fields, made
        from the model, still check lengths, choices and dates.
        """

    # --- field rules ---------------------------------------------------------------

    def clean_patient_name(self):
        return self.cleaned_data["patient_name"].strip()

    def clean_patient_mrn(self):
        return self.cleaned_data["patient_mrn"].strip()

    def clean_patient_dob(self):
        dob = self.cleaned_data["patient_dob"]
        if dob and dob >= _today():
            raise forms.ValidationError("The date of birth must be in the past.")
        return dob

    def clean_decision_needed_by(self):
        due = self.cleaned_data.get("decision_needed_by")
        if due and due < _today():
            raise forms.ValidationError("The decision date cannot be in the past.")
        return due

    def clean_urgency(self):
        return self.cleaned_data.get("urgency") or DEFAULTS["urgency"]

    def clean_records_location(self):
        return self.cleaned_data.get("records_location") or DEFAULTS["records_location"]

    def clean_coverage(self):
        return self.cleaned_data.get("coverage") or DEFAULTS["coverage"]

    def clean_preferred_reviewer(self):
        reviewer_id = self.cleaned_data.get("preferred_reviewer")
        return self._reviewers.get(reviewer_id) if reviewer_id else None

    def clean_previous_referral(self):
        reference = (self.cleaned_data.get("previous_referral") or "").strip().upper()
        if not reference:
            return None
        previous = selectors.referral_by_reference(reference)
        if previous is None or visibility_of(self.user, previous) != Visibility.FULL:
            raise forms.ValidationError("No referral you can see has that reference.")
        return previous

    def clean(self):
        cleaned = super().clean()
        reviewer = cleaned.get("preferred_reviewer")
        specialty = cleaned.get("specialty")
        reviews_it = (
            specialty is not None
            and reviewer is not None
            and (reviewer.pk in self._reviewers_by_specialty.get(specialty.pk, set()))
        )
        if reviewer is not None and specialty is not None and not reviews_it:
            self.add_error("preferred_reviewer", f"{reviewer} does not review {specialty}: choose another reviewer.")
        return cleaned

    # --- for the view ----------------------------------------------------------------

    @property
    def optional_fields(self):
        return [self[name] for name in OPTIONAL_FIELDS]

    @property
    def more_details_open(self) -> bool:
        """Open the optional section when something in it needs attention or was filled in."""
        if self.is_bound:
            return any(self[name].errors for name in OPTIONAL_FIELDS)
        return any(self.initial.get(name) for name in OPTIONAL_FIELDS if name not in DEFAULTS)

    def referral_data(self) -> dict:
        return {field: self.cleaned_data[field] for field in CREATE_FIELDS if field in self.cleaned_data}

    def submission_token_value(self) -> uuid.UUID:
        return self.cleaned_data.get("submission_token") or uuid.uuid4()


def _settle_fields(fields: dict) -> None:
    """What never changes between forms, set once on the class (each form deep-copies its fields)."""
    for name in ("patient_name", "patient_mrn", "patient_phone"):
        fields[name].widget.attrs["autocomplete"] = "off"
    for name, default in DEFAULTS.items():
        fields[name].required = False
        fields[name].initial = default
    for name in ("records_location", "coverage"):
        # RadioSelect needs no empty choice: the default is preselected.
        fields[name].choices = [c for c in fields[name].choices if c[0] != ""]
    fields["reason_category"].choices = [("", "Choose a reason"), *ReasonCategory.choices]
    fields["preferred_reviewer"].help_text = "Optional. Pick a reviewer of the chosen specialty."


_settle_fields(ReferralForm.base_fields)


def deep_link_initial(params) -> dict:
    """What an EHR toolbar button knows: /refer/?specialty=…&mrn=…&name=…&dob=YYYY-MM-DD&urgency=…"""
    initial: dict = {"submission_token": uuid.uuid4()}
    slug = (params.get("specialty") or "").strip()
    if slug:
        initial["specialty"] = slug
    if params.get("mrn"):
        initial["patient_mrn"] = params["mrn"].strip()[:40]
    if params.get("name"):
        initial["patient_name"] = params["name"].strip()[:200]
    if params.get("dob"):
        try:
            dob = datetime.date.fromisoformat(params["dob"].strip())
        except ValueError:
            dob = None
        if dob and dob < _today():
            initial["patient_dob"] = dob
    if params.get("urgency") in Urgency.values:
        initial["urgency"] = params["urgency"]
    return initial


class OtherChannelReferralForm(ReferralForm):
    """A coordinator logs a referral that came through a concierge partner, the public web or other."""

    channel = forms.ChoiceField(
        choices=[c for c in Channel.choices if c[0] != Channel.STAFF_PORTAL],
        label="How it arrived",
        widget=forms.RadioSelect,
    )
    channel_partner = forms.CharField(
        required=False, max_length=120, label="Concierge partner", help_text="Required for a concierge partner."
    )
    referrer_email = forms.EmailField(
        required=False,
        label="Staff referrer's e-mail (optional)",
        help_text="If a member of staff referred the patient, they get the credit and follow the case.",
    )

    def clean_referrer_email(self):
        email = (self.cleaned_data.get("referrer_email") or "").strip()
        if not email:
            return None
        person = selectors.staff_referrer_by_email(email)
        if person is None:
            raise forms.ValidationError("No active member of staff who can refer has that e-mail address.")
        return person

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("channel") == Channel.CONCIERGE and not (cleaned.get("channel_partner") or "").strip():
            self.add_error("channel_partner", "Name the concierge partner.")
        if cleaned.get("channel") != Channel.CONCIERGE:
            cleaned["channel_partner"] = ""
        return cleaned


# A subclass's model fields are made afresh from the model: settle them too.
_settle_fields(OtherChannelReferralForm.base_fields)


# --- Action forms: one small form per move or flag on the detail page ------------------------


class ActionForm(forms.Form):
    """Every action form gets the referral (for choices) and its own id prefix."""

    def __init__(self, *args, referral: Referral, **kwargs):
        super().__init__(*args, **kwargs)
        self.referral = referral


class EmptyActionForm(ActionForm):
    """Claim, start review, clear hold without a note."""


class OptionalNoteForm(ActionForm):
    note = forms.CharField(required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2}), label="Note")


class ReasonForm(ActionForm):
    reason_label = "Reason"

    def __init__(self, *args, action_label: str = "do this", **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["reason"] = forms.CharField(
            max_length=2000,
            widget=forms.Textarea(attrs={"rows": 2}),
            label=self.reason_label,
            error_messages={"required": f"Give a reason to {action_label}."},
        )


class ReviewerField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return obj.get_full_name() or obj.email


class AssignForm(ActionForm):
    reviewer = ReviewerField(queryset=None, label="Reviewer", empty_label="Choose a reviewer")
    note = forms.CharField(required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2}), label="Note")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["reviewer"].queryset = selectors.reviewers_of(self.referral.specialty_id).exclude(
            pk=self.referral.reviewer_id or 0
        )


class ReassignForm(AssignForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        del self.fields["note"]
        self.fields["reviewer"].label = "New reviewer"
        self.fields["reason"] = forms.CharField(
            max_length=2000,
            widget=forms.Textarea(attrs={"rows": 2}),
            label="Reason",
            error_messages={"required": "Give a reason to reassign."},
        )


class OpinionForm(ActionForm):
    opinion_summary = forms.CharField(
        label="Summary", widget=forms.Textarea(attrs={"rows": 3}), help_text="What you reviewed and found."
    )
    opinion_answer = forms.CharField(label="Answer to the question", widget=forms.Textarea(attrs={"rows": 3}))
    diagnosis_outcome = forms.ChoiceField(
        choices=[("", "Choose")] + DiagnosisOutcome.choices, label="Diagnosis outcome"
    )
    treatment_outcome = forms.ChoiceField(
        choices=[("", "Choose")] + TreatmentOutcome.choices, label="Treatment outcome"
    )
    clinical_impact = forms.ChoiceField(
        choices=[("", "Not stated")] + ClinicalImpact.choices, required=False, label="Clinical impact"
    )
    recommendations = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    trial_candidate = forms.NullBooleanField(
        required=False,
        label="Clinical-trial candidate",
        widget=forms.Select(choices=[("unknown", "Not assessed"), ("true", "Yes"), ("false", "No")]),
    )

    def opinion(self) -> dict:
        return dict(self.cleaned_data)


class CloseForm(ActionForm):
    downstream_outcome = forms.ChoiceField(
        choices=[("", "Choose")] + DownstreamOutcome.choices, label="Downstream outcome"
    )
    appointment_date = forms.DateField(required=False, widget=DateInput, label="Appointment date")
    recommendation_followed = forms.ChoiceField(
        choices=[("", "Not known yet")] + RecommendationFollowed.choices,
        required=False,
        label="Recommendation followed",
    )

    def outcome(self) -> dict:
        data = dict(self.cleaned_data)
        if not data.get("recommendation_followed"):
            data.pop("recommendation_followed", None)
        return data


class RequestInfoForm(ActionForm):
    question = forms.CharField(
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        label="Question for the referrer",
        error_messages={"required": "Write the question for the referrer."},
    )


class AnswerInfoForm(ActionForm):
    answer = forms.CharField(
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 3}),
        label="Your answer",
        error_messages={"required": "Write your answer."},
    )


class HoldForm(ActionForm):
    reason = forms.ChoiceField(choices=HoldReason.choices, label="Why", widget=forms.RadioSelect)
    note = forms.CharField(required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2}), label="Note")


class NoteForm(ActionForm):
    body = forms.CharField(
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 3}),
        label="Note",
        help_text="The referrer, the coordinators and the reviewer see notes. Refer to the patient by reference.",
        error_messages={"required": "The note is empty."},
    )
