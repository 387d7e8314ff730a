"""The kinds of notification a person can set an e-mail preference for."""

from django.db import models


class NotificationKind(models.TextChoices):
    NEW_REFERRAL = "new_referral", "New referral to triage (coordinators)"
    CASE_OPEN = "case_open", "Case open in my specialty (reviewers)"
    REFERRAL_PROGRESS = "referral_progress", "My referral was claimed or its opinion delivered"
    CASE_ACTIVITY = "case_activity", "Activity on cases I work on"
    CREDIT_EARNED = "credit_earned", "Credit earned"
    UPDATE_PUBLISHED = "update_published", "Program update published"
    TRAINING_DUE = "training_due", "Training due"
    SERVICE_LEVEL = "service_level", "Service-level reminders"
    GENERAL = "general", "Account and program messages"
