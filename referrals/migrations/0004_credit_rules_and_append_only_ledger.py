"""The default credit rules (PRODUCT.md), and the database refusing UPDATE and DELETE on the ledger.

Rules are seeded once; an administrator edits their points afterwards. On
PostgreSQL the same trigger function as the audit tables (0002) guards
``referrals_creditentry``; TRUNCATE stays possible for the test runner's flush.
"""

from django.db import migrations

DEFAULT_RULES = [
    (
        "referral_accepted",
        "Referral accepted",
        1,
        "The program office accepted a patient you referred.",
    ),
    (
        "opinion_delivered",
        "Opinion delivered to you",
        2,
        "A second opinion on a patient you referred was delivered.",
    ),
    (
        "scheduled_here",
        "Patient scheduled for care here",
        3,
        "After the opinion, a patient you referred was scheduled for care at our hospital.",
    ),
    (
        "review_delivered",
        "Opinion written",
        2,
        "You wrote and delivered a second opinion as the reviewing physician.",
    ),
    (
        "course_completed",
        "Course completed",
        1,
        "You completed a program course (every lesson viewed and the quiz passed).",
    ),
]

TABLE = "referrals_creditentry"

FORWARD = f"""
CREATE OR REPLACE FUNCTION portal_refuse_audit_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'append-only table %: % is not allowed', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER {TABLE}_append_only BEFORE UPDATE OR DELETE ON {TABLE}
    FOR EACH ROW EXECUTE FUNCTION portal_refuse_audit_change();
"""
BACKWARD = f"DROP TRIGGER IF EXISTS {TABLE}_append_only ON {TABLE};"


def seed_rules(apps, schema_editor):
    CreditRule = apps.get_model("referrals", "CreditRule")
    for code, name, points, description in DEFAULT_RULES:
        CreditRule.objects.get_or_create(code=code, defaults={"name": name, "points": points, "description": description})


def guard_ledger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARD, params=None)


def unguard_ledger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKWARD, params=None)


class Migration(migrations.Migration):
    dependencies = [("referrals", "0003_credit_ledger")]

    operations = [
        migrations.RunPython(seed_rules, migrations.RunPython.noop, elidable=False),
        migrations.RunPython(guard_ledger, unguard_ledger, elidable=False),
    ]
