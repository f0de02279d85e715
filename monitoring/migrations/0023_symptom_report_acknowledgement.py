"""Symptom reports become work items acknowledged like results: an Acknowledgement may be about
a report (once), a report awaits acknowledgement until then, and its alerts name it. The
"Urgent test booked" action is added.

Reports stored before this had no way to be acknowledged. One whose urgent checks are all
closed (a result came, or a nurse waived them) was dealt with, so it does not wait; one with an
urgent check still open waits, and appears on the worklist."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def reports_dealt_with_wait_no_more(apps, schema_editor):
    SymptomReport = apps.get_model("monitoring", "SymptomReport")
    ScheduledCheck = apps.get_model("monitoring", "ScheduledCheck")
    open_urgent = ScheduledCheck.objects.filter(
        symptom_report=models.OuterRef("pk"),
        cancelled_at__isnull=True,
        waived_at__isnull=True,
        completed_on=None,
        before_tracking=False,
    )
    SymptomReport.objects.exclude(models.Exists(open_urgent)).update(
        awaits_acknowledgement=False
    )


class Migration(migrations.Migration):

    dependencies = [
        ('monitoring', '0022_notification_fallback_chain_and_handled'),
        ('patients', '0012_onboarding_file'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name='acknowledgement',
            name='ack_is_about_one_thing',
        ),
        migrations.AddField(
            model_name='acknowledgement',
            name='symptom_report',
            field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='acknowledgements', to='monitoring.symptomreport'),
        ),
        migrations.AddField(
            model_name='notification',
            name='symptom_report',
            field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='notifications', to='monitoring.symptomreport'),
        ),
        migrations.AddField(
            model_name='symptomreport',
            name='awaits_acknowledgement',
            field=models.BooleanField(default=True),
        ),
        migrations.RunPython(reports_dealt_with_wait_no_more, migrations.RunPython.noop),
        migrations.AlterField(
            model_name='acknowledgement',
            name='action',
            field=models.CharField(choices=[('called_patient', 'Called the patient'), ('rebooked', 'Rebooked the test'), ('repeat_ordered', 'Ordered a repeat test'), ('urgent_test_booked', 'Urgent test booked'), ('referred', 'Referred to a specialist'), ('reviewed', 'Reviewed: no action needed'), ('other', 'Other (see note)')], max_length=20),
        ),
        migrations.AddIndex(
            model_name='notification',
            index=models.Index(condition=models.Q(('symptom_report__isnull', False)), fields=['symptom_report', 'kind'], name='notification_symptom_kind'),
        ),
        migrations.AddIndex(
            model_name='symptomreport',
            index=models.Index(condition=models.Q(('awaits_acknowledgement', True)), fields=['patient'], name='symptom_awaiting'),
        ),
        migrations.AddConstraint(
            model_name='acknowledgement',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('result__isnull', False), ('scheduled_check__isnull', True), ('symptom_report__isnull', True)), models.Q(('result__isnull', True), ('scheduled_check__isnull', False), ('symptom_report__isnull', True)), models.Q(('result__isnull', True), ('scheduled_check__isnull', True), ('symptom_report__isnull', False)), _connector='OR'), name='ack_is_about_one_thing'),
        ),
        migrations.AddConstraint(
            model_name='acknowledgement',
            constraint=models.UniqueConstraint(condition=models.Q(('symptom_report__isnull', False)), fields=('symptom_report',), name='ack_symptom_report_once'),
        ),
    ]
