"""On PostgreSQL, refuse every UPDATE and DELETE of audit entries and their subjects, whatever
sends it: the app, a shell, a script with the app's credentials.

Row triggers, so TRUNCATE still works: Django's test flush uses it, and the app never issues
it. SQLite, the local default, gets no trigger, since its flush deletes rows, which a trigger
would refuse; there the ORM guard (audit.apps) is the protection. A database owner can still
drop a trigger: keeping the owner's credentials away from the app is what stops that.
"""

from django.db import migrations

TABLES = ("auditlog_logentry", "audit_entrysubject")

# One statement per execute, with no parameters, so the "%" of RAISE reaches PostgreSQL as is.
CREATE = [
    """
    CREATE OR REPLACE FUNCTION audit_refuse_change() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'the audit trail is append-only: % on % refused', TG_OP, TG_TABLE_NAME
            USING ERRCODE = 'restrict_violation';
    END;
    $$
    """,
    *(
        f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
        "FOR EACH ROW EXECUTE FUNCTION audit_refuse_change()"
        for table in TABLES
    ),
]

DROP = [
    *(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}" for table in TABLES),
    "DROP FUNCTION IF EXISTS audit_refuse_change()",
]


def _on_postgresql(statements):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            for statement in statements:
                schema_editor.execute(statement, params=None)

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0001_entry_subject"),
    ]

    operations = [
        migrations.RunPython(_on_postgresql(CREATE), _on_postgresql(DROP)),
    ]
