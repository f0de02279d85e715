"""A programme-sized data set, built the way the app builds it where that is fast enough and
in set-based SQL where the app would enter results one form at a time.

- Clinics of 2,000 patients. One nurse and one lead belong to every clinic, so the pages they
  see (patient list, worklist) cover the whole programme: the worst case.
- Patients at every stage: course 1 from 0 to 5.9 years ago, a few booked for next month;
  course 2 a year after course 1 (booked if that is still ahead), course 3 for one in ten; one
  in fifty withdrawn, one in a hundred transferred, one in two hundred deceased; monitoring
  complete once follow-up has ended. A third have a named nurse, half want e-mail reminders.
- A mix of therapies (benchmarks.dataset.therapy_mix): six in ten on alemtuzumab alone; one in
  ten in alemtuzumab follow-up who started ocrelizumab, natalizumab or ofatumumab two and a
  half years after course 1; three in ten on one of the twelve other therapies alone (no
  alemtuzumab course), a quarter of those stopped. Episodes and the doses given in the clinic
  (one a dose interval from the start, the next one planned) are stored in bulk, and
  Patient.other_therapies is set for every patient with an episode, as the services set it.
- Schedules planned and stored by the app (monitoring.schedule.services.reconcile_in_batches).
- The past filled in: checks that closed more than 45 days ago are completed, except about 3%
  missed (still open, so overdue) and 0.5% waived; of the checks whose window has closed more
  recently, about half are done.
- A lab report with its results for each completed lab check (blood count, creatinine,
  urinalysis, liver, TSH), about 3% of them amber, 0.6% red and 0.2% critical; flagged results
  older than a week are acknowledged, so the recent ones are what the worklist shows.

The data is not audited or given history rows: it stands for years of work the app would have
recorded as it happened.

Both benchmarks build through dataset_build. `manage.py bench_results` passes results=False:
it times entering results (a CSV import, five years for one patient) on patients who have none,
so that its figures count only what it entered.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.db import connection
from django.utils import timezone

from accounts.roles import Role, grant_role
from monitoring.domain import therapies
from monitoring.domain.input_rules import hospital_number_key
from monitoring.models import (
    Acknowledgement,
    Analyte,
    LabReport,
    LabResult,
    MonitoringProtocol,
    ScheduledCheck,
)
from monitoring.schedule.services import reconcile_in_batches
from patients.models import Clinic, InfusionCourse, Patient, TherapyDose, TherapyEpisode

PATIENTS_PER_CLINIC = 2000
COMPLETED_BEFORE_DAYS = 45
LAB_PANELS = ("blood_count", "kidney", "urine", "liver", "thyroid")

# (panel, analyte, unit, normal, amber, red, critical): values as a lab would send them. Only
# platelets go red or critical; the others' abnormal share is amber.
VALUES = [
    ("blood_count", "platelets", "10^9/L", "230", "135", "80", "25"),
    ("blood_count", "wbc", "10^9/L", "6.1", "3.2", None, None),
    ("blood_count", "neutrophils", "10^9/L", "3.9", "1.3", None, None),
    ("blood_count", "lymphocytes", "10^9/L", "1.5", "0.6", None, None),
    ("blood_count", "haemoglobin", "g/L", "136", "108", None, None),
    ("kidney", "creatinine", "umol/L", "74", "120", None, None),
    ("urine", "urine_blood", "", "negative", "2+", None, None),
    ("urine", "urine_protein", "", "negative", "1+", None, None),
    ("liver", "alt", "U/L", "24", "95", None, None),
    ("liver", "ast", "U/L", "22", "88", None, None),
    ("liver", "bilirubin", "umol/L", "9", "28", None, None),
    ("thyroid", "tsh", "mU/L", "1.8", "6.9", None, None),
]


@dataclass
class Dataset:
    clinic_ids: list[int]
    patient_ids: list[int]
    nurse: object
    lead: object
    subject: Patient  # in year five, with every result
    portal_user: object  # the subject's portal account
    checks: int
    results: int
    overdue: int
    seconds: float
    schedule_seconds: float


def dataset_build(*, patients: int, today: date, log=print, results: bool = True) -> Dataset:
    started = time.perf_counter()
    stamp = f"{timezone.now():%H%M%S%f}"
    protocol = MonitoringProtocol.objects.alemtuzumab().get(is_default=True)
    clinics = Clinic.objects.bulk_create(
        Clinic(name=f"Bench centre {n + 1}", code=f"bench-{stamp}-{n}")
        for n in range(max(1, -(-patients // PATIENTS_PER_CLINIC)))
    )
    nurse, lead = _staff(clinics, stamp)
    people = patients_create(clinics, protocol, nurse, patients, today)
    log(f"  {len(people):,} patients, their courses and therapy episodes")

    tick = time.perf_counter()
    ids = [patient.pk for patient in people]
    reconcile_in_batches(ids)
    schedule_seconds = time.perf_counter() - tick
    log(f"  schedules stored in {schedule_seconds:.0f} s")
    _statuses(people, today)
    _fill_the_past(ids, today)
    log("  the past filled in")
    if results:
        author = get_user_model().objects.create(username=f"bench-lab-{stamp}")
        _reports_and_results(ids, author, today)
        log("  reports and results")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")

    subject = _five_year_patient(people, today)
    portal_user = get_user_model().objects.create(
        username=f"bench-patient-{stamp}", email=subject.email
    )
    grant_role(portal_user, Role.PATIENT)
    Patient.objects.filter(pk=subject.pk).update(user=portal_user)
    subject.refresh_from_db()
    return dataset_counted(
        clinics=clinics,
        patient_ids=ids,
        people=(nurse, lead, subject, portal_user),
        today=today,
        seconds=time.perf_counter() - started,
        schedule_seconds=schedule_seconds,
    )


def dataset_counted(
    *, clinics, patient_ids, people, today: date, seconds: float, schedule_seconds: float
) -> Dataset:
    """The Dataset of `clinics`, with its checks, results and overdue checks counted."""
    nurse, lead, subject, portal_user = people
    checks = ScheduledCheck.objects.filter(patient__clinic__in=clinics)
    return Dataset(
        clinic_ids=[clinic.pk for clinic in clinics],
        patient_ids=patient_ids,
        nurse=nurse,
        lead=lead,
        subject=subject,
        portal_user=portal_user,
        checks=checks.count(),
        results=LabResult.objects.filter(patient__clinic__in=clinics).count(),
        overdue=checks.open().filter(overdue_after__lt=today).count(),
        seconds=seconds,
        schedule_seconds=schedule_seconds,
    )


def _staff(clinics, stamp):
    users = get_user_model().objects
    nurse = users.create(username=f"bench-nurse-{stamp}", email=f"nurse-{stamp}@bench.invalid")
    lead = users.create(username=f"bench-lead-{stamp}", email=f"lead-{stamp}@bench.invalid")
    grant_role(nurse, Role.NURSE)
    grant_role(lead, Role.CLINIC_LEAD, Role.NURSE)
    for clinic in clinics:
        clinic.staff.add(nurse, lead)
        clinic.nurses.add(nurse)
    Clinic.objects.filter(pk__in=[clinic.pk for clinic in clinics]).update(lead=lead)
    return nurse, lead


# The therapies started after alemtuzumab, and those taken alone, by patient number.
LATER_THERAPIES = (therapies.OCRELIZUMAB, therapies.NATALIZUMAB, therapies.OFATUMUMAB)
OTHER_THERAPIES = tuple(code for code in therapies.THERAPIES if code != therapies.ALEMTUZUMAB)
LATER_AFTER_DAYS = 900  # about two and a half years after alemtuzumab's course 1


@dataclass(frozen=True)
class TherapyMix:
    alemtuzumab: bool  # has alemtuzumab's courses
    therapy: str = ""  # another therapy's episode, if any
    stopped: bool = False


def therapy_mix(n: int) -> TherapyMix:
    """Patient n's therapies: 60% alemtuzumab alone, 10% alemtuzumab then a later therapy,
    30% another therapy alone (a quarter of them stopped)."""
    slot = n % 10
    if slot < 6:
        return TherapyMix(alemtuzumab=True)
    if slot == 6:
        return TherapyMix(alemtuzumab=True, therapy=LATER_THERAPIES[n // 10 % 3])
    return TherapyMix(
        alemtuzumab=False,
        therapy=OTHER_THERAPIES[(n // 10 * 3 + slot) % len(OTHER_THERAPIES)],
        stopped=n // 10 % 4 == 0,
    )


def _therapy_start(n: int, today: date) -> date | None:
    """The day patient n's other therapy started; None when it is still ahead (a later
    therapy two and a half years after a recent course 1: alemtuzumab alone so far)."""
    mix = therapy_mix(n)
    if not mix.therapy:
        return None
    if mix.alemtuzumab:
        start = _first_course_day(n, today) + timedelta(days=LATER_AFTER_DAYS)
        return start if start <= today - timedelta(days=30) else None
    return today - timedelta(days=30 + (n * 7919) % 1500)


def _therapy_stop(n: int, started: date, today: date) -> date | None:
    if not therapy_mix(n).stopped:
        return None
    return min(started + timedelta(days=180 + (n * 31) % 400), today - timedelta(days=14))


def _first_course_day(n: int, today: date) -> date:
    if n % 40 == 1:
        return today + timedelta(days=20 + n % 30)  # booked, not given yet
    return today - timedelta(days=(n * 7919) % 2150)


def patients_create(clinics, protocol, nurse, count: int, today: date) -> list[Patient]:
    """`count` patients and their courses, spread over `clinics` PATIENTS_PER_CLINIC at a time;
    no schedules (the caller stores those through the app, or times doing so)."""
    leads = [choice for choice, _ in Patient.ReminderLeads.choices]
    people = Patient.objects.bulk_create(
        (
            Patient(
                clinic=clinics[n // PATIENTS_PER_CLINIC],
                hospital_number=f"B{n:07d}",
                # bulk_create skips save(), which fills the key the clinic keeps unique.
                hospital_number_key=hospital_number_key(f"B{n:07d}"),
                given_name=f"Given{n}",
                family_name=f"Family{n:06d}",
                date_of_birth=date(1970, 1, 1) + timedelta(days=(n * 37) % 11000),
                sex="F" if n % 3 else "M",
                email=f"patient{n}@bench.invalid",
                email_reminders=n % 2 == 0,
                reminder_leads=leads[n % len(leads)],
                named_nurse=nurse if n % 3 == 0 else None,
                protocol=protocol,
                # Tracked since before their first course (or therapy), as in a clinic that
                # has used the tracker for years: the backlog of overdue checks is work the
                # scans must find.
                tracked_from=_tracked_from(n, today),
                other_therapies=_therapy_start(n, today) is not None,
            )
            for n in range(count)
        ),
        batch_size=5000,
    )
    courses = []
    for n, patient in enumerate(people):
        if not therapy_mix(n).alemtuzumab:
            continue
        first = _first_course_day(n, today)
        courses.append(_course(patient, 1, first, 5, today))
        second = first + timedelta(days=370)
        if second <= today + timedelta(days=60):
            courses.append(_course(patient, 2, second, 3, today))
        third = second + timedelta(days=400)
        if n % 10 == 0 and third <= today:
            courses.append(_course(patient, 3, third, 3, today))
    InfusionCourse.objects.bulk_create(courses, batch_size=5000)
    episodes_create(people, today)
    return people


def _tracked_from(n: int, today: date) -> date:
    if therapy_mix(n).alemtuzumab:
        return _first_course_day(n, today) - timedelta(days=60)
    return _therapy_start(n, today) - timedelta(days=60)


def episodes_create(people: list[Patient], today: date) -> None:
    """The other therapies' episodes of `people` (patient n of the list is patient n of
    therapy_mix), and the doses given in the clinic: in bulk, in three statements."""
    protocols = {code: MonitoringProtocol.objects.default_for(code) for code in OTHER_THERAPIES}
    episodes = []
    for n, patient in enumerate(people):
        started = _therapy_start(n, today)
        if started is None:
            continue
        therapy = therapy_mix(n).therapy
        stopped = _therapy_stop(n, started, today)
        episodes.append(
            TherapyEpisode(
                patient=patient,
                therapy=therapy,
                protocol=protocols[therapy],
                started_on=started,
                stopped_on=stopped,
                stop_reason="side_effects" if stopped else "",
            )
        )
    TherapyEpisode.objects.bulk_create(episodes, batch_size=5000)
    doses = []
    for episode in episodes:
        doses += _doses(episode, today)
    TherapyDose.objects.bulk_create(doses, batch_size=5000)


def _doses(episode: TherapyEpisode, today: date) -> list[TherapyDose]:
    """A dose given each dose interval from the start until the stop (or today), the next one
    planned unless the therapy stopped or has had all its doses."""
    info = therapies.therapy_of(episode.therapy)
    interval = episode.protocol.dose_interval_days
    if not info.doses_in_clinic or not interval:
        return []
    end = episode.stopped_on or today
    doses, day = [], episode.started_on
    while day <= end and (not info.max_doses or len(doses) < info.max_doses):
        doses.append(
            TherapyDose(
                episode=episode,
                number=len(doses) + 1,
                planned_on=day,
                given_on=day,
                status=TherapyDose.Status.GIVEN,
            )
        )
        day += timedelta(days=interval)
    if episode.stopped_on is None and (not info.max_doses or len(doses) < info.max_doses):
        doses.append(TherapyDose(episode=episode, number=len(doses) + 1, planned_on=day))
    return doses


def _course(patient, number, first_day, days, today) -> InfusionCourse:
    given = first_day <= today
    return InfusionCourse(
        patient=patient,
        number=number,
        first_infusion_date=first_day,
        days=days,
        daily_dose_mg=Decimal(12),
        status=InfusionCourse.Status.GIVEN if given else InfusionCourse.Status.PLANNED,
    )


def _statuses(people, today: date) -> None:
    """Some patients leave; their open checks are cancelled (in SQL: bench data, not audited).
    Monitoring is complete for those whose last check has passed."""
    Status = Patient.Status
    leaving = {Status.WITHDRAWN: 50, Status.TRANSFERRED: 100, Status.DECEASED: 200}
    for status, every in leaving.items():
        chosen = [p.pk for n, p in enumerate(people) if n % every == every // 2]
        Patient.objects.filter(pk__in=chosen).update(status=status)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""UPDATE {ScheduledCheck._meta.db_table} c SET cancelled_at = now(),
                cancelled_reason = 'Patient status changed.'
            FROM {Patient._meta.db_table} p
            WHERE p.id = c.patient_id AND p.id = ANY(%s) AND p.status <> ALL(%s)
              AND c.due_date > %s AND c.completed_on IS NULL""",
            [[p.pk for p in people], list(Patient.PLANNED_STATUSES), today - timedelta(days=200)],
        )
        cursor.execute(
            f"""UPDATE {Patient._meta.db_table} p SET status = %s
            WHERE p.id = ANY(%s) AND p.status = %s AND NOT EXISTS (
                SELECT 1 FROM {ScheduledCheck._meta.db_table} c
                WHERE c.patient_id = p.id AND c.due_date > %s)""",
            [Status.MONITORING_COMPLETE, [p.pk for p in people], Status.ACTIVE, today],
        )


def _fill_the_past(ids: list[int], today: date) -> None:
    checks = ScheduledCheck._meta.db_table
    closed = today - timedelta(days=COMPLETED_BEFORE_DAYS)
    with connection.cursor() as cursor:
        # Long closed: done (a few days either side of the due date), except ~3% missed and
        # ~0.5% waived. Recently closed or open now: about half done so far.
        cursor.execute(
            f"""UPDATE {checks} SET completed_on = LEAST(due_date + (id %% 9 - 4)::int, %s)
            WHERE patient_id = ANY(%s) AND cancelled_at IS NULL AND kind <> 'urgent'
              AND ((overdue_after < %s AND id %% 33 <> 0 AND id %% 211 <> 0)
                   OR (overdue_after >= %s AND window_opens <= %s AND id %% 2 = 0))""",
            [today, ids, closed, closed, today],
        )
        cursor.execute(
            f"""UPDATE {checks} SET waived_at = now(), waived_reason = 'Not needed (bench).'
            WHERE patient_id = ANY(%s) AND overdue_after < %s AND id %% 211 = 0
              AND cancelled_at IS NULL""",
            [ids, closed],
        )


def _reports_and_results(ids: list[int], author, today: date) -> None:
    reports = LabReport._meta.db_table
    results = LabResult._meta.db_table
    acks = Acknowledgement._meta.db_table
    analytes = {a.code: a.pk for a in Analyte.objects.all()}
    values = [
        (panel, analytes[code], unit, normal, amber, red or amber, critical or red or amber)
        for panel, code, unit, normal, amber, red, critical in VALUES
    ]
    placeholders = ", ".join(["(%s, %s, %s, %s, %s, %s, %s)"] * len(values))
    with connection.cursor() as cursor:
        cursor.execute(
            f"""INSERT INTO {reports} (patient_id, panel, sample_collected_on, reported_on,
                lab_name, notes, source, entered_by_id, entered_at, entered_in_error_reason,
                done_by, done_by_name, document_reference, lab_reference)
            SELECT patient_id, panel, completed_on, completed_on + 1, 'Bench laboratory', '',
                'csv_import', %s, now(), '', '', '', '', ''
            FROM {ScheduledCheck._meta.db_table}
            WHERE patient_id = ANY(%s) AND completed_on IS NOT NULL AND panel = ANY(%s)""",
            [author.pk, ids, list(LAB_PANELS)],
        )
        # The tier from a hash of the report and analyte: about 3% amber, 0.6% red and 0.2%
        # critical among the analytes that can go that far.
        cursor.execute(
            f"""WITH v (panel, analyte_id, unit, normal, amber, red, critical) AS (
                VALUES {placeholders}),
            r AS (SELECT r.id, r.patient_id, r.sample_collected_on, v.*,
                    (r.id * 7919 + v.analyte_id * 104729) %% 1000 AS h
                FROM {reports} r JOIN v ON v.panel = r.panel
                WHERE r.patient_id = ANY(%s)),
            t AS (SELECT r.*, CASE WHEN h < 2 AND critical <> red THEN 'critical'
                    WHEN h < 8 AND red <> amber THEN 'red' WHEN h < 38 THEN 'amber'
                    ELSE 'normal' END AS tier FROM r)
            INSERT INTO {results} (report_id, patient_id, sample_collected_on, analyte_id,
                value_text, unit, canonical_value, tier, value_tier, reasons, next_action,
                rationale, entered_in_error_reason, tier_since, awaits_acknowledgement,
                updated_at, comparator, status)
            SELECT id, patient_id, sample_collected_on, analyte_id,
                CASE tier WHEN 'critical' THEN critical WHEN 'red' THEN red
                    WHEN 'amber' THEN amber ELSE normal END,
                unit,
                CASE WHEN (CASE tier WHEN 'critical' THEN critical WHEN 'red' THEN red
                    WHEN 'amber' THEN amber ELSE normal END) ~ '^[0-9.]+$'
                    THEN (CASE tier WHEN 'critical' THEN critical WHEN 'red' THEN red
                    WHEN 'amber' THEN amber ELSE normal END)::numeric
                    WHEN tier = 'normal' THEN 0 ELSE 2 END,
                tier, tier, '[]'::jsonb, '', '', '',
                CASE WHEN tier = 'normal' THEN NULL ELSE sample_collected_on + time '12:00'
                    AT TIME ZONE 'UTC' END,
                -- Waiting: the flagged results of the last week, which the insert below
                -- leaves unacknowledged.
                tier <> 'normal' AND sample_collected_on >= %s,
                now(), '', 'final'
            FROM t""",
            [item for row in values for item in row] + [ids, today - timedelta(days=7)],
        )
        cursor.execute(
            f"""INSERT INTO {acks} (result_id, tier, action, note, acknowledged_by_id,
                acknowledged_at)
            SELECT id, tier, 'reviewed', 'Reviewed (bench).', %s, tier_since + interval '1 day'
            FROM {results}
            WHERE patient_id = ANY(%s) AND tier <> 'normal' AND sample_collected_on < %s""",
            [author.pk, ids, today - timedelta(days=7)],
        )


def _five_year_patient(people, today: date) -> Patient:
    """The patient whose course 1 is nearest five years ago: the longest record still active."""
    target = today - timedelta(days=5 * 365)
    return Patient.objects.filter(
        pk__in=[p.pk for p in people],
        status=Patient.Status.ACTIVE,
        courses__number=1,
        courses__first_infusion_date__lte=target,
    ).order_by("-courses__first_infusion_date").first() or Patient.objects.get(pk=people[0].pk)
