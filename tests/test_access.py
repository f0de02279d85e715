"""Every URL of the app, taken from the URL configuration, asked for by each kind of visitor:
anonymous, a patient, a nurse of another clinic and the person it is for. A new URL fails
`test_every_url_is_covered` until it is given a rule here, so no view escapes these checks."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from accounts.roles import Role
from labfeeds.intake import message_receive
from labfeeds.models import LabConnection, WaitingResult
from labfeeds.tokens import token_create
from monitoring.alerts.symptom_reports import symptom_report_create
from monitoring.models import Notification, ScheduledCheck
from monitoring.outbox.store import notification_row
from monitoring.results.csv_import import import_stage
from patients.access import StaffAccessMixin
from patients.onboarding.services import onboarding_stage
from portal.access import PatientPortalMixin
from tests.auth import sign_in, staff_of
from tests.builders import lead_of, treated_patient
from tests.builders import report as build_report
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

# Open to anyone by design, each for its reason. Everything else must be a staff or portal view.
PUBLIC = {
    "login": "the sign-in page",
    "logout": "signing out",
    "home": "sends a visitor to sign in, or to their own start page",
    # A long random token in the URL is the credential (tested in tests/portal/).
    "portal:calendar_feed": "calendar apps cannot sign in; revocable token",
    "portal:invitation_accept": "the invited patient has no password yet; one-time token",
}
# The FHIR API has its own rules (a Bearer token or a session, else 401; another clinic's
# patient 404): tests/labfeeds/fhir/test_every_address.py asks each of its addresses.
API_NAMESPACES = ("fhir",)
# Signed in, but before the second factor: the steps of signing in.
SIGN_IN_STEPS = {"accounts:two_factor_setup", "accounts:two_factor_verify"}


@dataclass
class Records:
    """One patient's records of every kind a URL can name."""

    patient: object
    result: object
    report: object
    check: object
    result_import: object
    onboarding: object
    failed_alert: object
    symptom_report: object
    waiting: object
    lab_connection: object
    token: object


def records_in(clinic, entered_by) -> Records:
    patient = treated_patient(clinic, days_ago=75, given=True)
    report = build_report(
        patient, "blood_count", {"platelets": "45"}, entered_by=entered_by, days_ago=1
    )
    staged, _ = import_stage(
        clinic=clinic,
        content=f"hospital_number,sample_date,analyte,value,unit\n"
        f"{patient.hospital_number},{clinic.today()},platelets,210,10^9/L\n".encode(),
        file_name="results.csv",
        uploaded_by=entered_by,
    )
    onboarding, _ = onboarding_stage(
        clinic=clinic,
        content=b"hospital_number,given_name,family_name,date_of_birth,sex\nONB-9,Ola,Onboard,"
        b"1990-05-06,F\n",
        file_name="patients.csv",
        uploaded_by=entered_by,
    )
    result = report.results.get()
    failed_alert = notification_row(
        kind=Notification.Kind.ABNORMAL_RESULT,
        delivery=Notification.Delivery.AT_ONCE,
        patient_id=patient.pk,
        user_id=entered_by.pk,
        result_id=result.pk,
        tier=result.tier,
        now=timezone.now(),
    )
    failed_alert.status = Notification.Status.FAILED
    failed_alert.last_error = "The recipient has no email address."
    failed_alert.save()
    symptom_report = symptom_report_create(
        patient=patient,
        symptom_codes=["bleeding"],
        details="Bruises on both legs.",
        reported_by=entered_by,
        submission_key=uuid.uuid4(),
        now=timezone.now(),
    )
    lab_connection = LabConnection.objects.create(clinic=clinic, name="City lab")
    message, _ = message_receive(protocol="hl7", raw="MSH|", connection=lab_connection)
    waiting = WaitingResult.objects.create(
        message=message, clinic=clinic, reason="unknown_patient", hospital_number="NOBODY"
    )
    token = token_create(clinic=clinic, name="EPR", scope="read", created_by=entered_by).token
    return Records(
        waiting=waiting,
        lab_connection=lab_connection,
        token=token,
        patient=patient,
        result=result,
        report=report,
        check=ScheduledCheck.objects.open().filter(patient=patient).order_by("due_date").first(),
        result_import=staged,
        onboarding=onboarding,
        failed_alert=failed_alert,
        symptom_report=symptom_report,
    )


def natalizumab_dose(records: Records):
    """The patient's planned natalizumab infusion, the therapy started the first time asked."""
    from patients.models import TherapyDose
    from patients.therapies.services import episode_start

    doses = TherapyDose.objects.filter(episode__patient=records.patient, status="planned")
    if not doses.exists():
        patient = records.patient
        episode_start(patient=patient, therapy="natalizumab", started_on=patient.clinic.today())
    return doses.select_related("episode").get()


# How to fill in each URL that names a record, from that record's owner's `Records`.
RECORD_ARGS = {
    "patients:detail": lambda r: [r.patient.pk],
    "patients:course_create": lambda r: [r.patient.pk],
    "patients:invite": lambda r: [r.patient.pk],
    "patients:edit": lambda r: [r.patient.pk],
    "patients:status": lambda r: [r.patient.pk],
    "patients:schedule_preview": lambda r: [r.patient.pk],
    "patients:course_edit": lambda r: [r.patient.courses.get().pk],
    "patients:course_cancel": lambda r: [r.patient.courses.get().pk],
    "patients:course_given": lambda r: [r.patient.courses.get().pk],
    "patients:therapy_start": lambda r: [r.patient.pk],
    "patients:therapy_stop": lambda r: [natalizumab_dose(r).episode_id],
    "patients:dose_plan": lambda r: [natalizumab_dose(r).episode_id],
    "patients:dose_cancel": lambda r: [natalizumab_dose(r).pk],
    "patients:dose_checklist": lambda r: [natalizumab_dose(r).pk],
    "patients:dose_given": lambda r: [natalizumab_dose(r).pk],
    "audit:patient": lambda r: [r.patient.pk],
    "monitoring:report_create": lambda r: [r.patient.pk, "blood_count"],
    "monitoring:check_done": lambda r: [r.patient.pk, "skin"],
    "monitoring:result_history": lambda r: [r.result.pk],
    "monitoring:result_correct": lambda r: [r.result.pk],
    "monitoring:result_error": lambda r: [r.result.pk],
    "monitoring:report_error": lambda r: [r.report.pk],
    "monitoring:import_preview": lambda r: [r.result_import.pk],
    "patients:onboarding_preview": lambda r: [r.onboarding.pk],
    "monitoring:import_progress": lambda r: [r.result_import.pk],
    "monitoring:result_acknowledge": lambda r: [r.result.pk],
    "monitoring:check_follow_up": lambda r: [r.check.pk],
    "monitoring:check_waive": lambda r: [r.check.pk],
    "monitoring:alert_handle": lambda r: [r.failed_alert.pk],
    "monitoring:symptom_acknowledge": lambda r: [r.symptom_report.pk],
    "labfeeds:waiting_match": lambda r: [r.waiting.pk],
    "labfeeds:waiting_dismiss": lambda r: [r.waiting.pk],
    "labfeeds:connection_edit": lambda r: [r.lab_connection.pk],
    "labfeeds:connection_switch": lambda r: [r.lab_connection.pk],
    "labfeeds:token_created": lambda r: [r.token.pk],
    "labfeeds:token_revoke": lambda r: [r.token.pk],
    "labfeeds:retention": lambda r: [r.patient.clinic_id],
    "reports:patient_record": lambda r: [r.patient.pk],
    "reports:export_results": lambda r: [r.patient.pk],
}


def app_urls(patterns=None, namespace=""):
    """(name, pattern, view class) for every named URL outside the Django admin."""
    for entry in patterns if patterns is not None else get_resolver().url_patterns:
        if isinstance(entry, URLResolver):
            if entry.app_name == "admin" or entry.namespace in API_NAMESPACES:
                continue
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from app_urls(entry.url_patterns, inner)
        elif isinstance(entry, URLPattern) and entry.name:
            yield (
                f"{namespace}{entry.name}",
                entry.pattern,
                getattr(entry.callback, "view_class", None),
            )


URLS = sorted(app_urls(), key=lambda url: url[0])
STAFF_URLS = [(name, view) for name, _, view in URLS if view and issubclass(view, StaffAccessMixin)]
PORTAL_URLS = [
    (name, view) for name, _, view in URLS if view and issubclass(view, PatientPortalMixin)
]


def url_of(name: str, records: Records | None) -> str:
    if name in RECORD_ARGS:
        return reverse(name, args=RECORD_ARGS[name](records))
    return reverse(name)


def test_every_url_is_covered():
    """A view that is neither a staff view nor a portal view, nor public on purpose, fails
    here; so does a staff URL naming a record that this file cannot fill in."""
    unchecked = [
        name
        for name, _, view in URLS
        if name not in PUBLIC
        and name not in SIGN_IN_STEPS
        and not (view and issubclass(view, StaffAccessMixin | PatientPortalMixin))
    ]
    assert unchecked == []
    for name, pattern, _ in URLS:
        if "<" in str(pattern) and name not in PUBLIC:
            assert name in RECORD_ARGS, f"{name}: say how to build its URL in RECORD_ARGS"
    assert all(view.permission_required for _, view in STAFF_URLS)


@pytest.fixture
def world(clinic_a, clinic_b):
    """Clinic A's lead, nurse and two patients with portal accounts; clinic B's records."""
    lead = lead_of(clinic_a, "lead_a")
    nurse_b = staff_of(clinic_b, UserFactory(username="nurse_b"), Role.NURSE)
    mine = records_in(clinic_a, lead)
    other = records_in(clinic_a, lead)
    theirs = records_in(clinic_b, nurse_b)
    for records, username in ((mine, "patient_mine"), (other, "patient_other")):
        records.patient.user = UserFactory(username=username)
        records.patient.save(update_fields=["user"])
    return {"lead": lead, "nurse_b": nurse_b, "mine": mine, "other": other, "theirs": theirs}


@pytest.mark.parametrize("name", [name for name, _, _ in URLS if name not in PUBLIC])
def test_anonymous_visitors_are_sent_to_sign_in(client, world, name):
    response = client.get(url_of(name, world["mine"]))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize(("name", "view"), STAFF_URLS)
def test_a_patient_gets_404_for_another_patients_records_and_403_for_staff_screens(
    client, world, name, view
):
    sign_in(client, world["mine"].patient.user, second_factor=False)
    expected = 404 if name in RECORD_ARGS else 403
    assert client.get(url_of(name, world["other"])).status_code == expected
    assert client.get(url_of(name, world["mine"])).status_code == expected


@pytest.mark.parametrize(("name", "view"), STAFF_URLS)
def test_a_nurse_of_another_clinic_gets_404_for_its_records(client, world, name, view):
    nurse = world["nurse_b"]
    sign_in(client, nurse)
    may_use = nurse.has_perms(view.permission_required)
    response = client.get(url_of(name, world["mine"]))
    if may_use and name in RECORD_ARGS:
        assert response.status_code == 404
    elif may_use:
        assert response.status_code == 200
    else:
        assert response.status_code == 403


@pytest.mark.parametrize(("name", "view"), STAFF_URLS)
def test_the_clinic_lead_opens_every_staff_screen_of_their_clinic(client, world, name, view):
    sign_in(client, world["lead"])
    assert client.get(url_of(name, world["mine"])).status_code == 200


@pytest.mark.parametrize(("name", "view"), PORTAL_URLS)
def test_a_patient_opens_their_portal_and_staff_are_refused_it(client, world, name, view):
    sign_in(client, world["mine"].patient.user, second_factor=False)
    assert client.get(url_of(name, None)).status_code == 200
    client.logout()
    sign_in(client, world["lead"])
    assert client.get(url_of(name, None)).status_code == 403


def test_a_refused_record_is_logged_with_who_and_from_where(client, world, caplog):
    caplog.set_level("WARNING", logger="security.access")
    sign_in(client, world["nurse_b"])
    client.get(reverse("patients:detail", args=[world["mine"].patient.pk]))
    refusal = next(r for r in caplog.records if r.name == "security.access")
    assert f"to user {world['nurse_b'].pk} from 127.0.0.1" in refusal.getMessage()
    assert "out of scope" in refusal.getMessage()
