"""The FHIR R4 endpoint's views: thin, as every view here. Who is asking (labfeeds.fhir.auth),
then the reader (posts) or the resources (reads); every answer is application/fhir+json, an
OperationOutcome when something is refused.

A post is stored as received before it is read (labfeeds.intake.message_receive), so these
views run outside the request's transaction (non_atomic_requests): the message is kept even
if reading it fails, and the lab is answered only after its results have committed."""

from __future__ import annotations

import re
from datetime import date, timedelta
from functools import wraps

from django.conf import settings
from django.db import transaction
from django.http import HttpResponse
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from audit.access import record_access
from labfeeds.codes import analytes_by_loinc
from labfeeds.fhir.auth import LAB, reader_for, token_for
from labfeeds.fhir.document import monitoring_document
from labfeeds.fhir.outcomes import (
    ERROR,
    INFORMATION,
    WARNING,
    Issue,
    error_outcome,
    fhir_json,
    operation_outcome,
)
from labfeeds.fhir.reading import (
    LOINC,
    BodyError,
    body_json,
    control_id_of,
    posted_entries,
    posted_read,
)
from labfeeds.fhir.resources import (
    ObservationSearch,
    care_plan_checks,
    care_plan_resource,
    observation_in,
    observation_resource,
    observations_found,
    patient_resource,
)
from labfeeds.intake import (
    FeedProblem,
    feed_record,
    message_answer,
    message_receive,
    message_refuse,
    stored_outcome,
)
from labfeeds.models import LabMessage
from patients.access import access_refused
from reports.record.selectors import monitoring_record

FHIR_JSON = "application/fhir+json"
ACCEPTED_TYPES = ("application/fhir+json", "application/json")
PAGE_SIZE, PAGE_SIZE_MAX = 50, 200
DATE_PARAMETER = re.compile(r"^(eq|ge|le|gt|lt)?([0-9]{4}-[0-9]{2}-[0-9]{2})$")


def fhir_response(data: dict, status: int = 200, **headers) -> HttpResponse:
    response = HttpResponse(
        fhir_json(data), status=status, content_type=f"{FHIR_JSON}; charset=utf-8"
    )
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


def _unauthorised(what: str) -> HttpResponse:
    return fhir_response(
        error_outcome("login", what),
        401,
        WWW_Authenticate='Bearer realm="fhir", error="invalid_token"',
    )


def _method_not_allowed(request, allowed: str) -> HttpResponse:
    return fhir_response(
        error_outcome("not-supported", f"{request.method} is not taken here; use {allowed}."),
        405,
        Allow=allowed,
    )


# -- Posting results -------------------------------------------------------------------------


@csrf_exempt  # a token, not a cookie: nothing a browser could be tricked into sending
@transaction.non_atomic_requests
def base_view(request):
    """POST /fhir/r4/: a Bundle (transaction or collection) of results."""
    if request.method != "POST":
        return _method_not_allowed(request, "POST")
    return _results_post(request, expected="Bundle")


@csrf_exempt
@transaction.non_atomic_requests
def observation_type_view(request):
    """POST /fhir/r4/Observation: one result. GET: the search of a patient's results."""
    if request.method == "POST":
        return _results_post(request, expected="Observation")
    if request.method in ("GET", "HEAD"):
        with transaction.atomic():
            return _observation_search(request)
    return _method_not_allowed(request, "GET, POST")


def _results_post(request, *, expected: str) -> HttpResponse:
    limit = settings.FHIR_MAX_BODY_BYTES
    too_big = error_outcome(
        "too-long", f"The body is over {limit} bytes: send the results in smaller Bundles."
    )
    try:
        declared = int(request.headers.get("Content-Length") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        return fhir_response(too_big, 413)
    token = token_for(request, scope=LAB)
    if token is None:
        return _unauthorised("Send a live lab token: Authorization: Bearer <token>.")
    content_type = (request.content_type or "").lower()
    if content_type not in ACCEPTED_TYPES:
        return fhir_response(
            error_outcome(
                "not-supported",
                f"Send {FHIR_JSON} (or application/json), not “{content_type}”.",
            ),
            415,
        )
    # Read from the stream, not request.body: the body may be larger than Django's limit for
    # form data, and its size is checked here against the endpoint's own.
    raw = request.read(limit + 1)
    if len(raw) > limit:
        return fhir_response(too_big, 413)
    data, problem = None, None
    try:
        data = body_json(raw)
    except BodyError as error:
        problem = error.problem
    # Stored as text; a NUL cannot be (PostgreSQL), and the body is refused for it anyway.
    text = raw.decode("utf-8", errors="replace").replace("\x00", "\ufffd")
    message, new = message_receive(
        protocol=LabMessage.Protocol.FHIR,
        raw=text,
        connection=token.connection,
        clinic=token.clinic,
        control_id=control_id_of(data) if data else "",
        message_type=data["resourceType"] if data else "",
    )
    if not new and message.raw and message.raw != text:
        return _conflict(message, data)
    if not new and message.status != LabMessage.Status.RECEIVED:
        return _repeated(message, data)
    if problem is None and data["resourceType"] != expected:
        where = "Bundle" if expected == "Bundle" else "Observation"
        problem = FeedProblem(
            "resourceType",
            f"This address takes a {where}, not a {data['resourceType']}: post a Bundle to "
            f"{reverse('fhir:base')}, one Observation to {reverse('fhir:observations')}.",
        )
    if problem is not None:
        message_refuse(message=message, problems=[problem])
        return _answered(message, error_outcome("invalid", problem.message, problem.where), 400)
    posted = posted_read(data, clinic=token.clinic, now=timezone.now())
    if posted.problems:
        message_refuse(message=message, problems=posted.problems)
        status = 400 if posted.invalid else 422
        return _answered(message, _refusal(posted.problems, posted.invalid), status)
    outcome = feed_record(message=message, results=posted.results)
    if outcome.repeated:  # another request read it first
        return _repeated(outcome.message, data)
    if outcome.refused:
        return _answered(message, _refusal(outcome.problems, False), 422)
    body, status = _accepted(posted.kind, posted.entries, outcome.message, repeated=False)
    return _answered(message, body, status)


def _answered(message: LabMessage, body: dict, status: int) -> HttpResponse:
    """Keep the answer with the message (a repeat is answered from it), then send it."""
    message_answer(message=message, code=str(status), answer=fhir_json(body))
    return fhir_response(body, status)


def _refusal(problems, invalid: bool) -> dict:
    code = "structure" if invalid else "processing"
    issues = [Issue(ERROR, code, p.message, p.where) for p in problems]
    issues.append(
        Issue(
            INFORMATION,
            "informational",
            "Nothing of this body was recorded: correct it and post it whole again.",
        )
    )
    return operation_outcome(issues)


def _accepted(kind: str, entries, message: LabMessage, *, repeated: bool) -> tuple[dict, int]:
    """The answer to an accepted post: for a Bundle a transaction-response, one entry per
    posted entry ("201 Created" a report or result recorded, "202 Accepted" a result waiting
    for a person, "200 OK" read before, or read but not stored: a Patient, a Specimen); for
    one Observation an OperationOutcome. What waits is a warning; what concerns the whole
    post (no control ID, a repeat) is information on the first entry."""
    waiting = {p["where"]: p["message"] for p in message.problems}
    notes = []
    if repeated:
        notes.append(
            Issue(
                INFORMATION,
                "duplicate",
                f"Received before (message {message.control_id}); nothing was stored again.",
            )
        )
    if not message.control_id:
        notes.append(
            Issue(
                INFORMATION,
                "informational",
                f"The {kind} has no identifier or id, so a repeat of it cannot be recognised "
                "as one: give it an identifier to make posting it again safe.",
            )
        )
    if kind == "Observation":
        issues = [Issue(WARNING, "incomplete", text, where) for where, text in waiting.items()]
        if not waiting:
            issues.append(Issue(INFORMATION, "informational", "Recorded."))
        status = 200 if waiting or repeated else 201
        return operation_outcome([*issues, *notes]), status
    response_entries = []
    for number, entry in enumerate(entries):
        issues = list(notes) if number == 0 else []
        if entry.position in waiting:
            status = "202 Accepted"
            issues.insert(0, Issue(WARNING, "incomplete", waiting[entry.position], entry.position))
        elif repeated or entry.resource_type not in ("Observation", "DiagnosticReport"):
            status = "200 OK"
        else:
            status = "201 Created"
        response = {"status": status}
        if issues:
            response["outcome"] = operation_outcome(issues)
        item = {"fullUrl": entry.full_url} if entry.full_url else {}
        item["response"] = response
        response_entries.append(item)
    bundle = {"resourceType": "Bundle", "type": "transaction-response", "entry": response_entries}
    # A transaction's answer is 200 whatever each entry's own status (FHIR R4, 3.1.0.11.2).
    return bundle, 200


def _conflict(message: LabMessage, data) -> HttpResponse:
    """Another body under a control ID this sender used before: refused, since recording it
    would need a new ID and storing nothing would silently drop it."""
    where = "Bundle.identifier" if (data or {}).get("resourceType") == "Bundle" else "id"
    return fhir_response(
        error_outcome(
            "conflict",
            f"Message {message.control_id} was received before with other content; nothing "
            "of this one was stored. Give a changed Bundle a new identifier.",
            where,
        ),
        409,
    )


def _repeated(message: LabMessage, data) -> HttpResponse:
    """The same body again under a control ID this sender used before: the stored outcome,
    nothing stored twice."""
    if message.status == LabMessage.Status.REFUSED:
        if message.answer:
            return HttpResponse(
                message.answer,
                status=int(message.answer_code or 422),
                content_type=f"{FHIR_JSON}; charset=utf-8",
            )
        return fhir_response(_refusal(stored_outcome(message).problems, False), 422)
    body, _ = _accepted(
        message.message_type or "Bundle", posted_entries(data), message, repeated=True
    )
    return fhir_response(body, 200)


# -- Reading ---------------------------------------------------------------------------------


def metadata_view(request):
    """GET /fhir/r4/metadata: what this server does; open to anyone, as FHIR asks."""
    if request.method not in ("GET", "HEAD"):
        return _method_not_allowed(request, "GET")
    base = request.build_absolute_uri(reverse("fhir:base"))
    patient = {"name": "patient", "type": "reference"}
    statement = {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": date(2026, 12, 1).isoformat(),
        "kind": "instance",
        "fhirVersion": "4.0.1",
        "format": [FHIR_JSON],
        "implementation": {
            "description": "Lemtrada monitoring: lab results in, patients, results and "
            "monitoring schedules out",
            "url": base,
        },
        "rest": [
            {
                "mode": "server",
                "security": {
                    "description": "Authorization: Bearer <token>. A lab token (scope lab) "
                    "posts results; a record system's token (scope read) reads its clinic's "
                    "patients. A clinic lead makes both."
                },
                "resource": [
                    {"type": "Patient", "interaction": [{"code": "read"}]},
                    {
                        "type": "Observation",
                        "interaction": [{"code": "create"}, {"code": "search-type"}],
                        "searchParam": [
                            patient,
                            {"name": "code", "type": "token"},
                            {"name": "date", "type": "date"},
                        ],
                    },
                    {
                        "type": "CarePlan",
                        "interaction": [{"code": "search-type"}],
                        "searchParam": [patient],
                    },
                ],
                "interaction": [{"code": "transaction"}],
            }
        ],
    }
    return fhir_response(statement)


def _reader_or_401(request):
    reader = reader_for(request)
    if reader is None:
        return None, _unauthorised(
            "Send a live read token (Authorization: Bearer <token>) or sign in."
        )
    return reader, None


def _read(view):
    """A read: GET or HEAD only, by a reader (a read token, or a signed-in user), who is
    passed to the view."""

    @wraps(view)
    def read(request, *args, **kwargs):
        if request.method not in ("GET", "HEAD"):
            return _method_not_allowed(request, "GET")
        reader, refusal = _reader_or_401(request)
        if refusal:
            return refusal
        return view(request, reader, *args, **kwargs)

    return read


def _patient_parameter(request) -> str:
    return (request.GET.get("patient") or "").removeprefix("Patient/")


def _patient_or_404(request, reader, patient_id: str):
    """The patient if this reader may see them; otherwise the same 404 whether they exist
    elsewhere or not, so the answer tells nothing of another clinic's patients."""
    patient = None
    if patient_id.isdigit() and len(patient_id) < 19:
        patient = (
            reader.patients()
            .select_related("clinic", "protocol", "named_nurse")
            .filter(pk=int(patient_id))
            .first()
        )
    if patient is None:
        access_refused(request, f"FHIR Patient/{patient_id[:20]} not found or out of scope")
        return None, fhir_response(
            error_outcome("not-found", f"No Patient/{patient_id[:20]} here."), 404
        )
    return patient, None


@_read
def patient_view(request, reader, patient_id: str):
    """GET /fhir/r4/Patient/<id>."""
    patient, refusal = _patient_or_404(request, reader, patient_id)
    if refusal:
        return refusal
    record_access(request, patient, reader.audit_text("FHIR Patient read"))
    return fhir_response(patient_resource(patient))


def _bad_parameter(name: str, text: str) -> HttpResponse:
    return fhir_response(error_outcome("invalid", text, name), 400)


def _observation_search(request) -> HttpResponse:
    """GET /fhir/r4/Observation?patient=<id>[&code=<loinc>][&date=ge..&date=le..]."""
    reader, refusal = _reader_or_401(request)
    if refusal:
        return refusal
    patient_id = _patient_parameter(request)
    if not patient_id:
        return _bad_parameter("patient", "Give the patient: ?patient=<id>.")
    patient, refusal = _patient_or_404(request, reader, patient_id)
    if refusal:
        return refusal
    search = {"patient": patient}
    codes = [
        code.strip().removeprefix(f"{LOINC}|")
        for value in request.GET.getlist("code")
        for code in value.split(",")
        if code.strip()
    ]
    if codes:
        analytes = analytes_by_loinc()
        search["analyte_ids"] = tuple({analytes[c].pk for c in codes if c in analytes})
    for value in request.GET.getlist("date"):
        found = DATE_PARAMETER.match(value)
        if not found:
            return _bad_parameter(
                "date", f"“{value[:40]}” is not a date search: give ge2026-01-01 or le2026-12-31."
            )
        prefix = found[1] or "eq"
        try:
            day = date.fromisoformat(found[2])
        except ValueError:
            return _bad_parameter("date", f"“{value[:40]}” is not a date.")
        # Sample dates are days: after a day is from the next one, before it to the one before.
        first = {"ge": day, "eq": day, "gt": day + timedelta(days=1)}.get(prefix)
        last = {"le": day, "eq": day, "lt": day - timedelta(days=1)}.get(prefix)
        if first is not None:
            search["date_from"] = max(first, search.get("date_from", first))
        if last is not None:
            search["date_to"] = min(last, search.get("date_to", last))
    try:
        count = int(request.GET.get("_count") or PAGE_SIZE)
        offset = int(request.GET.get("_offset") or 0)
    except ValueError:
        return _bad_parameter("_count", "_count and _offset are whole numbers.")
    count, offset = min(max(count, 1), PAGE_SIZE_MAX), max(offset, 0)
    results, total = observations_found(ObservationSearch(**search, count=count, offset=offset))
    record_access(request, patient, reader.audit_text("FHIR Observation search"))
    bundle = _searchset(request, [observation_resource(r) for r in results], total)
    if offset + count < total:
        query = request.GET.copy()
        query["_count"], query["_offset"] = str(count), str(offset + count)
        bundle["link"].append(
            {"relation": "next", "url": request.build_absolute_uri(f"?{query.urlencode()}")}
        )
    return fhir_response(bundle)


def _searchset(request, resources: list[dict], total: int) -> dict:
    base = request.build_absolute_uri(reverse("fhir:base"))
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": total,
        "link": [{"relation": "self", "url": request.build_absolute_uri()}],
        "entry": [
            {
                "fullUrl": f"{base}{resource['resourceType']}/{resource['id']}",
                "resource": resource,
                "search": {"mode": "match"},
            }
            for resource in resources
        ],
    }


@_read
def care_plan_search_view(request, reader, patient_id: str | None = None):
    """GET /fhir/r4/CarePlan?patient=<id> and /fhir/r4/Patient/<id>/CarePlan: the patient's
    schedule, one CarePlan."""
    if patient_id is None:
        patient_id = _patient_parameter(request)
        if not patient_id:
            return _bad_parameter("patient", "Give the patient: ?patient=<id>.")
    patient, refusal = _patient_or_404(request, reader, patient_id)
    if refusal:
        return refusal
    return fhir_response(_searchset(request, [_care_plan(request, reader, patient)], 1))


@_read
def observation_view(request, reader, observation_id: str):
    """GET /fhir/r4/Observation/<id>: one result, if its patient is one the reader may see;
    otherwise the same 404 as no such result."""
    result = None
    if observation_id.isdigit() and len(observation_id) < 19:
        result = observation_in(reader.patients(), int(observation_id))
    if result is None:
        access_refused(request, f"FHIR Observation/{observation_id[:20]} not found or out of scope")
        return fhir_response(
            error_outcome("not-found", f"No Observation/{observation_id[:20]} here."), 404
        )
    record_access(
        request, result.patient, reader.audit_text("FHIR Observation read"), record=result
    )
    return fhir_response(observation_resource(result))


@_read
def care_plan_view(request, reader, plan_id: str):
    """GET /fhir/r4/CarePlan/schedule-<patient id>: the CarePlan a search returns."""
    patient, refusal = _patient_or_404(request, reader, plan_id.removeprefix("schedule-"))
    if refusal:
        return refusal
    return fhir_response(_care_plan(request, reader, patient))


def _care_plan(request, reader, patient) -> dict:
    """The patient's schedule as a CarePlan, its read recorded."""
    checks = care_plan_checks(patient)
    record_access(request, patient, reader.audit_text("FHIR CarePlan (schedule) read"))
    return care_plan_resource(patient, checks)


@_read
def monitoring_record_view(request, reader, patient_id: str):
    """GET /fhir/r4/Patient/<id>/$monitoring-record: the patient's monitoring record as a FHIR
    document (a Bundle of type document, its Composition first): a custom operation on the
    Patient instance, named as FHIR names operations ($...), since no standard operation
    gives this record ($everything would be every resource, not a composed document)."""
    patient, refusal = _patient_or_404(request, reader, patient_id)
    if refusal:
        return refusal
    now = timezone.now()
    record = monitoring_record(patient, today=patient.clinic.today(now))
    base = request.build_absolute_uri(reverse("fhir:base"))
    document = monitoring_document(
        record, patient=patient, base=base, now=now, zone=patient.clinic.zone
    )
    record_access(request, patient, reader.audit_text("FHIR monitoring record (document)"))
    return fhir_response(document)


def not_found_view(request, rest: str = ""):
    return fhir_response(
        error_outcome(
            "not-supported",
            f"Nothing at {request.path[:80]}: see {reverse('fhir:metadata')} for what this "
            "server does.",
        ),
        404,
    )
