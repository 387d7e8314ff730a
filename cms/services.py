"""The only writers of intranet records: reads and acknowledgements of program updates.

Functions are named ``<entity>_<verb>``, take keyword-only arguments and run in
a transaction.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from cms.models import ProgramUpdatePage, UpdateReceipt


class UpdateError(Exception):
    """A request about a program update that cannot be done; the message says why."""


@transaction.atomic
def update_read_record(*, update_id: int, actor) -> UpdateReceipt:
    """Record that ``actor`` opened the update; the first opening counts, later ones change nothing."""
    receipt, _ = UpdateReceipt.objects.get_or_create(
        update_id=update_id, user=actor, defaults={"read_at": timezone.now()}
    )
    return receipt


@transaction.atomic
def update_acknowledge(*, update_id: int, actor) -> UpdateReceipt:
    """Record that ``actor`` confirmed reading an update that asks for it; a second click changes nothing."""
    update = ProgramUpdatePage.objects.filter(pk=update_id).only("id", "requires_acknowledgement").first()
    if update is None or not update.requires_acknowledgement:
        raise UpdateError("This update does not ask for an acknowledgement.")
    now = timezone.now()
    receipt, _ = UpdateReceipt.objects.select_for_update().get_or_create(
        update_id=update_id, user=actor, defaults={"read_at": now}
    )
    if receipt.acknowledged_at is None:
        receipt.acknowledged_at = now
        receipt.save(update_fields=["acknowledged_at"])
    return receipt
