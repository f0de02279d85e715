"""What every lab feed shares once it has read its message: the raw message stored before it
is read, each result matched to a patient and an analyte, checked, and recorded through the
one recording pipeline (monitoring.results.recording) in one transaction with the message's
outcome. A reader (HL7, FHIR) turns its message into FeedResults, calls feed_record, then
answers the lab from the outcome: only after this has committed.

What happens to each result:
- a problem in any result (a unit the analyte does not take, a value that is not a number, a
  sample time in the future, a patient of another clinic) refuses the whole message, storing
  nothing but the message and its problems, each named by where it is in the message;
- a hospital number the clinic does not know, or a code it does not monitor, waits for a person
  (WaitingResult), and the rest of the message is recorded;
- a final or preliminary value is recorded; a corrected value (or a final one replacing a
  preliminary) is a new version of the result it corrects, with the lab as the author; an
  entered-in-error one takes the earlier result out of every flag and count.
A message received again (the same control ID from the same connection) is answered from what
was stored the first time and stores nothing twice.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from accounts.system_users import system_user
from labfeeds.codes import analytes_by_loinc
from labfeeds.models import LabConnection, LabMessage, WaitingResult
from monitoring.domain.input_rules import hospital_number_key
from monitoring.models import Analyte, LabReport, LabResult, ResultStatus
from monitoring.results.entry import ResultInput
from monitoring.results.recording import BatchRejected, ReportToRecord, reports_record
from monitoring.results.services import result_correct, result_mark_in_error
from patients.models import Clinic, Patient

# The account named as the author of what a lab feed records (history, audit trail).
LAB_FEED_USER = "lab-feed"

FINAL, PRELIMINARY, CORRECTED, ENTERED_IN_ERROR = (
    "final",
    "preliminary",
    "corrected",
    "entered_in_error",
)
STATUSES = (FINAL, PRELIMINARY, CORRECTED, ENTERED_IN_ERROR)


def clinic_identifier_system(clinic: Clinic) -> str:
    """The identifier system of a clinic's hospital numbers in FHIR (Patient.identifier)."""
    return f"urn:lemtrada-monitor:clinic:{clinic.code}:hospital-number"


@dataclass(frozen=True)
class FeedResult:
    """One result as a lab message gives it, before it is matched to anything."""

    position: str  # where it is in the message: "OBX[3]", "Bundle.entry[2]"
    hospital_number: str
    code: str  # the LOINC code
    value: str  # without its comparator: "5" of "<5"
    sample_collected_on: date | None
    status: str = FINAL  # one of STATUSES
    comparator: str = ""  # "<", "<=", ">", ">="
    unit: str = ""
    reference_low: str = ""
    reference_high: str = ""
    # PID-3.4, or the FHIR identifier's system: whose hospital number it is.
    assigning_authority: str = ""
    patient_name: str = ""
    date_of_birth: date | None = None
    code_display: str = ""
    lab_reference: str = ""  # the lab's order or report number (OBR-3, DiagnosticReport.id)
    lab_name: str = ""
    reported_on: date | None = None
    # Where each field is in the message, to name it in a problem: {"value": "OBX[3]-5",
    # "unit": "OBX[3]-6", "code": "OBX[3]-3", "hospital_number": "PID-3",
    # "sample_collected_on": "OBR[1]-7", "reference_low": "OBX[3]-7"}; default: position.
    where: Mapping[str, str] = field(default_factory=dict)

    def at(self, name: str) -> str:
        return self.where.get(name, self.position)


@dataclass(frozen=True)
class FeedProblem:
    where: str
    message: str

    def as_json(self) -> dict[str, str]:
        return {"where": self.where, "message": self.message}


@dataclass
class FeedOutcome:
    message: LabMessage
    recorded: int = 0
    waiting: int = 0
    # Why the message was refused (nothing of it was recorded).
    problems: list[FeedProblem] = field(default_factory=list)
    # What waits for a person, in a message that was accepted.
    notices: list[FeedProblem] = field(default_factory=list)
    # True when this message had been received before: nothing was done this time.
    repeated: bool = False

    @property
    def refused(self) -> bool:
        return bool(self.problems)


def message_receive(
    *,
    protocol: str,
    raw: str,
    connection: LabConnection | None,
    control_id: str = "",
    message_type: str = "",
    clinic: Clinic | None = None,
) -> tuple[LabMessage, bool]:
    """Store a message as received, before reading it, so nothing is lost whatever happens
    next. Returns (message, new): a control ID this connection sent before returns the message
    stored then, with new False. `clinic` is for a sender without a connection (a FHIR token
    made for the clinic alone); a connection's own clinic wins."""
    control_id = control_id.strip()[:64]
    fields = {
        "protocol": protocol,
        "connection": connection,
        "clinic_id": connection.clinic_id if connection else (clinic.pk if clinic else None),
        "control_id": control_id,
    }
    # A sender neither a connection nor a clinic's token names has no identity to tell its
    # control IDs from another's: its messages are each kept (and refused), never taken for
    # one another's repeat.
    if control_id and fields["clinic_id"] is not None:
        earlier = LabMessage.objects.filter(**fields).first()
        if earlier is not None:
            return earlier, False
    try:
        with transaction.atomic():
            message = LabMessage.objects.create(**fields, message_type=message_type[:32], raw=raw)
    except IntegrityError:
        # The same control ID, sent twice at once over two connections: the first one stored.
        return LabMessage.objects.get(**fields), False
    return message, True


def message_refuse(*, message: LabMessage, problems: Sequence[FeedProblem]) -> FeedOutcome:
    """Refuse a message before any of its results were read (no MSH, an unsupported type, an
    unknown sender, a body that is not a Bundle): kept, with why."""
    LabMessage.objects.filter(pk=message.pk).update(
        status=LabMessage.Status.REFUSED, problems=[p.as_json() for p in problems]
    )
    message.refresh_from_db()
    return FeedOutcome(message=message, problems=list(problems))


def message_answer(*, message: LabMessage, code: str, answer: str) -> None:
    """Keep what was answered (the ACK, the OperationOutcome), to answer a repeat the same."""
    LabMessage.objects.filter(pk=message.pk).update(answer_code=code[:4], answer=answer)


def stored_outcome(message: LabMessage) -> FeedOutcome:
    """The outcome of a message read before, from what was stored then."""
    stored = [FeedProblem(p["where"], p["message"]) for p in message.problems]
    refused = message.status == LabMessage.Status.REFUSED
    return FeedOutcome(
        message=message,
        recorded=message.results_recorded,
        waiting=message.results_waiting,
        problems=stored if refused else [],
        notices=[] if refused else stored,
        repeated=True,
    )


def feed_record(
    *,
    message: LabMessage,
    results: Sequence[FeedResult],
    problems: Sequence[FeedProblem] = (),
    today: date | None = None,
) -> FeedOutcome:
    """Record a read message's results (see the module's docstring), in one transaction with
    the message's status. `problems` are the reader's own (a field it could not read); any
    problem refuses the whole message. A message already read is not read again."""
    with transaction.atomic():
        message = LabMessage.objects.select_for_update().get(pk=message.pk)
        if message.status != LabMessage.Status.RECEIVED:
            return stored_outcome(message)
        clinic = Clinic.objects.get(pk=message.clinic_id)
        connection = message.connection
        today = today or clinic.today()
        matcher = _Matcher(clinic, connection, results)
        found = list(problems)
        to_record: list[tuple[FeedResult, Patient, Analyte]] = []
        waiting: list[WaitingResult] = []
        for result in results:
            problem, patient, analyte, reason = matcher.match(result, today)
            if problem is not None:
                found.append(problem)
            elif reason is not None:
                waiting.append(_waiting(message, clinic, result, analyte, reason))
            else:
                to_record.append((result, patient, analyte))
        outcome = FeedOutcome(message=message, problems=found)
        reports = []
        if not found:
            try:
                outcome.recorded, reports = _record(to_record, today, message)
            except BatchRejected as rejected:
                outcome.problems = _problems_of(rejected, to_record)
        if outcome.problems:
            # The message's results are refused whole; the message and its problems stay.
            transaction.set_rollback(True)
        else:
            WaitingResult.objects.bulk_create(waiting)
            outcome.waiting = len(waiting)
            outcome.notices = [_waiting_problem(w) for w in waiting]
            if reports:
                message.reports.add(*reports)
            # In the same transaction as the results: a message is read once, and a crash
            # before the commit leaves it unread, to be read again when the lab resends it.
            LabMessage.objects.filter(pk=message.pk).update(
                status=LabMessage.Status.WAITING if outcome.waiting else LabMessage.Status.ACCEPTED,
                results_recorded=outcome.recorded,
                results_waiting=outcome.waiting,
                problems=[notice.as_json() for notice in outcome.notices],
            )
    if outcome.problems:
        return message_refuse(message=message, problems=outcome.problems)
    message.refresh_from_db()
    outcome.message = message
    return outcome


class _Matcher:
    """Patients and analytes for a message's results: two queries for all of them."""

    def __init__(self, clinic: Clinic, connection, results: Sequence[FeedResult]):
        self.clinic = clinic
        self.authorities = {clinic_identifier_system(clinic)}
        if connection is not None and connection.assigning_authority:
            self.authorities.add(connection.assigning_authority)
        keys = {hospital_number_key(result.hospital_number) for result in results}
        self.patients = {
            patient.hospital_number_key: patient
            for patient in Patient.objects.filter(clinic=clinic, hospital_number_key__in=keys)
        }
        self.analytes = analytes_by_loinc()
        named = {result.assigning_authority for result in results} - self.authorities - {""}
        self.other_clinics = _other_clinics_by_authority(named, clinic)

    def match(self, result: FeedResult, today: date):
        """(problem, patient, analyte, reason to wait): one of problem or reason, or neither."""
        problem = self._problem(result, today)
        if problem is not None:
            return problem, None, None, None
        analyte = self.analytes.get(result.code.strip())
        patient = None
        if not result.assigning_authority or result.assigning_authority in self.authorities:
            patient = self.patients.get(hospital_number_key(result.hospital_number))
        if patient is None:
            return None, None, analyte, WaitingResult.Reason.UNKNOWN_PATIENT
        if analyte is None:
            return None, patient, None, WaitingResult.Reason.UNKNOWN_CODE
        return None, patient, analyte, None

    def _problem(self, result: FeedResult, today: date) -> FeedProblem | None:
        """Why the result refuses its message, if it does."""
        other_clinic = self.other_clinics.get(result.assigning_authority)
        if other_clinic is not None:
            return FeedProblem(
                result.at("hospital_number"),
                f"The hospital number {result.hospital_number} is issued by {other_clinic}, "
                f"not by {self.clinic.name}; this connection posts only for its own clinic's "
                "patients.",
            )
        if result.status not in STATUSES:
            return FeedProblem(result.position, f"Unknown result status “{result.status}”.")
        where = result.at("sample_collected_on")
        if result.sample_collected_on is None:
            return FeedProblem(where, "The sample time is missing.")
        if result.sample_collected_on > today:
            return FeedProblem(
                where, f"The sample time {result.sample_collected_on:%Y-%m-%d} is in the future."
            )
        return None


def _other_clinics_by_authority(named: set[str], clinic: Clinic) -> dict[str, str]:
    """Of the authorities a message names that are not this clinic's, those of another
    clinic (its FHIR identifier system, or a connection's assigning authority): their names."""
    if not named:
        return {}
    found = {}
    for other in Clinic.objects.exclude(pk=clinic.pk).only("pk", "code", "name"):
        system = clinic_identifier_system(other)
        if system in named:
            found[system] = other.name
    for authority, name in (
        LabConnection.objects.filter(assigning_authority__in=named)
        .exclude(clinic=clinic)
        .values_list("assigning_authority", "clinic__name")
    ):
        found[authority] = name
    return found


def _waiting(message, clinic, result: FeedResult, analyte, reason) -> WaitingResult:
    return WaitingResult(
        message=message,
        clinic=clinic,
        reason=reason,
        position=result.position[:64],
        hospital_number=result.hospital_number[:64],
        assigning_authority=result.assigning_authority[:64],
        patient_name=result.patient_name[:200],
        date_of_birth=result.date_of_birth,
        code=result.code[:32],
        code_display=result.code_display[:200],
        analyte=analyte,
        value=result.value[:64],
        comparator=result.comparator[:2],
        unit=result.unit[:32],
        reference_low=result.reference_low[:32],
        reference_high=result.reference_high[:32],
        result_status=result.status[:12],
        sample_collected_on=result.sample_collected_on,
        lab_reference=result.lab_reference[:64],
        lab_name=result.lab_name[:120],
    )


def _waiting_problem(waiting: WaitingResult) -> FeedProblem:
    if waiting.reason == WaitingResult.Reason.UNKNOWN_PATIENT:
        text = (
            f"No patient of the clinic has the hospital number {waiting.hospital_number}: "
            "the result waits for a person to match it."
        )
    else:
        text = f"The code {waiting.code} is not one the clinic monitors: the result waits."
    return FeedProblem(waiting.position, text)


def _source(message: LabMessage) -> str:
    if message.protocol == LabMessage.Protocol.HL7:
        return LabReport.Source.HL7
    return LabReport.Source.FHIR


def _record(items: list[tuple[FeedResult, Patient, Analyte]], today: date, message: LabMessage):
    """New values through the pipeline as one batch; corrections, finals replacing
    preliminaries and withdrawals as new versions of the results they change."""
    author = system_user(LAB_FEED_USER)
    existing = _existing_results(items)
    new: dict[tuple, list[tuple[FeedResult, Analyte]]] = defaultdict(list)
    changes = []
    for result, patient, analyte in items:
        earlier = existing.get(_result_key(patient.pk, analyte.pk, result))
        if result.status == ENTERED_IN_ERROR:
            if earlier is not None:
                changes.append(("error", result, earlier))
            continue
        if earlier is not None:
            if _same_value(earlier, result):
                continue  # the same value sent again: stored already
            changes.append(("correct", result, earlier))
            continue
        group = (patient.pk, analyte.panel, result.sample_collected_on, result.lab_reference)
        new[group].append((result, analyte, patient))
    reports = [
        ReportToRecord(
            key=entries[0][0].position,
            patient=entries[0][2],
            panel=panel,
            sample_collected_on=sample,
            reported_on=entries[0][0].reported_on,
            lab_name=entries[0][0].lab_name,
            lab_reference=reference,
            entries=[
                ResultInput(
                    analyte=analyte,
                    value=result.value,
                    unit=result.unit,
                    reference_low=result.reference_low,
                    reference_high=result.reference_high,
                    comparator=result.comparator,
                    status=_stored_status(result.status),
                    code=result.code.strip(),
                )
                for result, analyte, _ in entries
            ],
        )
        for (_, panel, sample, reference), entries in new.items()
    ]
    stored = [
        recorded.report
        for recorded in reports_record(
            reports=reports, entered_by=author, source=_source(message), today=today
        )
    ]
    problems: dict[str, dict[str, list[str]]] = {}
    for kind, result, earlier in changes:
        # Where it came from, so the result's history says which message changed it.
        sent_in = f"{message} ({result.position})"
        reason = (
            f"The lab withdrew it (entered in error) in {sent_in}"
            if kind == "error"
            else f"The lab sent a {_change_word(result, earlier)} value in {sent_in}"
        )
        try:
            if kind == "error":
                result_mark_in_error(result=earlier, reason=reason, marked_by=author)
            else:
                result_correct(
                    result=earlier,
                    value=result.value,
                    unit=result.unit,
                    reason=reason,
                    corrected_by=author,
                    reference_low=result.reference_low,
                    reference_high=result.reference_high,
                    comparator=result.comparator,
                    status=_stored_status(result.status),
                )
        except ValidationError as error:
            problems[result.position] = error.message_dict
    if problems:
        raise BatchRejected(problems)
    recorded = sum(len(report.entries) for report in reports) + len(changes)
    return recorded, stored


def _stored_status(status: str) -> str:
    return {PRELIMINARY: ResultStatus.PRELIMINARY, CORRECTED: ResultStatus.CORRECTED}.get(
        status, ResultStatus.FINAL
    )


def _change_word(result: FeedResult, earlier: LabResult) -> str:
    if result.status == CORRECTED:
        return "corrected"
    if earlier.status == ResultStatus.PRELIMINARY and result.status == FINAL:
        return "final"
    return "new"


def _result_key(patient_id: int, analyte_id: int, result: FeedResult) -> tuple:
    return (patient_id, analyte_id, result.sample_collected_on, result.lab_reference)


def _existing_results(items) -> dict[tuple, LabResult]:
    """The current results these may correct: same patient, analyte, sample day and lab
    reference. One query."""
    if not items:
        return {}
    patients = {patient.pk for _, patient, _ in items}
    analytes = {analyte.pk for _, _, analyte in items}
    days = {result.sample_collected_on for result, _, _ in items}
    found = {}
    for earlier in (
        LabResult.objects.current()
        .filter(patient_id__in=patients, analyte_id__in=analytes, sample_collected_on__in=days)
        .select_related("analyte", "report")
        .order_by("pk")
    ):
        key = (
            earlier.patient_id,
            earlier.analyte_id,
            earlier.sample_collected_on,
            earlier.report.lab_reference,
        )
        found[key] = earlier
    return found


def _same_value(earlier: LabResult, result: FeedResult) -> bool:
    wanted = ResultStatus.PRELIMINARY if result.status == PRELIMINARY else None
    if wanted is None and earlier.status == ResultStatus.PRELIMINARY:
        return False  # the final value replaces the preliminary one, even if equal
    return (
        earlier.value_text == result.value.strip()
        and earlier.unit == result.unit.strip()
        and earlier.comparator == COMPARATOR_SPELLINGS.get(result.comparator, result.comparator)
    )


# How a feed may write a bound that is stored as "<=" or ">=".
COMPARATOR_SPELLINGS = {"≤": "<=", "≥": ">=", "=<": "<=", "=>": ">="}


def _problems_of(rejected: BatchRejected, items) -> list[FeedProblem]:
    """The pipeline's problems named by where they are in the message. A report's key is the
    position of its first result; its fields are "<analyte code>" (the value),
    "<analyte code>_unit" (or _reference_low, _reference_high) or a report field."""
    firsts = {result.position: result for result, _, _ in items}
    problems = []
    for key, fields in rejected.problems.items():
        first = firsts.get(key)
        for name, messages in fields.items():
            where = _where(first, name, items) if first is not None else key
            problems.extend(FeedProblem(where, message) for message in messages)
    return problems


def _where(first: FeedResult, name: str, items) -> str:
    same_report = [
        (result, analyte)
        for result, _, analyte in items
        if (result.lab_reference, result.sample_collected_on, analyte.panel)
        == (first.lab_reference, first.sample_collected_on, _panel_of(first, items))
    ]
    for result, analyte in same_report:
        if name == analyte.code:
            return result.at("value")
        if name.startswith(f"{analyte.code}_"):
            return result.at(name.removeprefix(f"{analyte.code}_"))
    return first.at(name)


def _panel_of(first: FeedResult, items) -> str:
    return next(analyte.panel for result, _, analyte in items if result is first)
