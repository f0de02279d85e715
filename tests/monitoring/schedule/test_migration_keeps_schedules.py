"""The migrations that bring in therapy episodes (patients 0014-0016, monitoring 0027-0029,
reports 0002) keep every alemtuzumab schedule as it was: a database built at the state before
them, with patients, courses and stored checks (done, waived, cancelled and open ones), is
migrated forward; every check row reads as before, each patient with courses has one
alemtuzumab episode holding them all, and re-planning afterwards changes nothing."""

from datetime import UTC, date, datetime

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from monitoring.domain import planning

BEFORE = [
    ("patients", "0013_clinic_lab_message_retention_days"),
    ("monitoring", "0026_analyte_units_by_loinc"),
    ("reports", "0001_figures"),
]


def old_plan(protocol, items, courses, sex):
    """The plan of a patient at the old state, from its stored protocol and courses, by the
    pure planner (which the alemtuzumab planning tests hold to its behaviour)."""
    return planning.plan_schedule(
        courses=[
            planning.Course(
                number=course.number,
                first_day=course.first_infusion_date,
                days=course.days,
                key=course.pk,
            )
            for course in courses
            if course.status != "cancelled"
        ],
        protocol=planning.Protocol(
            follow_up_months=protocol.follow_up_months,
            items=tuple(
                planning.ProtocolItem(
                    key=item.pk,
                    panel=item.panel,
                    kind=item.kind,
                    interval_months=item.interval_months,
                    window_before_days=item.window_before_days,
                    grace_after_days=item.grace_after_days,
                    applies_to_sex=item.applies_to_sex,
                    from_baseline=item.from_baseline,
                    first_course_only=item.first_course_only,
                )
                for item in items
            ),
        ),
        sex=sex,
    )


class OldClinic:
    """Rows written with the models as they were at BEFORE."""

    def __init__(self, apps):
        self.apps = apps
        self.Patient = apps.get_model("patients", "Patient")
        self.Course = apps.get_model("patients", "InfusionCourse")
        self.Check = apps.get_model("monitoring", "ScheduledCheck")
        self.Protocol = apps.get_model("monitoring", "MonitoringProtocol")
        self.clinic = apps.get_model("patients", "Clinic").objects.create(
            name="Migration clinic", code="migration"
        )
        self.nurse = apps.get_model("auth", "User").objects.create(username="migration_nurse")
        self.numbers = 0

    def patient(self, *, sex, protocol_slug, tracked_from, courses=()):
        self.numbers += 1
        number = f"MIG{self.numbers:04d}"
        protocol = self.Protocol.objects.get(slug=protocol_slug)
        patient = self.Patient.objects.create(
            clinic=self.clinic,
            hospital_number=number,
            hospital_number_key=number.lower(),
            given_name="Old",
            family_name=f"Patient {self.numbers}",
            date_of_birth=date(1980, 1, 1),
            sex=sex,
            protocol=protocol,
            tracked_from=tracked_from,
        )
        stored = [
            self.Course.objects.create(
                patient=patient,
                number=number_,
                first_infusion_date=first,
                days=days,
                daily_dose_mg=12,
                status=status,
            )
            for number_, (first, days, status) in enumerate(courses, start=1)
        ]
        plan = old_plan(protocol, protocol.items.order_by("pk"), stored, sex)
        self.Check.objects.bulk_create(
            self.Check(
                patient=patient,
                protocol_item_id=check.item_key,
                panel=check.panel,
                kind=check.kind,
                month_offset=check.month_offset,
                course_id=check.course_key if check.kind == planning.PRE_COURSE else None,
                due_date=check.due,
                window_opens=check.window_opens,
                overdue_after=check.overdue_after,
                before_tracking=check.overdue_after < tracked_from,
            )
            for check in plan.checks
        )
        patient.follow_up_ends = plan.end_of_follow_up
        patient.save(update_fields=["follow_up_ends"])
        return patient, stored

    def checks(self, patient, **filters):
        return self.Check.objects.filter(patient=patient, **filters).order_by("due_date", "pk")

    def complete(self, checks):
        for check in checks:
            # Done; the report that completed it is not what this test is about.
            check.completed_on = check.due_date
            check.save()

    def waive(self, check):
        check.waived_at = datetime(2024, 6, 1, 9, 30, tzinfo=UTC)
        check.waived_by = self.nurse
        check.waived_reason = "Done at the patient's local hospital; letter on file."
        check.save()

    def cancelled(self, patient, item, **fields):
        """A check the plan once had and later dropped (a cancelled course's, say)."""
        return self.Check.objects.create(
            patient=patient,
            protocol_item=item,
            panel=item.panel,
            kind=item.kind,
            cancelled_at=datetime(2024, 3, 1, 12, 0, tzinfo=UTC),
            cancelled_reason="No longer in the plan after a course or protocol change.",
            **fields,
        )


def build_old_clinic(apps):
    old = OldClinic(apps)
    # Two courses given; the first blood counts done, a skin check waived.
    two, two_courses = old.patient(
        sex="F",
        protocol_slug="default-60m",
        tracked_from=date(2000, 1, 1),
        courses=[(date(2024, 1, 31), 5, "given"), (date(2025, 2, 3), 3, "given")],
    )
    old.complete(old.checks(two, panel="blood_count")[:4])
    old.complete(old.checks(two, kind="pre_course", course=two_courses[1]))
    old.waive(old.checks(two, panel="skin").first())
    # One course given on a month end; course 2 was planned, then cancelled: its pre-course
    # check cancelled with it. Tracked from 2024, so the first year is history.
    one, one_courses = old.patient(
        sex="M",
        protocol_slug="label-48m",
        tracked_from=date(2024, 1, 1),
        courses=[(date(2023, 3, 31), 5, "given"), (date(2024, 4, 15), 3, "cancelled")],
    )
    item = old.Protocol.objects.get(slug="label-48m").items.filter(kind="pre_course").first()
    old.cancelled(
        one,
        item,
        course=one_courses[1],
        due_date=date(2024, 4, 15),
        window_opens=date(2024, 3, 16),
        overdue_after=date(2024, 4, 15),
    )
    old.complete(old.checks(one, panel="thyroid", before_tracking=False)[:2])
    old.waive(old.checks(one, panel="kidney", before_tracking=False).first())
    # Course 1 started on a leap day and a course planned ahead.
    leap, _ = old.patient(
        sex="F",
        protocol_slug="default-60m",
        tracked_from=date(2020, 1, 1),
        courses=[(date(2028, 2, 29), 5, "planned")],
    )
    recurring = old.Protocol.objects.get(slug="default-60m").items.filter(kind="recurring")
    old.cancelled(
        leap,
        recurring.first(),
        month_offset=1,
        due_date=date(2027, 12, 31),
        window_opens=date(2027, 12, 24),
        overdue_after=date(2028, 1, 7),
    )
    # Course 1 planned, then cancelled before it was given: no checks, but a course on record,
    # so an episode from its first day.
    old.patient(
        sex="F",
        protocol_slug="default-60m",
        tracked_from=date(2024, 1, 1),
        courses=[(date(2024, 9, 2), 5, "cancelled")],
    )
    # Onboarded, courses not yet entered: no episode.
    old.patient(sex="X", protocol_slug="default-60m", tracked_from=date(2024, 1, 1))
    return old


def rows(model, names):
    return list(model.objects.order_by("pk").values_list(*names))


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_migrating_keeps_every_check_and_opens_one_episode_per_treated_patient():
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    try:
        old_apps = executor.loader.project_state(BEFORE).apps
        old = build_old_clinic(old_apps)
        columns = [field.attname for field in old.Check._meta.concrete_fields]
        checks_before = rows(old.Check, columns)
        patients_before = rows(old.Patient, ["pk", "follow_up_ends", "updated_at"])
        courses_before = {
            course.pk: (course.patient_id, course.first_infusion_date, course.status)
            for course in old.Course.objects.all()
        }
        assert len(checks_before) > 100
        assert {row[columns.index("completed_on")] is not None for row in checks_before} == {
            True,
            False,
        }

        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())

        # The models as they are now (the database is at the latest migration).
        from monitoring.models import ScheduledCheck
        from monitoring.schedule.services import schedule_reconcile
        from patients.models import InfusionCourse, Patient, TherapyEpisode

        assert rows(ScheduledCheck, columns) == checks_before
        assert set(ScheduledCheck.objects.values_list("shares_visit", flat=True)) == {False}
        assert not ScheduledCheck.objects.exclude(episode=None, dose=None).exists()
        assert rows(Patient, ["pk", "follow_up_ends", "updated_at"]) == patients_before

        treated = {patient_id for patient_id, _, _ in courses_before.values()}
        episodes = TherapyEpisode.objects.all()
        assert sorted(e.patient_id for e in episodes) == sorted(treated)
        assert {e.therapy for e in episodes} == {"alemtuzumab"}
        for episode in episodes:
            mine = [
                (status == "cancelled", first)
                for patient_id, first, status in courses_before.values()
                if patient_id == episode.patient_id
            ]
            # Course 1's first day: the first course not cancelled, else the first of all.
            assert episode.started_on == min(mine)[1]
            assert episode.protocol_id is None and episode.stopped_on is None
        for course in InfusionCourse.objects.select_related("episode"):
            assert course.episode.patient_id == course.patient_id
        assert not Patient.objects.filter(other_therapies=True).exists()

        # Re-planning with the new code finds the schedules as they should be.
        for patient in Patient.objects.order_by("pk"):
            result = schedule_reconcile(patient=patient)
            assert (result.created, result.moved, result.cancelled) == (0, 0, 0), patient
        assert rows(ScheduledCheck, columns) == checks_before
        assert TherapyEpisode.objects.count() == len(treated)
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())


def test_the_before_state_is_the_parent_of_the_therapy_migrations():
    """BEFORE names the migrations the therapy work starts from: if a migration is inserted
    before them, this test says so, rather than the one above testing the wrong step."""
    from django.db.migrations.loader import MigrationLoader

    graph = MigrationLoader(None, ignore_no_migrations=True).graph
    children = {
        child for node in BEFORE for child in graph.node_map[node].children if child[0] == node[0]
    }
    assert children == {
        ("patients", "0014_therapy_episodes_and_doses"),
        ("monitoring", "0027_therapy_protocols_and_episode_checks"),
        ("reports", "0002_adherence_panels_of_every_therapy"),
    }
