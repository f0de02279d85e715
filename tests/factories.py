"""Factories for the test personas: clinics, patients and their courses."""

from datetime import date
from decimal import Decimal

import factory
from django.contrib.auth import get_user_model

from patients.models import Clinic, InfusionCourse, Patient


class ClinicFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Clinic
        django_get_or_create = ("code",)

    name = factory.Sequence(lambda n: f"MS Centre {n}")
    code = factory.Sequence(lambda n: f"clinic-{n}")
    time_zone = "Europe/London"


class PatientFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Patient

    clinic = factory.SubFactory(ClinicFactory)
    hospital_number = factory.Sequence(lambda n: f"H{n:06d}")
    given_name = factory.Faker("first_name")
    family_name = factory.Faker("last_name")
    date_of_birth = date(1985, 6, 15)
    sex = Patient.Sex.FEMALE
    # Tracked since long before any test's courses, so every check of the plan is work; tests
    # of the tracking start set it (or go through patient_create, which uses today).
    tracked_from = date(2000, 1, 1)


class CourseFactory(factory.django.DjangoModelFactory):
    """A stored course, bypassing the services; tests of rules use the services instead."""

    class Meta:
        model = InfusionCourse

    patient = factory.SubFactory(PatientFactory)
    number = 1
    first_infusion_date = date(2024, 1, 31)
    days = 5
    daily_dose_mg = Decimal("12.0")
    status = InfusionCourse.Status.GIVEN


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.org")
