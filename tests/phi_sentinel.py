"""Proves patient data stays in the referral table.

Every test patient is named ``PATIENT_MARKER``. After each test, the marker
must not appear in any other table (notifications, events, the access log,
audit rows, anything), in any e-mail sent, any log record written, or any
Celery task message sent during the test.
"""

from __future__ import annotations

import json
import logging

from django.apps import apps
from django.db import models
from django.db.models import Q

from tests.factories import PATIENT_MARKER

# Where the marker belongs: the referral row itself.
ALLOWED_TABLES = {"referrals_referral"}
TEXT_FIELDS = (models.CharField, models.TextField, models.JSONField)


class RecordingHandler(logging.Handler):
    def __init__(self):
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record):
        try:
            message = record.getMessage()
        except Exception:
            message = str(record.msg)
        extras = {k: str(v) for k, v in vars(record).items() if k not in ("msg", "args")}
        self.lines.append(message + " " + json.dumps(extras, default=str))


def tables_containing_marker() -> list[str]:
    from referrals.models import Referral

    if not Referral.objects.exists():
        return []
    found = []
    for model in apps.get_models():
        if model._meta.db_table in ALLOWED_TABLES or model._meta.proxy or not model._meta.managed:
            continue
        condition = Q()
        for field in model._meta.concrete_fields:
            if isinstance(field, TEXT_FIELDS):
                lookup = f"{field.attname}__icontains"
                condition |= Q(**{lookup: PATIENT_MARKER})
        if condition and model._default_manager.filter(condition).exists():
            found.append(model._meta.db_table)
    return found


class TaskMessageRecorder:
    """Wraps Celery's apply_async to keep the JSON of every task message sent."""

    def __init__(self):
        self.messages: list[str] = []
        self._original = None

    def install(self):
        from celery.app.task import Task

        recorder = self
        original = Task.apply_async
        self._original = original

        def apply_async(task, args=None, kwargs=None, *rest, **options):
            recorder.messages.append(json.dumps({"task": task.name, "args": args, "kwargs": kwargs}, default=str))
            return original(task, args, kwargs, *rest, **options)

        Task.apply_async = apply_async

    def uninstall(self):
        from celery.app.task import Task

        if self._original is not None:
            Task.apply_async = self._original
