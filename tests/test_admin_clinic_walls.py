"""The admin keeps clinic walls: a lead of clinic A is shown, and may post, nothing of clinic B.

The walk takes every ModelAdmin from admin.site._registry, so an admin registered later is
covered without touching this file: its list, add and change pages (and autocompletes) are read
as clinic A's lead and searched for anything of clinic B, and every choice of a clinic, a person
or a patient on its forms is posted with clinic B's ids, which must be refused."""

from __future__ import annotations

from datetime import date

import pytest
from django import forms
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.core.exceptions import FieldError
from django.forms.models import model_to_dict
from django.test import RequestFactory
from django.urls import NoReverseMatch, reverse

from accounts.roles import Role, grant_role
from labfeeds.intake import message_receive
from labfeeds.models import LabConnection, WaitingResult
from labfeeds.tokens import token_create
from patients.models import Clinic, Patient
from patients.therapies.services import episode_start
from tests.auth import sign_in, staff_of
from tests.builders import acknowledge, nurse_of, platelets, with_course_one
from tests.factories import ClinicFactory, PatientFactory, UserFactory

pytestmark = pytest.mark.django_db

User = get_user_model()


class World:
    """Clinic A with a lead, a nurse and a patient who has a course, results, an acknowledged
    alert and a portal account; clinic B with the same, under names found nowhere else."""

    def __init__(self):
        self.clinic_a = ClinicFactory(code="clinic-a", name="Clinic A")
        self.lead_a = staff_of(
            self.clinic_a, UserFactory(username="lead_a", is_staff=True), Role.CLINIC_LEAD
        )
        self.clinic_a.lead = self.lead_a
        self.clinic_a.save()
        self.nurse_a = nurse_of(self.clinic_a, "nurse_a")
        self.patient_a = self._patient(self.clinic_a, "Ada", "Patient", "A-1", self.nurse_a)

        self.clinic_b = ClinicFactory(code="clinic-b", name="Quarrywood Neurology")
        self.lead_b = staff_of(
            self.clinic_b,
            UserFactory(
                username="zebulon_b",
                first_name="Zebulon",
                last_name="Quillfeather",
                email="zebulon@quarrywood.example",
                is_staff=True,
            ),
            Role.CLINIC_LEAD,
        )
        self.clinic_b.lead = self.lead_b
        self.clinic_b.save()
        self.nurse_b = nurse_of(
            self.clinic_b,
            "yarrow_b",
            first_name="Yarrow",
            last_name="Vantongeren",
            email="yarrow@quarrywood.example",
        )
        self.patient_b = self._patient(
            self.clinic_b, "Xanthippe", "Ottoline", "QW-777", self.nurse_b
        )
        # A patient's account linked to no record (its patient unlinked): nobody's but a
        # superuser's to see.
        self.orphan = UserFactory(username="orphan_wq", email="wilhelmina@quarrywood.example")
        grant_role(self.orphan, Role.PATIENT)

        for clinic, lead in ((self.clinic_a, self.lead_a), (self.clinic_b, self.lead_b)):
            self._lab_feed(clinic, lead)

        self.b_users = [self.lead_b, self.nurse_b, self.patient_b.user, self.orphan]
        self.b_words = [self.clinic_b.name, self.patient_b.hospital_number]
        for user in self.b_users:
            self.b_words += [user.username, user.email, user.first_name, user.last_name]
        self.b_words += [self.patient_b.given_name, self.patient_b.family_name]
        self.b_words = [word for word in self.b_words if word]

    def _patient(self, clinic, given, family, number, nurse):
        patient = PatientFactory(
            clinic=clinic,
            given_name=given,
            family_name=family,
            hospital_number=number,
            named_nurse=nurse,
        )
        with_course_one(patient, on=date(2024, 1, 15))
        # A therapy given in the clinic: an episode with a planned dose, for their admins.
        episode_start(
            patient=patient, therapy="natalizumab", started_on=date(2025, 6, 2), recorded_by=nurse
        )
        account = UserFactory(
            username=f"{given.lower()}_portal", email=f"{given.lower()}@{clinic.code}.example"
        )
        grant_role(account, Role.PATIENT)
        Patient.objects.filter(pk=patient.pk).update(user=account)
        patient.refresh_from_db()
        result = platelets(patient, "45", entered_by=nurse, days_ago=1)  # critical: alerts
        acknowledge(result, nurse)
        return patient

    def _lab_feed(self, clinic, lead):
        """A lab connection with a token, a message and a result waiting for a person."""
        lab = LabConnection.objects.create(
            clinic=clinic, name=f"Lab of {clinic.code}", hl7_sending_facility=clinic.code
        )
        token_create(clinic=clinic, name="Feed", scope="lab", created_by=lead, connection=lab)
        message, _ = message_receive(protocol="hl7", raw="MSH|", connection=lab, control_id="1")
        WaitingResult.objects.create(
            message=message, clinic=clinic, reason="unknown_patient", hospital_number="NOBODY"
        )

    def b_ids_for(self, model) -> list[int]:
        """Clinic B's rows a form field pointing to `model` might be posted with."""
        if model is Clinic:
            return [self.clinic_b.pk]
        if model is Patient:
            return [self.patient_b.pk]
        if model is User:
            return [user.pk for user in self.b_users]
        return []


@pytest.fixture
def world():
    return World()


@pytest.fixture
def lead_client(client, world):
    return sign_in(client, world.lead_a)


def registered_admins():
    return sorted(admin.site._registry.items(), key=lambda pair: pair[0]._meta.label)


def admin_url(model, page: str, *args) -> str | None:
    try:
        return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{page}", args=args)
    except NoReverseMatch:
        return None


def leaks(world, response, where: str) -> list[str]:
    text = response.content.decode()
    leaked = [word for word in world.b_words if word in text]
    return [f"{where} shows clinic B's {leaked}"] if leaked else []


def posted_back(form) -> dict:
    """What the form posts back unchanged."""
    data = {}
    for name in form.fields:
        value = form[name].value()
        if value is None or value is False:
            continue
        data[name] = value
    return data


def scoped_fields(form, world) -> dict[str, list[int]]:
    """The form's choices of a clinic, a person or a patient, with clinic B's ids for each."""
    found = {}
    for name, field in form.fields.items():
        queryset = getattr(field, "queryset", None)
        if queryset is not None and world.b_ids_for(queryset.model):
            found[name] = world.b_ids_for(queryset.model)
    return found


def b_ids_accepted(world, client, url: str, page, model, obj=None) -> tuple[int, list[str]]:
    """Post each scoped field with each of clinic B's ids; every one must be refused on its
    field and nothing stored. Returns how many posts were made and what was accepted."""
    form = page.context["adminform"].form
    before = Patient.objects.count(), model._default_manager.count()
    stored = model_to_dict(obj) if obj is not None else None
    posts, accepted = 0, []
    for name, b_ids in scoped_fields(form, world).items():
        many = isinstance(form.fields[name], forms.ModelMultipleChoiceField)
        for b_id in b_ids:
            data = {**posted_back(form), "reason_for_change": "Walking the clinic walls"}
            data[name] = [b_id] if many else b_id
            response = client.post(url, data)
            posts += 1
            if response.status_code != 200 or name not in response.context["adminform"].form.errors:
                accepted.append(f"{url} accepted clinic B's id {b_id} for {name}")
    if (Patient.objects.count(), model._default_manager.count()) != before:
        accepted.append(f"{url} stored a row from clinic B's ids")
    if obj is not None:
        obj.refresh_from_db()
        if model_to_dict(obj) != stored:
            accepted.append(f"{url} changed {obj!r} from clinic B's ids")
    return posts, accepted


def test_a_lead_sees_and_may_post_nothing_of_another_clinic_on_any_admin_page(world, lead_client):
    request = RequestFactory().get("/admin/")
    request.user = world.lead_a
    walked, posts, problems = [], 0, []
    for model, model_admin in registered_admins():
        label = model._meta.label
        listing = lead_client.get(admin_url(model, "changelist"))
        assert listing.status_code in (200, 403), f"{label} list: {listing.status_code}"
        if listing.status_code == 403:
            continue  # the lead's role does not reach this admin at all
        problems += leaks(world, listing, f"{label} list")
        walked.append(label)

        add_url = admin_url(model, "add")
        if model_admin.has_add_permission(request):
            page = lead_client.get(add_url)
            assert page.status_code == 200
            problems += leaks(world, page, f"{label} add form")
            made, accepted = b_ids_accepted(world, lead_client, add_url, page, model)
            posts, problems = posts + made, problems + accepted

        rows = model_admin.get_queryset(request)
        obj = rows.order_by("pk").first()
        assert obj is not None, f"build a clinic A row of {label} in World to walk its page"
        if rows.filter(pk__in=_b_rows(model, world)).exists():
            problems.append(f"{label} lists clinic B's rows")
        change_url = admin_url(model, "change", obj.pk)
        page = lead_client.get(change_url)
        assert page.status_code == 200, f"{label} change page: {page.status_code}"
        problems += leaks(world, page, f"{label} change form")
        if model_admin.has_change_permission(request, obj):
            made, accepted = b_ids_accepted(world, lead_client, change_url, page, model, obj)
            posts, problems = posts + made, problems + accepted

        for field_name in model_admin.get_autocomplete_fields(request):
            found = lead_client.get(
                reverse("admin:autocomplete"),
                {
                    "app_label": model._meta.app_label,
                    "model_name": model._meta.model_name,
                    "field_name": field_name,
                    "term": "",
                },
            )
            assert found.status_code == 200
            problems += leaks(world, found, f"{label}.{field_name} autocomplete")
    assert not problems, "\n".join(problems)
    # The walk reached the admins a lead works in, and tried clinic B's ids on their forms.
    assert {"patients.Patient", "patients.Clinic", "patients.InfusionCourse"} <= set(walked)
    assert posts >= 10


def _b_rows(model, world):
    """Clinic B's own rows of `model`, where a path to a clinic is obvious."""
    if model is Clinic:
        return [world.clinic_b.pk]
    for path in ("clinic", "patient__clinic"):
        try:
            return model._default_manager.filter(**{path: world.clinic_b}).values("pk")
        except FieldError:
            continue
    return []
