"""The sentinel that guards every test must itself catch a leak."""

import logging

import pytest

from portal import services as portal_services
from portal.models import Notification
from referrals import services
from tests.factories import PATIENT_MARKER, SpecialtyFactory, referral_data
from tests.phi_sentinel import RecordingHandler, tables_containing_marker

pytestmark = pytest.mark.django_db


def test_the_marker_in_a_notification_is_found(make_user):
    person = make_user()
    services.referral_create(actor=person, data=referral_data(SpecialtyFactory()))
    assert tables_containing_marker() == []

    portal_services.notification_send(
        kind="general", event_key="leak", recipient_ids=[person.pk], verb=f"About {PATIENT_MARKER}"
    )
    assert tables_containing_marker() == ["portal_notification"]

    Notification.objects.all().delete()  # clean up so this test's own guard passes


def test_the_marker_in_a_log_record_is_found():
    handler = RecordingHandler()
    logger = logging.getLogger("sentinel-check")
    logger.addHandler(handler)
    logger.propagate = False  # keep it from the suite's own guard
    try:
        logger.warning("patient %s", PATIENT_MARKER)
    finally:
        logger.removeHandler(handler)

    assert any(PATIENT_MARKER in line for line in handler.lines)
