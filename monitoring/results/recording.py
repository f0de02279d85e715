"""Recording many reports at once, for every source that brings more than one: the CSV import,
the HL7 listener, the FHIR endpoint, and results matched from the waiting list. The form's one
report goes through the same code as a batch of one.

A batch is checked whole before anything is stored: one problem anywhere refuses all of it,
with each problem named by the report's key (a file row, "OBX[3]", "Bundle.entry[2]") and the
field, and nothing is stored. Otherwise every report is stored, flagged against the patient's
history, completes its checks and creates its alerts, in one transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from django.core.exceptions import ValidationError
from django.db import transaction

from monitoring.models import LabReport, ResultImport
from monitoring.results.entry import ResultInput
from monitoring.results.services import report_record
from patients.models import Patient


@dataclass(frozen=True)
class ReportToRecord:
    """One panel's results from one sample of one patient, as a source read them."""

    key: str  # how the source names this report in problems: "row 12", "OBR[1]", "entry[2]"
    patient: Patient
    panel: str
    sample_collected_on: date
    entries: Sequence[ResultInput]
    reported_on: date | None = None
    lab_name: str = ""
    lab_reference: str = ""
    notes: str = ""
    done_by: str = ""
    done_by_name: str = ""
    document_reference: str = ""
    import_row: int | None = None
    submission_key: uuid.UUID | None = None


class BatchRejected(Exception):
    """Nothing of the batch was stored. `problems` maps a report's key to its problems by
    field ("sample_collected_on", "<analyte code>", "<analyte code>_unit", "__all__")."""

    def __init__(self, problems: dict[str, dict[str, list[str]]]):
        self.problems = problems
        super().__init__(
            "; ".join(
                f"{key}: {message}"
                for key, fields in problems.items()
                for messages in fields.values()
                for message in messages
            )
        )


def reports_record(
    *,
    reports: Sequence[ReportToRecord],
    entered_by,
    source: str,
    result_import: ResultImport | None = None,
    today: date | None = None,
) -> list[LabReport]:
    """Store every report of the batch, or none (BatchRejected). Returns the stored reports in
    the batch's order; a report whose submission key was recorded before is returned as
    stored then, and not stored again."""
    stored: list[LabReport] = []
    problems: dict[str, dict[str, list[str]]] = {}
    with transaction.atomic():
        for report in reports:
            try:
                with transaction.atomic():
                    recorded = report_record(
                        patient=report.patient,
                        panel=report.panel,
                        sample_collected_on=report.sample_collected_on,
                        entries=report.entries,
                        entered_by=entered_by,
                        reported_on=report.reported_on,
                        lab_name=report.lab_name,
                        notes=report.notes,
                        done_by=report.done_by,
                        done_by_name=report.done_by_name,
                        document_reference=report.document_reference,
                        submission_key=report.submission_key,
                        result_import=result_import,
                        import_row=report.import_row,
                        source=source,
                        lab_reference=report.lab_reference,
                        today=today,
                    )
            except ValidationError as error:
                problems[report.key] = error.message_dict
                continue
            stored.append(recorded.report)
        if problems:
            raise BatchRejected(problems)  # leaving the transaction rolls all of it back
    return stored
