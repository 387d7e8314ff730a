"""The database itself refuses UPDATE and DELETE on the audit tables (PostgreSQL).

The read log of patient data and the referral event history are append-only:
the application inserts rows and never changes them. TRUNCATE stays possible
for the test runner's flush. SQLite (local demo only) has no such guard.
"""

from django.db import migrations

TABLES = ["referrals_patientdataaccess", "referrals_referralevent"]

FORWARD = """
CREATE OR REPLACE FUNCTION portal_refuse_audit_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'append-only table %: % is not allowed', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
""" + "".join(
    f"""
CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}
    FOR EACH ROW EXECUTE FUNCTION portal_refuse_audit_change();
"""
    for table in TABLES
)

BACKWARD = "".join(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table};\n" for table in TABLES) + (
    "DROP FUNCTION IF EXISTS portal_refuse_audit_change();"
)


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARD, params=None)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKWARD, params=None)


class Migration(migrations.Migration):
    dependencies = [("referrals", "0001_initial")]

    operations = [migrations.RunPython(forward, backward, elidable=False)]
