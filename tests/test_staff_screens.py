"""The clinic staff's screens through the test client: sign-in, scoping to the user's clinic,
the patient list and page, the add forms, logging and correcting results."""

import re
import uuid
from datetime import date

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.roles import Role, grant_role
from monitoring.models import LabReport, LabResult, ResultImport, ScheduledCheck
from patients.models import Patient
from tests.auth import sign_in
from tests.builders import lead_of, treated_patient, with_course_one
from tests.builders import report as build_report
from tests.factories import PatientFactory, UserFactory
from tests.forms import keyed

pytestmark = pytest.mark.django_db


def detail_url(patient):
    return reverse("patients:detail", args=[patient.pk])


def log_url(patient, panel):
    return reverse("monitoring:report_create", args=[patient.pk, panel])


def cbc_form(**values):
    data = {
        "sample_collected_on": "2024-03-15",
        "submission_key": str(uuid.uuid4()),
        "platelets": "",
        "platelets_unit": "10^9/L",
    }
    data.update(values)
    return data


def test_every_staff_page_sends_an_anonymous_visitor_to_sign_in(client, patient):
    for url in [
        reverse("patients:list"),
        reverse("patients:create"),
        detail_url(patient),
        log_url(patient, "blood_count"),
        reverse("monitoring:import_upload"),
    ]:
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))


def test_sign_in_leads_to_the_patient_list(client, staff_a):
    staff_a.set_password("a-long-test-password")
    staff_a.save()
    response = client.post(
        reverse("login"), {"username": "staff_a", "password": "a-long-test-password"}
    )
    assert response["Location"] == reverse("home")


@pytest.mark.parametrize(
    ("who", "lands_on"),
    [
        ("staff_a", "patients:list"),
        ("nurse_a", "monitoring:worklist"),
        ("lead", "reports:overview"),
    ],
)
def test_each_role_lands_on_its_own_page(client, clinic_a, who, lands_on, request):
    user = lead_of(clinic_a, "lead_a") if who == "lead" else request.getfixturevalue(who)
    response = sign_in(client, user).get(reverse("home"))
    assert response["Location"] == reverse(lands_on)


def test_a_patient_lands_on_the_portal(client, patient):
    user = UserFactory(username="ada@example.org")
    grant_role(user, Role.PATIENT)
    patient.user = user
    patient.save(update_fields=["user"])
    response = sign_in(client, user, second_factor=False).get(reverse("home"))
    assert response["Location"] == reverse("portal:home")


def test_a_user_on_no_clinic_staff_is_refused(client, clinician):
    sign_in(client, clinician, second_factor=False)
    assert client.get(reverse("patients:list")).status_code == 403


def test_staff_see_only_their_clinics_patients(client_a, patient, patient_b):
    page = client_a.get(reverse("patients:list")).content.decode()
    assert patient.hospital_number in page and patient_b.hospital_number not in page
    assert client_a.get(detail_url(patient_b)).status_code == 404
    assert client_a.get(log_url(patient_b, "blood_count")).status_code == 404


def test_search_by_name_or_hospital_number(client_a, clinic_a, patient):
    other = PatientFactory(clinic=clinic_a, family_name="Zephyr", hospital_number="ZZ99")
    by_name = client_a.get(reverse("patients:list"), {"q": "zeph"}).content.decode()
    assert "ZZ99" in by_name and patient.hospital_number not in by_name
    by_number = client_a.get(reverse("patients:list"), {"q": patient.hospital_number})
    assert other.hospital_number not in by_number.content.decode()


def test_the_list_shows_next_due_and_overdue_counts(client_a, patient):
    today = patient.clinic.today()
    with_course_one(patient, days_ago=75, given=True)
    rows = client_a.get(reverse("patients:list")).context["page"].object_list
    row = next(p for p in rows if p.pk == patient.pk)
    expected_overdue = (
        ScheduledCheck.objects.open().filter(patient=patient, overdue_after__lt=today).count()
    )
    assert row.overdue_count == expected_overdue > 0
    assert row.next_due == min(
        c.due_date
        for c in ScheduledCheck.objects.open().filter(patient=patient, overdue_after__gte=today)
    )


def test_the_patient_list_query_count_does_not_grow_with_patients(client_a, clinic_a):
    def count():
        with CaptureQueriesContext(connection) as queries:
            assert client_a.get(reverse("patients:list")).status_code == 200
        return len(queries)

    PatientFactory.create_batch(3, clinic=clinic_a)
    few = count()
    PatientFactory.create_batch(40, clinic=clinic_a)
    assert count() == few


def test_adding_a_patient_then_course_one_plans_the_schedule(client_a, clinic_a):
    response = client_a.post(
        reverse("patients:create"),
        keyed(
            {
                "clinic": clinic_a.pk,
                "hospital_number": "N123",
                "given_name": "Nia",
                "family_name": "New",
                "date_of_birth": "1991-04-02",
                "sex": "F",
            }
        ),
    )
    patient = Patient.objects.get(hospital_number="N123")
    assert response["Location"] == detail_url(patient)
    response = client_a.post(
        reverse("patients:course_create", args=[patient.pk]),
        keyed({"first_infusion_date": "2025-02-03", "daily_dose_mg": "12", "status": "given"}),
    )
    assert response["Location"] == detail_url(patient)
    course = patient.courses.get()
    assert (course.number, course.days) == (1, 5)
    page = client_a.get(detail_url(patient), {"schedule": "all"})
    assert page.context["page"].timeline and "March 2025" in page.content.decode()


def test_a_second_patient_with_the_same_hospital_number_is_refused(client_a, clinic_a, patient):
    response = client_a.post(
        reverse("patients:create"),
        keyed(
            {
                "clinic": clinic_a.pk,
                "hospital_number": patient.hospital_number,
                "given_name": "X",
                "family_name": "Y",
                "date_of_birth": "1991-04-02",
                "sex": "F",
            }
        ),
    )
    assert response.status_code == 200
    assert "already the hospital number of" in response.context["form"].errors["hospital_number"][0]
    assert Patient.objects.filter(hospital_number=patient.hospital_number).count() == 1


def test_a_course_too_soon_is_refused_on_its_field(client_a, treated):
    response = client_a.post(
        reverse("patients:course_create", args=[treated.pk]),
        keyed({"first_infusion_date": "2024-06-01", "daily_dose_mg": "12", "status": "planned"}),
    )
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert "earlier than the minimum spacing" in str(errors["spacing_override_reason"])


def test_logging_platelets_of_45_shows_critical_on_the_patient_page(client_a, treated):
    response = client_a.post(log_url(treated, "blood_count"), cbc_form(platelets="45"))
    assert response["Location"] == detail_url(treated)
    page = client_a.get(detail_url(treated)).content.decode()
    assert re.search(r'badge[^"]*">critical<', page)
    assert "Emergency: call the patient now" in page
    # The stored rule's threshold (three decimal places) reads as a person writes it.
    assert "Critical: 45 is below 50." in page


def test_a_double_submitted_form_stores_one_report(client_a, treated):
    form = cbc_form(platelets="200")
    client_a.post(log_url(treated, "blood_count"), keyed(form))
    again = client_a.post(log_url(treated, "blood_count"), keyed(form), follow=True)
    assert "not stored twice" in again.content.decode()
    assert LabReport.objects.filter(patient=treated).count() == 1


@pytest.mark.parametrize(
    ("values", "field", "words"),
    [
        ({"platelets": "abc"}, "platelets", "not a number"),
        ({"platelets": ""}, "__all__", "at least one result"),
        ({"platelets": "NaN"}, "platelets", "not a number"),
        ({"platelets": "Infinity"}, "platelets", "not a number"),
        ({"platelets": "-5"}, "platelets", "cannot be negative"),
        ({"platelets": "99999"}, "platelets", "beyond any plausible"),
        ({"platelets": "123456789"}, "platelets", "digits"),
        ({"platelets": "=1+1"}, "platelets", "spreadsheet formula"),
        ({"platelets": "200", "platelets_unit": ""}, "platelets_unit", "enter the unit"),
        ({"platelets": "200", "platelets_unit": "g/L"}, "platelets_unit", "not one of"),
        (
            {"platelets": "200", "sample_collected_on": "2024-02-30"},
            "sample_collected_on",
            "not a real date",
        ),
        (
            {"platelets": "200", "sample_collected_on": "2999-01-01"},
            "sample_collected_on",
            "(a year from today)",
        ),
        ({"platelets": "200", "sample_collected_on": "1950-01-01"}, "sample_collected_on", "1990"),
    ],
)
def test_bad_input_is_refused_on_its_field_and_nothing_saved(
    client_a, treated, values, field, words
):
    response = client_a.post(log_url(treated, "blood_count"), cbc_form(**values))
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert words in " ".join(errors[field]), errors
    assert not LabResult.objects.exists()


def test_free_text_is_shown_escaped(client_a, treated):
    client_a.post(
        log_url(treated, "blood_count"),
        cbc_form(platelets="200", notes="<script>alert(1)</script>", lab_name="<b>Lab</b>"),
    )
    page = client_a.get(detail_url(treated)).content.decode()
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;b&gt;Lab&lt;/b&gt;" in page


def test_a_correction_through_the_screen_keeps_the_old_version(client_a, staff_a, treated):
    client_a.post(log_url(treated, "blood_count"), cbc_form(platelets="45"))
    result = LabResult.objects.get()
    response = client_a.post(
        reverse("monitoring:result_correct", args=[result.pk]),
        keyed({"value": "145", "unit": "10^9/L", "reason": "Misread the printout"}),
    )
    assert response["Location"] == detail_url(treated)
    history = client_a.get(reverse("monitoring:result_history", args=[result.pk]))
    text = history.content.decode()
    assert "45 10^9/L" in text and "145 10^9/L" in text and "Misread the printout" in text
    assert [v.history_user for v in history.context["versions"]] == [staff_a, staff_a]


def test_entered_in_error_through_the_screen_strikes_the_result_out(client_a, treated):
    client_a.post(log_url(treated, "blood_count"), cbc_form(platelets="45"))
    result = LabResult.objects.get()
    client_a.post(
        reverse("monitoring:result_error", args=[result.pk]), keyed({"reason": "Wrong tube"})
    )
    page = client_a.get(detail_url(treated)).content.decode()
    assert "entered-in-error" in page and "Wrong tube" in page
    assert LabResult.objects.filter(pk=result.pk).exists()


def test_another_clinics_result_cannot_be_corrected_or_seen(client_a, patient_b, clinician):
    report = build_report(
        patient_b, "thyroid", {"tsh": "2"}, entered_by=clinician, sample=date(2024, 1, 1)
    )
    result = report.results.get()
    for name in ("result_history", "result_correct", "result_error"):
        assert client_a.get(reverse(f"monitoring:{name}", args=[result.pk])).status_code == 404
    assert client_a.get(reverse("monitoring:report_error", args=[report.pk])).status_code == 404


def five_years_of_results(patient, user, months):
    start = date(2024, 2, 15)
    for month in range(months):
        day = date(
            start.year + (start.month - 1 + month) // 12, (start.month - 1 + month) % 12 + 1, 15
        )
        for panel, values in [
            ("blood_count", {"platelets": "210", "haemoglobin": "135"}),
            ("kidney", {"creatinine": "70"}),
            ("thyroid", {"tsh": "2.1"}),
        ]:
            build_report(
                patient, panel, values, entered_by=user, sample=day, today=date(2029, 12, 31)
            )


def test_the_patient_page_renders_in_a_constant_number_of_queries(
    client_a, staff_a, clinic_a, django_assert_num_queries
):
    short, long = (PatientFactory(clinic=clinic_a) for _ in range(2))
    for patient, months in ((short, 3), (long, 60)):
        with_course_one(patient, on=date(2024, 1, 15))
        five_years_of_results(patient, staff_a, months)
    # session, user, the second factor's device, savepoint and release (ATOMIC_REQUESTS),
    # patient (with clinic, protocol and named nurse), the audit trail's read entry with its
    # subject row (one statement on PostgreSQL), courses, the schedule's first and last days,
    # the overdue and urgent checks named above the schedule; drawing the schedule: the
    # window's checks; drawing the results: the count and one page of reports, their results
    # (with analyte and report), the results' acknowledgements (with who acknowledged);
    # drawing the charts: the charted analytes, their series. The user's permissions and
    # clinics come from the session (patients.access_snapshot), which is not written again
    # within a minute.
    read_entry = 1 if connection.vendor == "postgresql" else 2
    drawn = 1 + 4 + 2
    with django_assert_num_queries(9 + read_entry + drawn):
        client_a.get(detail_url(short))
    with django_assert_num_queries(9 + read_entry + drawn):
        response = client_a.get(detail_url(long))
    # Again, with nothing changed: the page's body is kept drawn (patients.page_parts), so
    # no courses, bounds or checks are read; the patient is, and the read is recorded again.
    with django_assert_num_queries(6 + read_entry):
        again = client_a.get(detail_url(long))

    def parts(page):  # the trends and the results: the rest holds this request's nonces
        text = page.content.decode()
        return text[text.index('id="trends-h"') : text.index('class="col-xl-5"')]

    assert parts(again) == parts(response)
    page = response.context["page"]
    # Ten months of three reports a month on the first page; the charts draw all five years.
    assert page.reports_page.paginator.count == 60 * 3
    assert len(page.results) == 10 * 4
    assert len(page.charts) == 3
    assert "Older results" in response.content.decode()


def test_every_result_of_a_long_record_is_a_page_away(client_a, staff_a, clinic_a):
    patient = treated_patient(clinic_a, on=date(2024, 1, 15))
    five_years_of_results(patient, staff_a, 60)
    seen = set()
    for number in range(1, 7):
        page = client_a.get(detail_url(patient), {"results": number}).context["page"]
        seen |= {result.pk for result in page.results}
    assert seen == set(LabResult.objects.filter(patient=patient).values_list("pk", flat=True))


def upload(client, clinic, text, name="results.csv", encoding="utf-8"):
    file = SimpleUploadedFile(name, text.encode(encoding), content_type="text/csv")
    return client.post(
        reverse("monitoring:import_upload"), keyed({"clinic": clinic.pk, "file": file})
    )


HEADER = "hospital_number,sample_date,analyte,value,unit\n"


def test_the_import_preview_shows_every_rows_problem_and_saves_nothing(client_a, clinic_a, treated):
    text = HEADER + (
        f"{treated.hospital_number},2024-03-15,platelets,45,10^9/L\n"
        f"{treated.hospital_number},2024-03-15,haemoglobin,=HYPERLINK(1),g/L\n"
        f"NOPE,2024-03-15,platelets,200,10^9/L\n"
    )
    response = upload(client_a, clinic_a, text)
    preview = client_a.get(response["Location"])
    page = preview.content.decode()
    assert "Row 3" in page and "spreadsheet formula" in page
    assert "Row 4" in page and "NOPE" in page
    assert 'type="submit">Import' not in page  # no way to confirm a file with problems
    assert not LabResult.objects.exists()
    # Confirming anyway imports nothing.
    client_a.post(response["Location"], keyed())
    assert not LabResult.objects.exists()


def test_a_clean_file_imports_all_at_once_and_flags(client_a, clinic_a, treated):
    text = (
        "\ufeff"
        + HEADER
        + (
            f"{treated.hospital_number},2024-03-15,platelets,45,10^9/L\n"
            f"{treated.hospital_number},2024-03-15,creatinine,70,umol/L\n"
        )
    )
    response = upload(client_a, clinic_a, text)
    client_a.post(response["Location"], keyed())
    assert LabResult.objects.filter(patient=treated).count() == 2
    assert LabResult.objects.get(analyte__code="platelets").tier == "critical"
    assert set(LabReport.objects.values_list("source", flat=True)) == {"csv_import"}


def test_a_file_over_the_size_limit_is_refused_on_upload(client_a, clinic_a, settings):
    settings.RESULT_IMPORT_MAX_BYTES = 100
    response = upload(client_a, clinic_a, HEADER + "x" * 200)
    assert response.status_code == 200
    assert "the limit is 100 bytes" in response.content.decode()


def test_another_clinics_import_cannot_be_seen(client_a, clinic_b, clinician):
    staged = ResultImport.objects.create(
        clinic=clinic_b, file_name="b.csv", sha256="0" * 64, content=HEADER, uploaded_by=clinician
    )
    url = reverse("monitoring:import_preview", args=[staged.pk])
    assert client_a.get(url).status_code == 404
    assert client_a.post(url, keyed()).status_code == 404


def months_shown(response):
    return list(response.context["page"].timeline)


def test_the_schedule_shows_the_months_around_today_with_the_rest_a_link_away(
    client_a, patient, django_assert_num_queries
):
    today = patient.clinic.today()
    with_course_one(patient, days_ago=2 * 365, given=True)
    every_month = months_shown(client_a.get(detail_url(patient), {"schedule": "all"}))

    page = client_a.get(detail_url(patient))

    window = page.context["page"].schedule
    shown = months_shown(page)
    this_month = f"{today:%B %Y}"
    assert this_month in shown and len(shown) <= 16 < len(every_month)
    assert shown == [month for month in every_month if month in shown]  # a run of months
    assert shown.index(this_month) <= 3
    content = page.content.decode()
    assert "this month" in content
    assert f'href="?schedule={window.earlier}#schedule-h"' in content
    assert 'href="?schedule=all#schedule-h"' in content
    # Every check of the two years before is still open: all of them are listed as overdue,
    # not only those in the window.
    overdue = page.context["page"].overdue
    assert {f"{check.due_date:%B %Y}" for check in overdue} - set(shown)
    assert (
        len(overdue)
        == ScheduledCheck.objects.filter(patient=patient, overdue_after__lt=today).count()
    )

    earlier = client_a.get(detail_url(patient), {"schedule": window.earlier})
    assert months_shown(earlier) and set(months_shown(earlier)).isdisjoint(shown)
    assert earlier.context["page"].schedule.later is not None

    # The window is filtered from the checks already loaded: no query more or less.
    with CaptureQueriesContext(connection) as default_queries:
        client_a.get(detail_url(patient))
    with django_assert_num_queries(len(default_queries)):
        client_a.get(detail_url(patient), {"schedule": "all"})


def test_only_staff_who_may_acknowledge_see_the_acknowledge_button(
    client, client_a, nurse_a, treated
):
    build_report(treated, "blood_count", {"platelets": 45}, entered_by=nurse_a, days_ago=1)
    page = reverse("patients:detail", args=[treated.pk])
    button = reverse("monitoring:result_acknowledge", args=[LabResult.objects.get().pk])

    staff_page = client_a.get(page).content.decode()
    assert button not in staff_page  # clinic staff may not acknowledge: the link would be a 403
    assert "awaiting a nurse" in staff_page

    client.logout()
    nurse_page = sign_in(client, nurse_a).get(page).content.decode()
    assert button in nurse_page
