"""Who to call today: a clinic's patients with open checks overdue or due within the week.

One ordered query over the checks (with each patient's contact details and named nurse joined
in), read in chunks and grouped per patient as it goes, so a clinic of 10,000 patients is never
held in memory. Patients most overdue come first (the oldest overdue date of each, a window
over their checks), then those only due, by name.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from itertools import groupby

from django.db.models import F, Min, Window

from monitoring.models import ScheduledCheck
from monitoring.models.schedule import PANEL_SHORT_NAMES
from monitoring.worklist.filters import Filters, patient_conditions
from monitoring.worklist.sections import DUE_SOON_DAYS
from patients.models import Patient

CHUNK_SIZE = 2000
MINE = "mine"

HEADER = [
    "Hospital number",
    "Family name",
    "Given name",
    "Date of birth",
    "Phone",
    "E-mail",
    "Named nurse",
    "Oldest overdue check due",
    "Days overdue",
    "Overdue checks",
    "Tests overdue",
    "Tests due within 7 days",
    "Next due",
]

_FIELDS = (
    "patient_id",
    "patient__hospital_number",
    "patient__family_name",
    "patient__given_name",
    "patient__date_of_birth",
    "patient__phone",
    "patient__email",
    "patient__named_nurse__first_name",
    "patient__named_nurse__last_name",
    "patient__named_nurse__username",
    "panel",
    "due_date",
    "overdue_after",
)


def who_to_call_checks(*, clinic, today: date, mine_of=None):
    """The open checks to call about, ordered for grouping. `mine_of`: (the user, the
    worklist's ClinicView of this clinic) for the worklist's "mine" (patients named to the
    user, or unnamed where the user is in the nurse group)."""
    checks = ScheduledCheck.objects.open().filter(
        patient__clinic_id=clinic.pk,
        patient__status__in=Patient.PLANNED_STATUSES,
        due_date__lte=today + timedelta(days=DUE_SOON_DAYS),
    )
    if mine_of is not None:
        user, clinic_view = mine_of
        checks = checks.filter(
            patient_conditions(
                Filters(mine=True, clinic=clinic.pk),
                {clinic.pk: clinic_view},
                user.pk,
                prefix="patient__",
            )
        )
    return (
        checks.annotate(oldest=Window(Min("overdue_after"), partition_by=[F("patient_id")]))
        .order_by("oldest", "patient__family_name", "patient__given_name", "patient_id", "due_date")
        .values_list(*_FIELDS)
    )


def who_to_call_rows(checks, *, today: date) -> Iterator[list]:
    yield HEADER
    rows = checks.iterator(chunk_size=CHUNK_SIZE)
    for _patient_id, group in groupby(rows, key=lambda row: row[0]):
        yield _row(list(group), today)


def _row(checks: list[tuple], today: date) -> list:
    first = checks[0]
    (_, number, family, given, born, phone, email, nurse_first, nurse_last, nurse_username) = first[
        :10
    ]
    overdue = [check for check in checks if check[12] < today]
    due = [check for check in checks if check[12] >= today]
    nurse = f"{nurse_first} {nurse_last}".strip() or (nurse_username or "")
    return [
        number,
        family,
        given,
        born,
        phone,
        email,
        nurse,
        min((check[11] for check in overdue), default=None),
        (today - min(check[12] for check in overdue)).days if overdue else None,
        len(overdue),
        _tests(overdue),
        _tests(due),
        min((check[11] for check in due), default=None),
    ]


def _tests(checks) -> str:
    panels = dict.fromkeys(check[10] for check in checks)  # in order, once each
    return ", ".join(PANEL_SHORT_NAMES.get(panel, panel) for panel in panels)
