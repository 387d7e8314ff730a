"""The dashboard's period and filters, and the leaderboard privacy choice."""

from __future__ import annotations

from datetime import date, timedelta

from django import forms
from django.utils import timezone

from portal.models import Department, Specialty
from referrals.metrics import Filters
from referrals.models import Channel

PRESETS = {
    "4w": "Last 4 weeks",
    "12w": "Last 12 weeks",
    "quarter": "This quarter",
    "12m": "Last 12 months",
    "custom": "Choose dates",
}
LONGEST_PERIOD_DAYS = 3 * 366


def preset_bounds(preset: str, today: date) -> tuple[date, date]:
    if preset == "12w":
        return today - timedelta(days=12 * 7 - 1), today
    if preset == "quarter":
        return today.replace(month=3 * ((today.month - 1) // 3) + 1, day=1), today
    if preset == "12m":
        return today - timedelta(days=364), today
    return today - timedelta(days=27), today


class DashboardFilterForm(forms.Form):
    period = forms.ChoiceField(choices=PRESETS.items(), initial="4w", required=False)
    start = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}), label="From")
    end = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}), label="To")
    department = forms.ModelChoiceField(
        queryset=Department.objects.order_by("name"), required=False, empty_label="All departments"
    )
    specialty = forms.ModelChoiceField(
        queryset=Specialty.objects.order_by("name"), required=False, empty_label="All specialties"
    )
    channel = forms.ChoiceField(choices=[("", "All channels"), *Channel.choices], required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name, field in self.fields.items():
            css = (
                "form-select form-select-sm"
                if isinstance(field.widget, forms.Select)
                else "form-control form-control-sm"
            )
            field.widget.attrs["class"] = css + (" is-invalid" if self.is_bound and name in self.errors else "")

    def clean(self):
        data = super().clean()
        preset = data.get("period") or "4w"
        today = timezone.localdate()
        if preset == "custom":
            start, end = data.get("start"), data.get("end")
            if start is None:
                self.add_error("start", "Choose the first day of the period.")
            if end is None:
                self.add_error("end", "Choose the last day of the period.")
            if start and end:
                if end < start:
                    self.add_error("end", "The last day must be on or after the first day.")
                elif (end - start).days > LONGEST_PERIOD_DAYS:
                    self.add_error("end", "Choose a period of three years or less.")
        else:
            data["start"], data["end"] = preset_bounds(preset, today)
        data["period"] = preset
        return data

    def filters(self) -> Filters:
        data = self.cleaned_data
        return Filters(
            start=data["start"],
            end=data["end"],
            department_id=data["department"].pk if data.get("department") else None,
            specialty_id=data["specialty"].pk if data.get("specialty") else None,
            channel=data.get("channel") or "",
        )


class LeaderboardVisibilityForm(forms.Form):
    hide_from_leaderboards = forms.BooleanField(
        required=False,
        label="Leave my name off the leaderboards",
        help_text="Your place and points show without your name; your credit still counts for your department.",
    )
