"""Awaiting acknowledgement as state on the result, with a partial index holding only the
waiting results; backfilled from the rule the scans and the worklist used to compute."""

from django.db import migrations, models

# As they are at this migration; the rule in the code may change later.
ACKNOWLEDGE_TIERS = ["amber", "red", "critical"]


def awaiting(LabResult, LabReport, Acknowledgement):
    """The results the old anti-join found: amber or worse, not entered in error, on a report
    not entered in error, with no acknowledgement at their present tier."""
    reports_in_error = LabReport.objects.filter(
        pk=models.OuterRef("report_id"), entered_in_error_at__isnull=False
    )
    acknowledged = Acknowledgement.objects.filter(
        result=models.OuterRef("pk"), tier=models.OuterRef("tier")
    )
    return (
        LabResult.objects.filter(tier__in=ACKNOWLEDGE_TIERS, entered_in_error_at=None)
        .exclude(models.Exists(reports_in_error))
        .exclude(models.Exists(acknowledged))
    )


def backfill(apps, schema_editor):
    # One UPDATE ... WHERE NOT EXISTS ... AND NOT EXISTS ..., not a write per row.
    awaiting(
        apps.get_model("monitoring", "LabResult"),
        apps.get_model("monitoring", "LabReport"),
        apps.get_model("monitoring", "Acknowledgement"),
    ).update(awaits_acknowledgement=True)


def unfill(apps, schema_editor):
    pass  # the column is dropped


def analyze(apps, schema_editor):
    # Until PostgreSQL has statistics on the new column it guesses half the table awaits, and
    # plans the scans for millions of rows (hash joins, JIT) instead of the thousand there are.
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ANALYZE monitoring_labresult")


class Migration(migrations.Migration):
    dependencies = [
        ("monitoring", "0011_covering_indexes_for_scans_and_worklist"),
    ]

    operations = [
        migrations.AddField(
            model_name="labresult",
            name="awaits_acknowledgement",
            field=models.BooleanField(default=False, editable=False),
        ),
        # Before the new index is built, so it is built once over the few waiting rows.
        migrations.RunPython(backfill, unfill),
        migrations.RemoveIndex(
            model_name="labresult",
            name="result_needs_acknowledgement",
        ),
        migrations.AddIndex(
            model_name="labresult",
            index=models.Index(
                condition=models.Q(("awaits_acknowledgement", True)),
                fields=["tier_since", "id"],
                include=("tier", "patient", "report"),
                name="result_awaiting_ack",
            ),
        ),
        migrations.RunPython(analyze, migrations.RunPython.noop),
    ]
