"""Receivers for model signals of the referral app's settings tables. They only drop caches."""

from __future__ import annotations

from django.db.models.signals import post_delete, post_save

from referrals import clocks
from referrals.models import Holiday, ServiceLevelTarget


def _calendar_changed(sender, **kwargs) -> None:
    clocks.calendar_changed()


def connect() -> None:
    for model in (Holiday, ServiceLevelTarget):
        post_save.connect(_calendar_changed, sender=model, dispatch_uid=f"calendar-changed-save-{model.__name__}")
        post_delete.connect(_calendar_changed, sender=model, dispatch_uid=f"calendar-changed-delete-{model.__name__}")
