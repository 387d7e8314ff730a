"""The coordinator board's filters (django-filter, a Wagtail dependency).

Filters name states, specialties and flags only: the search box (reference or
exact MRN) is posted, not put in the query string, so no patient data lands in
a URL, a browser history or an access log.
"""

from __future__ import annotations

import django_filters
from django import forms
from django.db.models import Q
from django.utils import timezone

from portal.models import Specialty
from referrals.clocks import CLOCK_OF_STATUS
from referrals.models import Channel, RecordsLocation, Referral, Urgency
from referrals.workflow import OPEN, Status


class Flag:
    INFO_REQUESTED = "info_requested"
    ON_HOLD = "on_hold"
    RECORDS_OUTSTANDING = "records_outstanding"

    choices = [
        (INFO_REQUESTED, "Information requested"),
        (ON_HOLD, "On hold"),
        (RECORDS_OUTSTANDING, "Records outstanding"),
    ]


def breached_q(now) -> Q:
    """Past its service-level target: a running clock (not paused) whose deadline has passed."""
    return Q(status__in=list(CLOCK_OF_STATUS), clock_due_at__lt=now, clock_paused_at__isnull=True)


class BoardFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=Status.choices, empty_label="Any state", label="State")
    specialty = django_filters.ModelChoiceFilter(
        queryset=Specialty.objects.all(), to_field_name="slug", empty_label="Any specialty", label="Specialty"
    )
    urgency = django_filters.ChoiceFilter(choices=Urgency.choices, empty_label="Any urgency", label="Urgency")
    channel = django_filters.ChoiceFilter(choices=Channel.choices, empty_label="Any channel", label="Channel")
    flag = django_filters.ChoiceFilter(choices=Flag.choices, empty_label="Any flag", label="Flag", method="by_flag")
    breach = django_filters.BooleanFilter(
        method="by_breach", label="Past its service level", widget=forms.CheckboxInput
    )

    class Meta:
        model = Referral
        fields = ["status", "specialty", "urgency", "channel", "flag", "breach"]

    def by_flag(self, queryset, name, value):
        if value == Flag.INFO_REQUESTED:
            return queryset.filter(info_requested_at__isnull=False)
        if value == Flag.ON_HOLD:
            return queryset.exclude(hold_reason="")
        if value == Flag.RECORDS_OUTSTANDING:
            return queryset.filter(
                status__in=list(OPEN), records_location=RecordsLocation.OUTSIDE, records_received_at__isnull=True
            )
        return queryset

    def by_breach(self, queryset, name, value):
        if value:
            return queryset.filter(breached_q(timezone.now()))
        return queryset
