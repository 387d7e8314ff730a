"""Receivers for model signals of the referral app's settings tables. They only drop caches.

The dashboard's rollup is one of them: its clocks are counted in business days
against these tables, so an edit sends it back to a full recount (done by the
next beat refresh, once however many rows were edited).
"""

from __future__ import annotations

from django.db.models.signals import post_delete, post_save

from referrals import clocks
from referrals.models import Holiday, ServiceLevelTarget


def _calendar_changed(sender, **kwargs) -> None:
    from referrals import rollups

    clocks.calendar_changed()
    rollups.referral_facts_invalidate()


def connect() -> None:
    for model in (Holiday, ServiceLevelTarget):
        post_save.connect(_calendar_changed, sender=model, dispatch_uid=f"calendar-changed-save-{model.__name__}")
        post_delete.connect(_calendar_changed, sender=model, dispatch_uid=f"calendar-changed-delete-{model.__name__}")
