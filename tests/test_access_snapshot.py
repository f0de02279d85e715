"""What a signed-in user may do and see is kept in their session (patients.access_snapshot) and
read again whenever it changes: a role or a clinic taken away counts from the next request."""

from __future__ import annotations

import os

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts import generations
from accounts.roles import Role
from patients.access_snapshot import SESSION_KEY
from tests.auth import sign_in, staff_of
from tests.factories import PatientFactory, UserFactory

pytestmark = pytest.mark.django_db

PATIENT_LIST = reverse("patients:list")
UNREACHABLE = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://127.0.0.1:9/0",  # nothing listens there
        "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
    }
}


@pytest.fixture
def nurse(clinic_a):
    return staff_of(clinic_a, UserFactory(username="nurse_snap"), Role.NURSE)


def detail(patient):
    return reverse("patients:detail", args=[patient.pk])


def test_a_role_taken_away_counts_from_the_next_request(client, nurse):
    sign_in(client, nurse)
    assert client.get(PATIENT_LIST).status_code == 200
    nurse.groups.clear()
    assert client.get(PATIENT_LIST).status_code == 403


def test_a_clinic_left_or_joined_counts_from_the_next_request(client, nurse, clinic_a, clinic_b):
    ours, theirs = PatientFactory(clinic=clinic_a), PatientFactory(clinic=clinic_b)
    sign_in(client, nurse)
    assert client.get(detail(ours)).status_code == 200
    assert client.get(detail(theirs)).status_code == 404
    clinic_b.staff.add(nurse)
    assert client.get(detail(theirs)).status_code == 200
    clinic_a.staff.remove(nurse)  # from the clinic's side
    assert client.get(detail(ours)).status_code == 404


def test_a_role_losing_a_permission_counts_for_everyone_at_once(client, nurse):
    from django.contrib.auth.models import Group, Permission

    sign_in(client, nurse)
    assert client.get(PATIENT_LIST).status_code == 200
    view = Permission.objects.get(codename="view_patient")
    for group in Group.objects.filter(user=nurse):
        group.permissions.remove(view)
    assert client.get(PATIENT_LIST).status_code == 403


def test_an_ordinary_request_reads_no_permission_or_membership(client, nurse, clinic_a):
    patient = PatientFactory(clinic=clinic_a)
    sign_in(client, nurse)
    client.get(detail(patient))
    with CaptureQueriesContext(connection) as captured:
        assert client.get(detail(patient)).status_code == 200
    read = " ".join(q["sql"] for q in captured)
    for table in ("auth_permission", "auth_user_groups", "patients_clinic_staff"):
        assert table not in read


def test_a_snapshot_past_its_age_is_read_again(client, nurse):
    """The bound for a change whose token could not be replaced (the cache down then)."""
    sign_in(client, nurse)
    client.get(PATIENT_LIST)
    session = client.session
    session[SESSION_KEY] = {**session[SESSION_KEY], "taken": 0}
    session.save()
    with CaptureQueriesContext(connection) as captured:
        client.get(PATIENT_LIST)
    assert any("auth_permission" in q["sql"] for q in captured)


def test_without_a_cache_every_request_reads_the_database(client, nurse, settings):
    sign_in(client, nurse)
    settings.CACHES = UNREACHABLE
    assert client.get(PATIENT_LIST).status_code == 200
    nurse.groups.clear()  # its token cannot be replaced either
    assert client.get(PATIENT_LIST).status_code == 403


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs Redis (REDIS_URL)")
def test_a_token_replaced_in_one_process_is_seen_by_another(settings):
    """Every web process keeps its own connection to Redis: a second cache client stands for
    a second process."""
    from django.core.cache.backends.redis import RedisCache

    redis = {"BACKEND": "django.core.cache.backends.redis.RedisCache"}
    settings.CACHES = {"default": {**redis, "LOCATION": os.environ["REDIS_URL"]}}
    other = RedisCache(os.environ["REDIS_URL"], {})
    key = f"test-generation-{os.getpid()}"
    (first,) = generations.tokens(key)
    assert other.get(key) == first
    generations.replace(key)
    assert other.get(key) not in (None, first)
    other.delete(key)
    assert generations.tokens(key) not in (None, (first,))
