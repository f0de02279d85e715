"""The patient list counts each patient's overdue checks as of their own clinic's date, as their
page does, for staff of clinics in time zones a day apart."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from monitoring.models import ScheduledCheck
from tests.auth import sign_in, staff_of
from tests.factories import ClinicFactory, PatientFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_each_row_is_counted_on_its_own_clinics_date(client):
    # UTC-11 and UTC+14: at every instant Kiritimati's date is at least a day after Pago Pago's.
    behind = ClinicFactory(code="pago", name="American Samoa", time_zone="Pacific/Pago_Pago")
    ahead = ClinicFactory(code="kiritimati", name="Kiritimati", time_zone="Pacific/Kiritimati")
    nurse = staff_of(behind, UserFactory(username="two_zones"))
    ahead.staff.add(nurse)
    today = ahead.today(timezone.now())
    patients = {}
    for clinic in (behind, ahead):
        patients[clinic.code] = patient = PatientFactory(clinic=clinic, family_name=clinic.name)
        # Overdue since yesterday on Kiritimati's calendar; today or later on Pago Pago's.
        ScheduledCheck.objects.create(
            patient=patient,
            panel="blood_count",
            kind=ScheduledCheck.Kind.URGENT,
            due_date=today - timedelta(days=8),
            window_opens=today - timedelta(days=12),
            overdue_after=today - timedelta(days=1),
        )
    sign_in(client, nurse)

    listed = client.get(reverse("patients:list")).context["page"].object_list

    counted = {row.pk: (row.overdue_count, row.next_due) for row in listed}
    assert counted == {
        patients["pago"].pk: (0, today - timedelta(days=8)),
        patients["kiritimati"].pk: (1, None),
    }
