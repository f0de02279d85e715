"""Reading what a lab posts: a Bundle (transaction or collection) of a DiagnosticReport and
its Observations, or one Observation, into the FeedResults every feed hands to
labfeeds.intake. Validated first with fhir.resources' R4B models (FHIR 4.3: the package has no
plain R4 one; Bundle, DiagnosticReport, Observation and Patient are the same in R4 for every
element read here), so a body that is not FHIR is refused naming the element.

Each FeedResult says where each of its fields was in the body ("Bundle.entry[2].resource.
valueQuantity.unit"), so a problem the intake finds later (a unit the analyte does not take)
names the element too. Nothing is guessed: a code that is not LOINC is kept as sent
("system|code", which matches no analyte) and waits for a person; a unit is read from the
Quantity's UCUM code or its text, never inferred from the value."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.observation import Observation
from pydantic import ValidationError

from labfeeds.intake import (
    CORRECTED,
    ENTERED_IN_ERROR,
    FINAL,
    PRELIMINARY,
    FeedProblem,
    FeedResult,
    clinic_identifier_system,
)
from monitoring.domain.input_rules import control_characters
from patients.models import Clinic, Patient

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
BUNDLE_TYPES = ("transaction", "collection")

# Observation.status -> the intake's status. registered, cancelled and unknown carry no
# result to record: refused, naming the status.
STATUSES = {
    "final": FINAL,
    "amended": CORRECTED,
    "corrected": CORRECTED,
    "preliminary": PRELIMINARY,
    "entered-in-error": ENTERED_IN_ERROR,
}
COMPARATORS = ("<", "<=", ">", ">=")

# The UCUM codes of the catalogue's units (docs/clinical-reference.md section 4), as a lab's
# system sends them in Quantity.code, and the catalogue's spelling of each. The same numbers:
# a name translated, never a value converted. m[IU]/L is TSH's milli-international unit, which
# the catalogue writes mU/L.
UCUM_TO_CATALOGUE = {
    "10*9/L": "10^9/L",
    "10*3/uL": "10^3/uL",
    "u[IU]/mL": "uIU/mL",
    "m[IU]/L": "mU/L",
    "/[HPF]": "/hpf",
}

# Resources a Bundle may carry. Those read: the report, its results, the patient they are
# about. The others are what a lab's system often sends beside them; checked, not read.
READ_TYPES = ("DiagnosticReport", "Observation", "Patient")
CARRIED_TYPES = ("Specimen", "Organization", "Practitioner", "PractitionerRole", "ServiceRequest")

# A sample time a little ahead of the clinic's clock is a lab's clock running fast.
CLOCK_TOLERANCE = timedelta(minutes=5)
CONTROL_ID_MAX = 64  # LabMessage.control_id
LAB_REFERENCE_MAX = 64  # LabReport.lab_reference


@dataclass(frozen=True)
class PostedEntry:
    """One entry of what was posted, for the answer: one response entry per posted entry."""

    position: str  # "Bundle.entry[2]", or "Observation" for a single one
    resource_type: str
    full_url: str = ""
    is_result: bool = False  # an Observation read into a FeedResult (its position is its key)


@dataclass
class Posted:
    """What a body held: its results for the intake, or the problems that refuse it whole."""

    kind: str  # "Bundle" or "Observation"
    entries: list[PostedEntry] = field(default_factory=list)
    results: list[FeedResult] = field(default_factory=list)
    problems: list[FeedProblem] = field(default_factory=list)
    # True when the problems are the models' (not FHIR at all: HTTP 400, not 422).
    invalid: bool = False


class BodyError(ValueError):
    """The body is not JSON, or not a FHIR resource at all."""

    def __init__(self, problem: FeedProblem):
        super().__init__(problem.message)
        self.problem = problem


def body_json(raw: bytes) -> dict:
    """The body as a JSON object, numbers kept as written (5.10 stays 5.10). BodyError names
    what is wrong: not UTF-8, not JSON (with the line and column), not an object."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise BodyError(
            FeedProblem("body", f"The body is not UTF-8 text (byte {error.start}).")
        ) from error
    try:
        data = json.loads(text, parse_float=Decimal, parse_constant=_no_constant)
    except json.JSONDecodeError as error:
        raise BodyError(
            FeedProblem(
                "body",
                f"The body is not valid JSON: {error.msg} at line {error.lineno}, "
                f"column {error.colno}.",
            )
        ) from error
    except (ValueError, RecursionError) as error:
        raise BodyError(FeedProblem("body", f"The body is not valid JSON: {error}.")) from error
    if not isinstance(data, dict) or not isinstance(data.get("resourceType"), str):
        raise BodyError(
            FeedProblem("resourceType", "The body is not a FHIR resource: no resourceType.")
        )
    return data


def _no_constant(name: str):
    raise ValueError(f"{name} is not a JSON number")


def control_id_of(data: Mapping) -> str:
    """The message's control ID, from the body as sent (before it is validated, so a repeat of
    a refused body finds the refusal): Bundle.identifier (with its system), else the Bundle's
    id; for a single Observation its first identifier, else its id. Empty: nothing names the
    message, so it cannot be recognised when sent again."""
    kind = data.get("resourceType")
    identifier = data.get("identifier")
    if kind == "Observation" and isinstance(identifier, list):
        identifier = identifier[0] if identifier else None
    if isinstance(identifier, dict) and _text(identifier.get("value")):
        system = _text(identifier.get("system"))
        value = _text(identifier.get("value"))
        return _bounded(f"{kind}:{system}|{value}" if system else f"{kind}:{value}")
    if _text(data.get("id")):
        return _bounded(f"{kind}/{_text(data['id'])}")
    return ""


def _bounded(control_id: str) -> str:
    # Cut, two long identifiers that share their first 64 characters would be one message.
    if len(control_id) <= CONTROL_ID_MAX:
        return control_id
    return "sha256:" + hashlib.sha256(control_id.encode()).hexdigest()[: CONTROL_ID_MAX - 7]


def posted_read(data: dict, *, clinic: Clinic, now: datetime) -> Posted:
    """Read a parsed body: a Bundle or a single Observation."""
    kind = data["resourceType"]
    if kind not in ("Bundle", "Observation"):
        return Posted(
            kind=kind,
            problems=[
                FeedProblem(
                    "resourceType",
                    f"A {kind} is not read here: post a Bundle (transaction or collection) "
                    "of a DiagnosticReport and its Observations, or one Observation.",
                )
            ],
            invalid=True,
        )
    posted = Posted(kind=kind)
    posted.problems = _text_problems(data, kind)
    if kind == "Bundle":
        posted.problems += _bundle_shape_problems(data)
    if posted.problems:
        posted.invalid = True
        return posted
    try:
        model = (Bundle if kind == "Bundle" else Observation).model_validate(data)
    except ValidationError as error:
        posted.problems = _validation_problems(error, kind)
        posted.invalid = True
        return posted
    except (KeyError, TypeError, AttributeError) as error:
        # The models fail so on a contained resource of an unknown type, naming nothing.
        posted.problems = [FeedProblem(kind, f"Not a valid FHIR R4 {kind} ({error!r}).")]
        posted.invalid = True
        return posted
    reader = _Reader(clinic, now)
    if kind == "Bundle":
        reader.read_bundle(model, posted)
    else:
        posted.entries.append(PostedEntry("Observation", "Observation", is_result=True))
        reader.read_observations([(model, "Observation", None)], posted)
    return posted


def posted_entries(data: Mapping | None) -> list[PostedEntry]:
    """The entries of a body as sent, unread: what the answer to a repeat lists."""
    if not data or data.get("resourceType") != "Bundle":
        return [PostedEntry("Observation", "Observation", is_result=True)]
    entries = []
    for index, entry in enumerate(data.get("entry") or []):
        entry = entry if isinstance(entry, dict) else {}
        resource = entry.get("resource") if isinstance(entry.get("resource"), dict) else {}
        kind = _text(resource.get("resourceType"))
        entries.append(
            PostedEntry(
                f"Bundle.entry[{index}]",
                kind,
                _text(entry.get("fullUrl")),
                is_result=kind == "Observation",
            )
        )
    return entries


def _text_problems(data, root: str) -> list[FeedProblem]:
    """Control characters (a NUL cannot even be stored) in any string, by element."""
    problems = []
    stack = [(data, root)]
    while stack and len(problems) < 20:
        value, path = stack.pop()
        if isinstance(value, dict):
            stack.extend((item, f"{path}.{key}") for key, item in value.items())
        elif isinstance(value, list):
            stack.extend((item, f"{path}[{index}]") for index, item in enumerate(value))
        elif isinstance(value, str) and (found := control_characters(value, multi_line=True)):
            problems.append(
                FeedProblem(path, f"Control characters ({', '.join(found)}) are not text.")
            )
    return problems


def _bundle_shape_problems(data: dict) -> list[FeedProblem]:
    """What the models cannot say well: a Bundle type not taken, an entry of a resource type
    not read (the models fail on an unknown one with no location at all)."""
    problems = []
    if data.get("type") not in BUNDLE_TYPES:
        problems.append(
            FeedProblem(
                "Bundle.type",
                f"A Bundle of type “{data.get('type')}” is not taken: send a transaction or "
                "a collection.",
            )
        )
    entries = data.get("entry")
    if not isinstance(entries, list) or not entries:
        problems.append(FeedProblem("Bundle.entry", "The Bundle has no entries."))
        return problems
    for index, entry in enumerate(entries):
        where = f"Bundle.entry[{index}]"
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict):
            problems.append(FeedProblem(f"{where}.resource", "The entry has no resource."))
            continue
        kind = resource.get("resourceType")
        if kind not in READ_TYPES + CARRIED_TYPES:
            problems.append(
                FeedProblem(
                    f"{where}.resource.resourceType",
                    f"A {kind or 'resource without a resourceType'} is not taken here "
                    f"(taken: {', '.join(READ_TYPES + CARRIED_TYPES)}).",
                )
            )
    return problems


def _validation_problems(error: ValidationError, root: str) -> list[FeedProblem]:
    problems = []
    for item in error.errors():
        path = root
        for part in item["loc"]:
            if isinstance(part, int):
                path += f"[{part}]"
            else:
                name = str(part)
                name = "resourceType" if name == "resource_type" else name
                if name.endswith("__ext"):
                    name = "_" + name.removesuffix("__ext")
                path += f".{name}"
        message = str(item["msg"]).removeprefix("Value error, ")
        message = " ".join(message.split())  # the models' messages are wrapped
        if item["type"] == "extra_forbidden":
            message = "Not an element of this resource in FHIR R4."
        got = item.get("input")
        if isinstance(got, (str, int, float, Decimal, bool)) and item["type"] != "missing":
            message += f" (got {json.dumps(got, default=str)[:60]})"
        problems.append(FeedProblem(path, message))
    return problems


class _Reader:
    """Turns validated resources into FeedResults. One query at most: the patients that
    literal references ("Patient/12") name."""

    def __init__(self, clinic: Clinic, now: datetime):
        self.clinic = clinic
        self.now = now
        self.our_system = clinic_identifier_system(clinic)
        # A Bundle's entries by fullUrl and by "Type/id": what references resolve to.
        self.entries: dict[str, tuple] = {}

    def read_bundle(self, bundle: Bundle, posted: Posted) -> None:
        by_url: dict[str, int] = {}
        resources = []
        for index, entry in enumerate(bundle.entry):
            resource = entry.resource
            kind = resource.get_resource_type()
            position = f"Bundle.entry[{index}]"
            resources.append((resource, position))
            posted.entries.append(
                PostedEntry(position, kind, entry.fullUrl or "", is_result=kind == "Observation")
            )
            for url in (entry.fullUrl, f"{kind}/{resource.id}" if resource.id else None):
                if url:
                    by_url.setdefault(url, index)
        # Each Observation's report: the DiagnosticReport whose result[] names it.
        report_of: dict[int, tuple] = {}
        for resource, position in resources:
            if resource.get_resource_type() != "DiagnosticReport":
                continue
            for number, reference in enumerate(resource.result or []):
                where = f"{position}.resource.result[{number}].reference"
                index = by_url.get(reference.reference or "")
                if index is None or resources[index][0].get_resource_type() != "Observation":
                    posted.problems.append(
                        FeedProblem(
                            where,
                            f"“{reference.reference}” is no Observation entry of this Bundle "
                            "(give its fullUrl, urn:uuid:..., or Observation/<id>).",
                        )
                    )
                    continue
                report_of.setdefault(index, (resource, position))
        self.entries = {url: resources[index] for url, index in by_url.items()}
        observations = [
            (resource, position, report_of.get(index))
            for index, (resource, position) in enumerate(resources)
            if resource.get_resource_type() == "Observation"
        ]
        if not observations:
            posted.problems.append(FeedProblem("Bundle.entry", "The Bundle has no Observation."))
            return
        self.read_observations(observations, posted)

    def read_observations(self, with_reports, posted: Posted) -> None:
        """Each (Observation, its position, (its DiagnosticReport, its position) or None)."""
        self.literal_patients = self._literal_patients(with_reports)
        for observation, position, report in with_reports:
            if observation.hasMember and _value_element(observation) is None:
                continue  # a panel's heading, grouping results that are entries of their own
            result, problems = self._result(observation, position, report)
            posted.problems.extend(problems)
            if result is not None:
                posted.results.append(result)

    def _literal_patients(self, with_reports) -> dict[str, Patient]:
        """Our patients named by a literal reference "Patient/<our id>", in the clinic."""
        ids = set()
        for observation, _, report in with_reports:
            for subject in (observation.subject, report[0].subject if report else None):
                reference = (subject.reference or "") if subject else ""
                if reference.startswith("Patient/") and reference not in self.entries:
                    number = reference.removeprefix("Patient/")
                    if number.isdigit() and len(number) < 19:
                        ids.add(int(number))
        if not ids:
            return {}
        return {
            f"Patient/{patient.pk}": patient
            for patient in Patient.objects.filter(clinic=self.clinic, pk__in=ids)
        }

    def _result(self, observation, position: str, report) -> tuple[FeedResult | None, list]:
        # A Bundle's Observation is at "Bundle.entry[2].resource"; one posted alone is the root.
        at = f"{position}.resource" if position.startswith("Bundle.") else position
        report_resource, report_position = report if report else (None, "")
        report_at = f"{report_position}.resource"
        problems: list[FeedProblem] = []
        where: dict[str, str] = {"status": f"{at}.status"}

        status = STATUSES.get(observation.status)
        if status is None:
            problems.append(
                FeedProblem(
                    f"{at}.status",
                    f"An Observation of status “{observation.status}” has no result to record "
                    "(taken: final, amended, corrected, preliminary, entered-in-error).",
                )
            )

        code, code_display, where["code"] = self._code(observation, at)

        value, comparator, unit = "", "", ""
        if status != ENTERED_IN_ERROR:
            read = self._value(observation, at, problems)
            if read is not None:
                value, comparator, unit, where["value"], where["unit"] = read

        subject, subject_at = observation.subject, f"{at}.subject"
        if subject is None and report_resource is not None:
            subject, subject_at = report_resource.subject, f"{report_at}.subject"
        patient = self._subject(subject, subject_at, problems)
        hospital_number, authority, name, born, where["hospital_number"] = patient

        sample, where["sample_collected_on"] = self._effective(
            observation, at, report_resource, report_at, problems
        )

        low, high = self._range(observation, at, unit, where, problems)

        lab_reference, where["lab_reference"] = (
            _reference_of(report_resource, report_at)
            or _reference_of(observation, at)
            or ("", f"{at}.identifier")
        )
        if len(lab_reference) > LAB_REFERENCE_MAX:
            problems.append(
                FeedProblem(
                    where["lab_reference"],
                    f"The lab's reference has at most {LAB_REFERENCE_MAX} characters.",
                )
            )
        lab_name, where["lab_name"] = _performer(observation, at, self.entries)
        if not lab_name and report_resource is not None:
            lab_name, where["lab_name"] = _performer(report_resource, report_at, self.entries)
        issued = observation.issued or (report_resource.issued if report_resource else None)

        if problems:
            return None, problems
        return (
            FeedResult(
                position=position,
                hospital_number=hospital_number,
                code=code,
                value=value,
                sample_collected_on=sample,
                status=status,
                comparator=comparator,
                unit=unit,
                reference_low=low,
                reference_high=high,
                assigning_authority=authority,
                patient_name=name,
                date_of_birth=born,
                code_display=code_display,
                lab_reference=lab_reference,
                lab_name=lab_name[:120],
                reported_on=self._local_date(issued) if issued else None,
                where=where,
            ),
            [],
        )

    def _code(self, observation, at: str) -> tuple[str, str, str]:
        """The LOINC code, or the first code of another system as "system|code" (it matches
        no analyte, so the result waits for a person), or nothing but the text."""
        concept = observation.code
        codings = concept.coding or []
        for number, coding in enumerate(codings):
            if coding.system == LOINC and coding.code:
                display = coding.display or concept.text or ""
                return coding.code.strip(), display, f"{at}.code.coding[{number}].code"
        for number, coding in enumerate(codings):
            if coding.code:
                sent = f"{coding.system or ''}|{coding.code}"
                display = f"{coding.display or concept.text or ''} [{sent}]".strip()
                return sent, display, f"{at}.code.coding[{number}].code"
        return "", concept.text or "", f"{at}.code"

    def _value(self, observation, at: str, problems: list) -> tuple | None:
        """(value, comparator, unit, where the value is, where the unit is)."""
        quantity = observation.valueQuantity
        if quantity is not None:
            where = f"{at}.valueQuantity"
            if quantity.value is None:
                problems.append(FeedProblem(f"{where}.value", "The Quantity has no value."))
                return None
            comparator = quantity.comparator or ""
            if comparator and comparator not in COMPARATORS:
                problems.append(
                    FeedProblem(
                        f"{where}.comparator",
                        f"The comparator “{comparator}” is not taken (<, <=, >, >=).",
                    )
                )
                return None
            unit, unit_at = _unit(quantity, where)
            return format(quantity.value, "f"), comparator, unit, f"{where}.value", unit_at
        concept = observation.valueCodeableConcept
        if concept is not None:
            # A dipstick grade: "negative", "trace", "1+"... as text, display or code.
            where = f"{at}.valueCodeableConcept"
            if concept.text:
                return concept.text.strip(), "", "", f"{where}.text", f"{where}.text"
            for number, coding in enumerate(concept.coding or []):
                for name in ("display", "code"):
                    if text := getattr(coding, name):
                        spot = f"{where}.coding[{number}].{name}"
                        return text.strip(), "", "", spot, spot
            problems.append(FeedProblem(where, "The CodeableConcept has no text or code."))
            return None
        if observation.valueString is not None:
            where = f"{at}.valueString"
            return observation.valueString.strip(), "", "", where, where
        if observation.valueInteger is not None:
            where = f"{at}.valueInteger"
            return str(observation.valueInteger), "", "", where, where
        other = _value_element(observation)
        if other is not None:
            problems.append(
                FeedProblem(
                    f"{at}.{other}",
                    f"A {other} is not read: send valueQuantity, or valueCodeableConcept or "
                    "valueString for a dipstick grade.",
                )
            )
            return None
        absent = observation.dataAbsentReason
        reason = f" (dataAbsentReason: {absent.text or _first_code(absent)})" if absent else ""
        problems.append(FeedProblem(f"{at}.value[x]", f"The Observation has no value{reason}."))
        return None

    def _subject(self, subject, at: str, problems: list) -> tuple:
        """(hospital number, its authority, name, birth date, where): from the Reference's
        identifier, a Patient entry of the Bundle, or a literal reference to one of ours."""
        if subject is None:
            problems.append(FeedProblem(at, "The Observation has no subject (the patient)."))
            return "", "", "", None, at
        identifier = subject.identifier
        if identifier is not None and identifier.value:
            return identifier.value.strip(), identifier.system or "", "", None, f"{at}.identifier"
        reference = subject.reference or ""
        entry = self.entries.get(reference)
        if entry is not None and entry[0].get_resource_type() == "Patient":
            return self._patient_entry(*entry, problems)
        if reference in self.literal_patients:
            patient = self.literal_patients[reference]
            return (
                patient.hospital_number,
                self.our_system,
                "",
                None,
                f"{at}.reference",
            )
        problems.append(
            FeedProblem(
                f"{at}.reference" if reference else at,
                f"“{reference}” is neither a Patient entry of this Bundle nor a patient of "
                f"{self.clinic.name}: name the patient by identifier (system and value)."
                if reference
                else "Name the patient by identifier (system and value).",
            )
        )
        return "", "", "", None, at

    def _patient_entry(self, patient, position: str, problems: list) -> tuple:
        at = f"{position}.resource"
        identifiers = [i for i in patient.identifier or [] if i.value]
        if not identifiers:
            problems.append(
                FeedProblem(f"{at}.identifier", "The Patient has no identifier with a value.")
            )
            return "", "", "", None, f"{at}.identifier"
        # Ours first (the clinic's hospital numbers), else the first the lab gave.
        number, identifier = next(
            ((n, i) for n, i in enumerate(identifiers) if i.system == self.our_system),
            (0, identifiers[0]),
        )
        name = ""
        if patient.name:
            first = patient.name[0]
            name = first.text or " ".join([*(first.given or []), first.family or ""]).strip()
        born = patient.birthDate if isinstance(patient.birthDate, date) else None
        return (
            identifier.value.strip(),
            identifier.system or "",
            name,
            born,
            f"{at}.identifier[{number}].value",
        )

    def _effective(self, observation, at, report, report_at, problems) -> tuple:
        """The sample day in the clinic's time zone, and where it was given."""
        for resource, base in ((observation, at), (report, report_at)):
            if resource is None:
                continue
            for name, value in (
                ("effectiveDateTime", resource.effectiveDateTime),
                ("effectiveInstant", getattr(resource, "effectiveInstant", None)),
                (
                    "effectivePeriod.start",
                    resource.effectivePeriod.start if resource.effectivePeriod else None,
                ),
            ):
                if value is None:
                    continue
                where = f"{base}.{name}"
                if isinstance(value, datetime):
                    if value > self.now + CLOCK_TOLERANCE:
                        problems.append(
                            FeedProblem(
                                where, f"The sample time {value.isoformat()} is in the future."
                            )
                        )
                    return self._local_date(value), where
                if isinstance(value, date):
                    return value, where  # the intake refuses a day after the clinic's today
                problems.append(
                    FeedProblem(where, f"The sample time “{value}” needs a day, not only a month.")
                )
                return None, where
        where = f"{at}.effectiveDateTime"
        problems.append(FeedProblem(where, "The Observation has no sample time (effective[x])."))
        return None, where

    def _range(self, observation, at, unit, where, problems) -> tuple[str, str]:
        ranges = observation.referenceRange or []
        if not ranges:
            return "", ""
        limits = []
        for name in ("low", "high"):
            quantity = getattr(ranges[0], name)
            spot = f"{at}.referenceRange[0].{name}"
            where[f"reference_{name}"] = f"{spot}.value"
            if quantity is None or quantity.value is None:
                limits.append("")
                continue
            limit_unit, limit_at = _unit(quantity, spot)
            if limit_unit and unit and _plain(limit_unit) != _plain(unit):
                problems.append(
                    FeedProblem(
                        limit_at,
                        f"The reference range is in {limit_unit}, the value in {unit}: give "
                        "both in the same unit.",
                    )
                )
            limits.append(format(quantity.value, "f"))
        return limits[0], limits[1]

    def _local_date(self, moment) -> date:
        if isinstance(moment, datetime):
            return moment.astimezone(self.clinic.zone).date()
        return moment


def _unit(quantity, where: str) -> tuple[str, str]:
    """The unit in the catalogue's spelling, and where it was: the UCUM code when it names one
    of the catalogue's units, else the text, else the code as it is."""
    code = (quantity.code or "").strip()
    text = (quantity.unit or "").strip()
    if code and quantity.system == UCUM and code in UCUM_TO_CATALOGUE:
        return UCUM_TO_CATALOGUE[code], f"{where}.code"
    if text:
        return UCUM_TO_CATALOGUE.get(text, text), f"{where}.unit"
    if code:
        return UCUM_TO_CATALOGUE.get(code, code), f"{where}.code"
    return "", f"{where}.unit"


def _plain(unit: str) -> str:
    return unit.replace(" ", "").replace("µ", "u").replace("μ", "u").lower()


def _value_element(observation) -> str | None:
    for name in (
        "valueQuantity",
        "valueCodeableConcept",
        "valueString",
        "valueInteger",
        "valueBoolean",
        "valueRange",
        "valueRatio",
        "valueSampledData",
        "valueTime",
        "valueDateTime",
        "valuePeriod",
    ):
        if getattr(observation, name, None) is not None:
            return name
    return None


def _first_code(concept) -> str:
    return next((c.code for c in concept.coding or [] if c.code), "")


def _reference_of(resource, at: str) -> tuple[str, str] | None:
    """The lab's number for a report or result: its first identifier's value, else its id."""
    if resource is None:
        return None
    for number, identifier in enumerate(resource.identifier or []):
        if identifier.value:
            return identifier.value.strip(), f"{at}.identifier[{number}].value"
    if resource.id:
        return resource.id, f"{at}.id"
    return None


def _performer(resource, at: str, entries) -> tuple[str, str]:
    """The lab's name: the first performer's display, or the name of the Organization entry
    it references."""
    for number, reference in enumerate(resource.performer or []):
        spot = f"{at}.performer[{number}]"
        if reference.display:
            return reference.display.strip(), f"{spot}.display"
        entry = entries.get(reference.reference or "")
        if entry is not None and getattr(entry[0], "name", None):
            name = entry[0].name
            return (name if isinstance(name, str) else ""), f"{entry[1]}.resource.name"
    return "", f"{at}.performer"


def _text(value) -> str:
    return value.strip() if isinstance(value, str) else ""
