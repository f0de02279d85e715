"""The clinic lead's audit pages: their clinics only, filters, old → new, pages by position, a
fixed number of queries, and nothing but reading."""

from datetime import timedelta

import pytest
from auditlog.models import LogEntry
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from accounts.roles import Role
from audit.selectors import PAGE_SIZE
from monitoring.alerts.services import check_waive
from monitoring.models import ScheduledCheck
from tests.auth import sign_in, staff_of
from tests.builders import platelets, treated_patient
from tests.factories import PatientFactory, UserFactory
from tests.forms import keyed

pytestmark = pytest.mark.django_db

TRAIL = reverse("audit:list")


def trail_of(patient) -> str:
    return reverse("audit:patient", args=[patient.pk])


def patients_listed(response) -> set[str]:
    return {row.patient.hospital_number for row in response.context["rows"] if row.patient}


def a_patients_first_weeks(clinic, nurse):
    """A patient created, treated, a blood count recorded and a check waived: entries of every
    kind a page shows, naming a clinic, a protocol, an analyte and a nurse."""
    patient = treated_patient(clinic, days_ago=75, given=True)
    platelets(patient, "210", entered_by=nurse, days_ago=1)
    check = ScheduledCheck.objects.filter(patient=patient, panel="thyroid").open().first()
    check_waive(check=check, reason="Done elsewhere", waived_by=nurse, now=timezone.now())
    return patient


def test_a_lead_sees_their_clinics_trail_and_not_another_clinics(
    client, lead_a, lead_b, patient, patient_b
):
    sign_in(client, lead_a)
    assert patients_listed(client.get(TRAIL)) == {patient.hospital_number}

    client.logout()
    sign_in(client, lead_b)
    assert patients_listed(client.get(TRAIL)) == {patient_b.hospital_number}


def test_another_clinics_patient_trail_is_404(client_lead_a, patient_b):
    assert client_lead_a.get(trail_of(patient_b)).status_code == 404


def test_staff_and_nurses_without_the_permission_get_403(client, staff_a, nurse_a, patient):
    for user in (staff_a, nurse_a):
        sign_in(client, user)
        assert client.get(TRAIL).status_code == 403
        assert client.get(trail_of(patient)).status_code == 403
        client.logout()


def test_a_patients_trail_shows_changes_old_to_new_and_records_that_it_was_read(
    client_lead_a, lead_a, nurse_a, clinic_a
):
    patient = a_patients_first_weeks(clinic_a, nurse_a)

    response = client_lead_a.get(trail_of(patient))

    rows = response.context["rows"]
    assert {row.patient for row in rows} == {patient}
    waived = next(row for row in rows if "Waived by" in [c.field for c in row.changes])
    changes = {change.field: (change.old, change.new) for change in waived.changes}
    assert changes["Waived by"] == ("—", "Nora Nurse")
    assert changes["Waived reason"] == ("—", "Done elsewhere")
    assert waived.who == "No signed-in user"  # waived by the service directly, not a request
    created = next(row for row in rows if row.record.startswith("Lab result"))
    assert ("Analyte", "—", "Platelets") in [(c.field, c.old, c.new) for c in created.changes]
    # The lead's own reading of this trail is the newest entry.
    assert (rows[0].action, rows[0].viewed, rows[0].who) == ("Viewed", "audit trail", "Lea Lead")
    page = response.content.decode()
    assert "Done elsewhere" in page and "→" in page


def test_times_are_shown_in_the_clinics_own_time_zone(client_lead_a, clinic_a, patient):
    clinic_a.time_zone = "America/New_York"
    clinic_a.save()
    entry = LogEntry.objects.get_for_object(patient).get()

    (row,) = [row for row in client_lead_a.get(TRAIL).context["rows"] if row.patient]

    local = timezone.localtime(entry.timestamp, clinic_a.zone)
    assert row.when == f"{local:%d %b %Y %H:%M:%S} {local.tzname()}"
    assert local.tzname() in ("EST", "EDT")


def test_filters_by_hospital_number_user_action_and_dates(client_lead_a, lead_a, nurse_a, clinic_a):
    one = a_patients_first_weeks(clinic_a, nurse_a)
    two = a_patients_first_weeks(clinic_a, nurse_a)
    client_lead_a.get(reverse("patients:detail", args=[two.pk]))
    today = clinic_a.today()

    def listed(**query):
        return client_lead_a.get(TRAIL, query).context["rows"]

    assert {row.patient for row in listed(hospital_number=one.hospital_number)} == {one}
    # Compared by the canonical key, as everywhere: lower case and a hidden character too.
    written_otherwise = one.hospital_number.lower()[:2] + "\u200b" + one.hospital_number[2:]
    assert {row.patient for row in listed(hospital_number=written_otherwise)} == {one}
    assert {row.viewed for row in listed(actor="lead_a")} == {"patient page"}
    assert {row.action for row in listed(action=LogEntry.Action.ACCESS)} == {"Viewed"}
    assert len(listed(date_from=today, date_to=today)) == LogEntry.objects.count()
    assert listed(date_from=today + timedelta(days=1)) == []
    assert listed(date_to=today - timedelta(days=1)) == []
    refused = client_lead_a.get(TRAIL, {"date_from": today, "date_to": today - timedelta(days=1)})
    assert refused.context["rows"] is None
    assert "The start date is after the end date." in refused.content.decode()


def test_pages_go_back_by_position_without_repeating_or_skipping_an_entry(client_lead_a, clinic_a):
    PatientFactory.create_batch(PAGE_SIZE + 10, clinic=clinic_a)

    first = client_lead_a.get(TRAIL)
    older = client_lead_a.get(TRAIL + first.context["older_url"])

    seen = [row.entry_id for row in first.context["rows"]]
    seen += [row.entry_id for row in older.context["rows"]]
    assert len(first.context["rows"]) == PAGE_SIZE
    assert older.context["older_url"] == ""
    assert seen == sorted(LogEntry.objects.values_list("pk", flat=True), reverse=True)


def test_a_position_that_is_not_one_shows_the_newest_page(client_lead_a, patient):
    response = client_lead_a.get(TRAIL, {"before": "99999999999999999999999-1"})

    assert [row.patient for row in response.context["rows"] if row.patient] == [patient]


def test_the_trail_takes_the_same_number_of_queries_however_long_it_is(
    client_lead_a, nurse_a, clinic_a, django_assert_num_queries
):
    patient = a_patients_first_weeks(clinic_a, nurse_a)
    # Changes only, so that at both sizes every row is of the same kinds (checks completed and
    # waived, naming a nurse) and only the number of rows grows.
    changes = {"action": LogEntry.Action.UPDATE}
    # session, user, OTP device, the access snapshot's cache, savepoint (ATOMIC_REQUESTS), the
    # lead's clinics, the page of entries (with actor, content type, clinic and patient), the
    # names of the nurses the changes point to, user names for the filter, release (the
    # session is not written again within a minute)
    whole = 9
    # One patient's: + the patient, + the read entry with its subject (one statement on
    # PostgreSQL, audit.entries.entry_store).
    one = whole + 1 + (1 if connection.vendor == "postgresql" else 2)
    with django_assert_num_queries(whole):
        short = client_lead_a.get(TRAIL, changes)
    with django_assert_num_queries(one):
        short_one = client_lead_a.get(trail_of(patient), changes)
    for _ in range(20):
        a_blood_count_and_a_waiver(patient, nurse_a)
    with django_assert_num_queries(whole):
        long = client_lead_a.get(TRAIL, changes)
    with django_assert_num_queries(one):
        long_one = client_lead_a.get(trail_of(patient), changes)
    rows = [len(page.context["rows"]) for page in (short, short_one, long, long_one)]
    assert rows[0] == rows[1] < 5 and rows[2] == rows[3] > 20


def a_blood_count_and_a_waiver(patient, nurse):
    """A report and its result, the check it completes (if one is open then), and another
    check waived."""
    platelets(patient, "210", entered_by=nurse, days_ago=1)
    check = ScheduledCheck.objects.filter(patient=patient).open().order_by("-due_date").first()
    check_waive(check=check, reason="Done elsewhere", waived_by=nurse, now=timezone.now())


def test_the_lead_finds_the_trail_from_the_navigation_and_the_patient_page(
    client, client_lead_a, staff_a, patient
):
    detail = reverse("patients:detail", args=[patient.pk])
    page = client_lead_a.get(detail).content.decode()
    assert f'href="{trail_of(patient)}"' in page and f'href="{TRAIL}"' in page

    client.logout()
    sign_in(client, staff_a)
    page = client.get(detail).content.decode()
    assert trail_of(patient) not in page and f'href="{TRAIL}"' not in page


def test_a_correction_reads_old_to_new_on_the_patients_trail(
    client_lead_a, lead_a, nurse_a, patient
):
    result = platelets(patient, "45", entered_by=nurse_a, days_ago=1)
    client_lead_a.post(
        reverse("monitoring:result_correct", args=[result.pk]),
        keyed({"value": "210", "unit": "10^9/L", "reason": "Misread the printout"}),
    )

    rows = client_lead_a.get(trail_of(patient)).context["rows"]

    corrected = next(row for row in rows if row.action == "Changed")
    changes = {change.field: (change.old, change.new) for change in corrected.changes}
    assert changes["Value as entered"] == ("45", "210")
    assert changes["Canonical value"] == ("45", "210")
    assert changes["Tier"] == ("Critical", "Normal")
    assert corrected.who == "Lea Lead"


def test_the_admin_shows_a_lead_only_their_clinics_entries(client, clinic_a, patient, patient_b):
    lead = staff_of(clinic_a, UserFactory(username="lead_admin", is_staff=True), Role.CLINIC_LEAD)
    sign_in(client, lead)

    listed = client.get(reverse("admin:auditlog_logentry_changelist"))

    entries = listed.context["cl"].result_list
    # The patient's entry and clinic A's own (its creation); nothing of clinic B's.
    assert {entry.object_id for entry in entries if entry.subject.patient} == {patient.pk}
    assert {entry.subject.clinic_id for entry in entries} == {clinic_a.pk}
    other = LogEntry.objects.get_for_object(patient_b).get()
    refused = client.get(reverse("admin:auditlog_logentry_change", args=[other.pk]))
    assert refused.status_code == 302  # the admin's answer for an object it cannot find
