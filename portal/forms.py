from django import forms

from portal.models import NotificationPreference
from portal.notification_kinds import NotificationKind


class NotificationPreferencesForm(forms.Form):
    """One e-mail delivery choice per notification kind."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for kind in NotificationKind:
            self.fields[kind.value] = forms.ChoiceField(
                label=kind.label,
                choices=NotificationPreference.Delivery.choices,
                widget=forms.RadioSelect,
            )
