"""One hospital number, however it is written: the staff form, the admin, the services and the
CSV import compare the canonical key, the database keeps it unique per clinic, and the
migration that introduced the key reports existing look-alikes instead of merging them."""

# Look-alike characters are what these tests are about.
# ruff: noqa: RUF001

import threading
import time
from datetime import date
from io import StringIO

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.urls import reverse

from monitoring.domain.input_rules import (
    hospital_number_clean,
    hospital_number_collisions,
    hospital_number_key,
)
from monitoring.results.csv_import import import_read
from patients.models import Patient
from patients.services import patient_create
from tests.auth import sign_in, staff_of
from tests.factories import PatientFactory, UserFactory

# Each is "DEMO0001" to a person reading it.
LOOK_ALIKES = {
    "lower case": "demo0001",
    "zero-width space inside": "DEMO\u200b0001",
    "full-width": "ＤＥＭＯ０００１",
    "surrounding spaces": "  DEMO0001\u00a0",
    "Arabic-Indic digits": "DEMO٠٠٠١",
    "soft hyphen and a control character": "DE\u00adMO\x070001",
}


@pytest.mark.parametrize("written", LOOK_ALIKES.values(), ids=LOOK_ALIKES.keys())
def test_every_look_alike_has_the_key_of_the_plain_number(written):
    assert hospital_number_key(written) == hospital_number_key("DEMO0001") == "demo0001"
    assert hospital_number_clean(written).upper() == "DEMO0001"


def test_distinct_numbers_keep_distinct_keys():
    assert hospital_number_key("DEMO0001") != hospital_number_key("DEMO0010")
    assert hospital_number_key("DEMO 0001") != hospital_number_key("DEMO0001")


def test_collisions_name_the_records_and_their_clinic():
    rows = [("Clinic A", 1, "DEMO0001"), ("Clinic A", 2, "demo0001"), ("Clinic B", 3, "demo0001")]
    (collision,) = hospital_number_collisions(rows)
    assert collision.clinic == "Clinic A"
    assert [pk for pk, _ in collision.records] == [1, 2]
    assert "#1 “DEMO0001”, #2 “demo0001”" in str(collision)


@pytest.fixture
def demo(clinic_a):
    return PatientFactory(
        clinic=clinic_a, hospital_number="DEMO0001", given_name="Dee", family_name="Mo"
    )


def patient_form(clinic, hospital_number):
    return {
        "clinic": clinic.pk,
        "hospital_number": hospital_number,
        "given_name": "Dee",
        "family_name": "Mo",
        "date_of_birth": "1980-05-06",
        "sex": "F",
    }


@pytest.mark.django_db
@pytest.mark.parametrize("written", LOOK_ALIKES.values(), ids=LOOK_ALIKES.keys())
def test_the_staff_form_refuses_a_look_alike_naming_the_record(client, clinic_a, demo, written):
    client = sign_in(client, staff_of(clinic_a, UserFactory(username="staff_x")))
    # The guard answers a 400 for a control character in a post before any form; the form's
    # own rule is checked without it.
    written = written.replace("\x07", "")
    response = client.post(reverse("patients:create"), patient_form(clinic_a, written))
    assert response.status_code == 200
    (message,) = response.context["form"].errors["hospital_number"]
    assert "already the hospital number of MO, Dee (DEMO0001)" in message
    assert f"record {demo.pk}" in message
    assert Patient.objects.count() == 1


@pytest.mark.django_db
def test_the_same_number_in_another_clinic_is_another_person(clinic_b, demo):
    other = patient_create(
        clinic=clinic_b,
        hospital_number="demo0001",
        given_name="B",
        family_name="C",
        date_of_birth=date(1980, 1, 1),
        sex="M",
    )
    assert other.hospital_number_key == demo.hospital_number_key


@pytest.mark.django_db
def test_the_service_stores_the_clean_form_and_its_key(clinic_a):
    patient = patient_create(
        clinic=clinic_a,
        hospital_number=" ＡＢ\u200b１２ ",
        given_name="B",
        family_name="C",
        date_of_birth=date(1980, 1, 1),
        sex="M",
    )
    patient.refresh_from_db()
    assert (patient.hospital_number, patient.hospital_number_key) == ("AB12", "ab12")


@pytest.mark.django_db
def test_a_number_that_normalisation_lengthens_past_the_column_is_a_field_error(clinic_a):
    with pytest.raises(ValidationError) as refusal:
        patient_create(
            clinic=clinic_a,
            hospital_number="\u337f" * 10,  # each becomes four letters under NFKC
            given_name="B",
            family_name="C",
            date_of_birth=date(1980, 1, 1),
            sex="M",
        )
    assert "at most 32 characters" in refusal.value.message_dict["hospital_number"][0]


@pytest.mark.django_db
def test_the_admin_refuses_a_look_alike(client, clinic_a, demo):
    from accounts.roles import Role

    lead = staff_of(clinic_a, UserFactory(username="lead_x", is_staff=True), Role.CLINIC_LEAD)
    client = sign_in(client, lead)
    url = reverse("admin:patients_patient_add")
    data = {
        **patient_form(clinic_a, "demo\u200b0001"),
        "status": "active",
        "reminder_leads": "7,1",
        "protocol": demo.protocol_id,
        "courses-TOTAL_FORMS": "0",
        "courses-INITIAL_FORMS": "0",
    }
    response = client.post(url, data)
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "already the hospital number of" in errors["hospital_number"][0]
    assert Patient.objects.count() == 1


@pytest.mark.django_db
def test_the_database_refuses_a_look_alike_that_bypasses_the_checks(clinic_a, demo):
    with pytest.raises(IntegrityError), transaction.atomic():
        # save() fills the key itself, so even a raw create cannot slip past the constraint.
        Patient.objects.create(
            clinic=clinic_a,
            hospital_number="ｄｅｍｏ0001",
            given_name="X",
            family_name="Y",
            date_of_birth=date(1980, 1, 1),
            sex="F",
        )


@pytest.mark.django_db
def test_a_change_to_a_look_alike_is_refused(clinic_a, demo):
    from patients.services import patient_update

    other = PatientFactory(clinic=clinic_a, hospital_number="OTHER1")
    with pytest.raises(ValidationError) as refusal:
        patient_update(patient=other, reason="typo", hospital_number="Demo0001")
    assert "MO, Dee" in refusal.value.message_dict["hospital_number"][0]


@pytest.mark.django_db
@pytest.mark.parametrize("written", LOOK_ALIKES.values(), ids=LOOK_ALIKES.keys())
def test_the_csv_import_finds_the_patient_by_any_look_alike(clinic_a, demo, written):
    content = (
        "hospital_number,sample_date,analyte,value,unit\n"
        f'"{written}",2026-03-02,platelets,245,10^9/L\n'
    ).encode()
    preview = import_read(clinic=clinic_a, content=content, today=date(2026, 11, 21))
    assert [str(problem) for problem in preview.problems] == []
    assert preview.rows[0].patient == demo


@pytest.mark.django_db
def test_the_search_finds_a_look_alike(client, clinic_a, demo):
    client = sign_in(client, staff_of(clinic_a, UserFactory(username="staff_y")))
    response = client.get(reverse("patients:list"), {"q": "ｄｅｍｏ0001"})
    assert [p.pk for p in response.context["page"].object_list] == [demo.pk]


# The migration and the command that report existing look-alikes

BEFORE = [
    ("patients", "0008_record_versions"),
    ("monitoring", "0013_notification_message_ref"),
]
AFTER = [("patients", "0009_hospital_number_key_and_input_limits")]


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_migration_refuses_to_apply_over_look_alikes_and_lists_them():
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    try:
        clinic = old.get_model("patients", "Clinic").objects.create(name="Old clinic", code="old")
        protocol = old.get_model("monitoring", "MonitoringProtocol").objects.first()
        OldPatient = old.get_model("patients", "Patient")
        for number in ("DEMO0001", "demo0001", "H7"):
            OldPatient.objects.create(
                clinic=clinic,
                hospital_number=number,
                given_name="A",
                family_name="B",
                date_of_birth=date(1980, 1, 1),
                sex="F",
                protocol=protocol,
            )
        first, second = OldPatient.objects.filter(
            hospital_number__in=["DEMO0001", "demo0001"]
        ).order_by("pk")
        out = StringIO()
        with pytest.raises(CommandError) as listed:
            call_command("hospital_number_collisions", stdout=out)
        assert "1 hospital number" in str(listed.value)
        assert f"#{first.pk} “DEMO0001”, #{second.pk} “demo0001”" in out.getvalue()
        assert "Old clinic" in out.getvalue()

        executor = MigrationExecutor(connection)
        with pytest.raises(Exception, match="held by more than one patient record") as refused:
            executor.migrate(AFTER)
        assert f"#{first.pk} “DEMO0001”, #{second.pk} “demo0001”" in str(refused.value)
        assert "Old clinic" in str(refused.value)

        # Resolved by a person, the migration applies and fills every key.
        OldPatient.objects.filter(pk=second.pk).update(hospital_number="DEMO0002")
        executor = MigrationExecutor(connection)
        executor.migrate(AFTER)
        new = executor.loader.project_state(AFTER).apps
        keys = set(
            new.get_model("patients", "Patient").objects.values_list(
                "hospital_number_key", flat=True
            )
        )
        assert keys == {"demo0001", "demo0002", "h7"}
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())


@pytest.mark.django_db
def test_the_command_says_when_there_is_nothing_to_resolve(demo):
    out = StringIO()
    call_command("hospital_number_collisions", stdout=out)
    assert "No two patient records" in out.getvalue()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_look_alike_saved_while_the_first_is_uncommitted_gets_the_field_error(clinic_a):
    """The form's check cannot see a record another transaction has not committed yet; the
    constraint then makes the second save wait and fail, and the service answers with the same
    field error, never an IntegrityError (a 500)."""
    if connection.vendor != "postgresql":
        pytest.skip("Concurrent writers need PostgreSQL; SQLite serialises the whole database.")
    first_saved = threading.Event()
    commit_now = threading.Event()
    outcomes: dict[str, object] = {}

    def create(name: str, number: str, hold: bool) -> None:
        try:
            with transaction.atomic():
                patient_create(
                    clinic=clinic_a,
                    hospital_number=number,
                    given_name=name,
                    family_name="Race",
                    date_of_birth=date(1980, 1, 1),
                    sex="F",
                )
                if hold:
                    first_saved.set()
                    commit_now.wait(10)
            outcomes[name] = "stored"
        except Exception as error:
            outcomes[name] = error
        finally:
            connection.close()

    first = threading.Thread(target=create, args=("First", "DEMO0001", True))
    second = threading.Thread(target=create, args=("Second", "demo\u200b0001", False))
    first.start()
    assert first_saved.wait(10)
    second.start()
    _wait_until_a_session_waits_for_a_lock()
    commit_now.set()
    first.join(10)
    second.join(10)
    assert outcomes["First"] == "stored"
    refusal = outcomes["Second"]
    assert isinstance(refusal, ValidationError), refusal
    assert (
        "already the hospital number of RACE, First" in refusal.message_dict["hospital_number"][0]
    )
    assert list(Patient.objects.values_list("given_name", flat=True)) == ["First"]


def _wait_until_a_session_waits_for_a_lock() -> None:
    """Until the second save is blocked on the first's uncommitted row (at most 10 s)."""
    deadline = time.monotonic() + 10
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            if cursor.fetchone()[0]:
                return
            time.sleep(0.02)
    raise AssertionError("The second save never waited for the first.")
