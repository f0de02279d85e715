"""The nurse's daily digest as delivered (Django's in-memory mail box): one e-mail grouped by
patient, counts per section at the top in correct English, a link to the worklist and no
result values."""

from datetime import UTC, date, datetime

import pytest

from monitoring.models import Notification, ScheduledCheck
from monitoring.outbox.delivery import batch_deliver, due_batches
from monitoring.outbox.store import notification_row, notifications_store
from tests.builders import nurse_of, platelets, treated_patient

pytestmark = pytest.mark.django_db

Kind = Notification.Kind
DIGEST_TIME = datetime(2026, 11, 21, 8, 0, tzinfo=UTC)  # 08:00 in London


@pytest.fixture
def nurse(clinic_a):
    return nurse_of(clinic_a, "nurse_a", on_staff=False, email="nurse.a@example.org")


def patient_of(clinic, nurse, number, given, family):
    return treated_patient(
        clinic,
        on=date(2026, 9, 1),
        hospital_number=number,
        given_name=given,
        family_name=family,
        named_nurse=nurse,
    )


def overdue(patient, nurse, count=1):
    checks = ScheduledCheck.objects.filter(patient=patient).order_by("due_date")[:count]
    notifications_store(
        [
            notification_row(
                kind=Kind.OVERDUE,
                delivery=Notification.Delivery.NURSE_DIGEST,
                patient_id=patient.pk,
                user_id=nurse.pk,
                check_id=check.pk,
                now=DIGEST_TIME,
            )
            for check in checks
        ]
    )


def the_digest(mailoutbox):
    Notification.objects.update(not_before=DIGEST_TIME)
    for batch in due_batches(now=DIGEST_TIME):
        batch_deliver(batch=batch, now=DIGEST_TIME)
    (email,) = [m for m in mailoutbox if m.subject.startswith("Daily")]
    return email


def test_one_item_is_counted_in_the_singular(clinic_a, nurse, mailoutbox):
    ada = patient_of(clinic_a, nurse, "H777", "Ada", "Lovelace")
    overdue(ada, nurse)

    email = the_digest(mailoutbox)

    assert email.subject == "Daily monitoring digest: 1 item"
    assert (
        "Your daily monitoring digest for Clinic A: 1 overdue check, for 1 patient." in email.body
    )
    assert "\nH777 (A. Lovelace)\n- " in email.body
    assert "Your worklist: http://localhost:8000/worklist/" in email.body


def test_two_items_are_counted_in_the_plural(clinic_a, nurse, mailoutbox):
    ada = patient_of(clinic_a, nurse, "H777", "Ada", "Lovelace")
    overdue(ada, nurse, count=2)

    email = the_digest(mailoutbox)

    assert email.subject == "Daily monitoring digest: 2 items"
    assert ": 2 overdue checks, for 1 patient." in email.body
    assert email.body.count("\n- ") == 2


def test_items_are_grouped_under_each_patient_with_counts_per_section(
    clinic_a, nurse, clinician, mailoutbox, settings
):
    settings.SITE_URL = "https://monitoring.example.org/"
    ada = patient_of(clinic_a, nurse, "H777", "Ada", "Lovelace")
    bea = patient_of(clinic_a, nurse, "H778", "Bea", "Byron")
    overdue(ada, nurse)
    overdue(bea, nurse, count=2)
    platelets(ada, 120, entered_by=clinician, sample=date(2026, 11, 19))  # amber: the digest

    email = the_digest(mailoutbox)
    body = email.body

    assert email.subject == "Daily monitoring digest: 4 items"
    assert ": 1 result to acknowledge and 3 overdue checks, for 2 patients." in body
    # Ada first (she has a result to acknowledge), each line under her heading, unnamed.
    ada_part = body[body.index("\nH777 (A. Lovelace)\n") : body.index("\nH778 (B. Byron)\n")]
    bea_part = body[body.index("\nH778 (B. Byron)\n") : body.index("Red and critical")]
    assert ada_part.count("\n- ") == 2 and bea_part.count("\n- ") == 2
    assert "AMBER Platelets result" in ada_part.splitlines()[2]
    assert "H777" not in "".join(ada_part.splitlines()[2:])
    assert "Your worklist: https://monitoring.example.org/worklist/" in body
    assert "120" not in body  # no result values in an e-mail
    assert "could not be delivered" not in body  # addressed to this nurse in the first place


def test_the_urgent_email_still_names_the_patient_on_each_line(
    clinic_a, nurse, clinician, mailoutbox
):
    ada = patient_of(clinic_a, nurse, "H777", "Ada", "Lovelace")
    platelets(ada, 23, entered_by=clinician, sample=date(2026, 11, 20))
    Notification.objects.update(not_before=DIGEST_TIME)
    for batch in due_batches(now=DIGEST_TIME):
        batch_deliver(batch=batch, now=DIGEST_TIME)

    (email,) = mailoutbox
    assert email.subject == "Urgent: 1 monitoring alert needs action today"
    assert (
        "- CRITICAL Platelets result, sample of 20 Nov 2026, for H777 (A. Lovelace)." in email.body
    )
