"""The demo gives Elena Rossi a portal sign-in, once, and says where to have tests."""

from datetime import date

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from accounts.roles import Role, is_staff_member
from demo.patients import PORTAL_LOGIN, demo_load
from tests.auth import sign_in

pytestmark = pytest.mark.django_db


def test_the_demo_patient_can_open_the_portal(client):
    clinic, _ = demo_load(today=date(2026, 11, 21))
    demo_load(today=date(2026, 11, 21))  # a second run changes nothing

    user = get_user_model().objects.get(username=PORTAL_LOGIN.username)
    assert user.check_password("demo-patient-password")
    assert not is_staff_member(user)
    assert list(user.groups.values_list("name", flat=True)) == [Role.PATIENT.label]
    assert (user.patient_record.given_name, user.patient_record.family_name) == ("Elena", "Rossi")
    assert clinic.test_instructions

    page = sign_in(client, user, second_factor=False).get(reverse("portal:home"))
    assert page.status_code == 200
    assert page.context["home"].overdue
    assert client.get(reverse("portal:results")).context["results"].groups
