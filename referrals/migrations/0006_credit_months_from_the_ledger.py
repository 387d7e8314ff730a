"""Fill the monthly credit rollup from the ledger written before it existed (the leaderboards read it)."""

from collections import defaultdict
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import migrations


def fill(apps, schema_editor):
    CreditEntry = apps.get_model("referrals", "CreditEntry")
    CreditMonth = apps.get_model("referrals", "CreditMonth")
    if CreditMonth.objects.exists():  # already rebuilt (rollups.rebuild_credit_months) since 0005
        return
    tz = ZoneInfo(settings.TIME_ZONE)
    totals = defaultdict(int)
    for person_id, department_id, points, created_at in CreditEntry.objects.values_list(
        "person_id", "department_id", "points", "created_at"
    ).iterator(chunk_size=5000):
        month = created_at.astimezone(tz).date().replace(day=1)
        totals[(month, person_id, department_id)] += points
    CreditMonth.objects.bulk_create(
        [CreditMonth(month=m, person_id=p, department_id=d, points=pts) for (m, p, d), pts in totals.items()],
        batch_size=2000,
    )


class Migration(migrations.Migration):
    dependencies = [("referrals", "0005_rollups")]

    operations = [migrations.RunPython(fill, migrations.RunPython.noop)]
