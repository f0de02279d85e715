"""A lead's edits of configuration reach the audit trail with old and new values and why:
flag rules, protocols and their items, analytes (shared by every clinic, so every lead reads
them) and clinic settings (only that clinic's leads read them)."""

import pytest
from django.urls import reverse

from monitoring.models import Analyte, FlagRule, MonitoringProtocol
from tests.auth import sign_in, staff_of
from tests.builders import lead_of
from tests.factories import UserFactory
from tests.test_admin import form_data

pytestmark = pytest.mark.django_db

TRAIL = reverse("audit:list")


@pytest.fixture
def admin_lead_a(clinic_a):
    return lead_of(clinic_a, "lead_a", is_staff=True, first_name="Lea", last_name="Lead")


@pytest.fixture
def lead_b(clinic_b):
    return lead_of(clinic_b, "lead_b", is_staff=True)


def admin_edit(client, url: str, reason: str, **changes):
    data = form_data(client.get(url))
    data.update(changes, reason_for_change=reason)
    response = client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    return response


def configuration_rows(client, lead):
    client.logout()
    sign_in(client, lead)
    return [row for row in client.get(TRAIL).context["rows"] if row.is_configuration]


def row_about(rows, record: str):
    found = [row for row in rows if row.record.startswith(record) and row.changes]
    return found[0] if found else None


def changed(row) -> dict[str, tuple[str, str]]:
    return {change.field: (change.old, change.new) for change in row.changes}


def test_a_flag_rule_change_is_shown_with_old_and_new_threshold_to_every_lead(
    client, admin_lead_a, lead_b
):
    rule = FlagRule.objects.get(analyte__code="platelets", tier="critical", condition="below")
    sign_in(client, admin_lead_a)
    admin_edit(
        client,
        reverse("admin:monitoring_flagrule_change", args=[rule.pk]),
        "Haematology asked for an earlier alert",
        threshold="45",
    )

    for lead in (admin_lead_a, lead_b):  # flag rules are shared by every clinic
        row = row_about(configuration_rows(client, lead), "Flag rule: Platelets")
        assert row is not None, f"{lead} does not see the flag rule change"
        assert changed(row) == {"Threshold": ("50", "45")}
        assert (row.who, row.action) == ("Lea Lead", "Changed")
        assert row.reason == "Haematology asked for an earlier alert"
        assert row.clinic is None
    page = client.get(TRAIL).content.decode()
    assert "Flag rule: Platelets: Critical when value below the threshold" in page
    assert "50 → 45" in page and "Configuration, all clinics" in page


def test_a_protocol_and_its_items_changes_are_shown_with_old_and_new_values(
    client, admin_lead_a, lead_b
):
    protocol = MonitoringProtocol.objects.get(slug="default-60m")
    url = reverse("admin:monitoring_monitoringprotocol_change", args=[protocol.pk])
    sign_in(client, admin_lead_a)
    data = form_data(client.get(url))
    grace = int(data["items-0-grace_after_days"])
    data.update(
        {
            "follow_up_months": 48,
            "items-0-grace_after_days": grace + 7,
            "reason_for_change": "Follow-up as on the label",
        }
    )
    assert client.post(url, data).status_code == 302

    for lead in (admin_lead_a, lead_b):
        rows = configuration_rows(client, lead)
        protocol_row = row_about(rows, "Monitoring protocol")
        item_row = row_about(rows, "Protocol item")
        assert changed(protocol_row)["Follow up months"] == ("60", "48")
        assert changed(item_row)["Grace after days"] == (str(grace), str(grace + 7))
        assert protocol_row.reason == item_row.reason == "Follow-up as on the label"


def test_an_analyte_change_is_shown_with_old_and_new_values(client, admin_lead_a, lead_b):
    analyte = Analyte.objects.get(code="platelets")
    old = analyte.plausible_max
    sign_in(client, admin_lead_a)
    admin_edit(
        client,
        reverse("admin:monitoring_analyte_change", args=[analyte.pk]),
        "Lab's analyser reads higher",
        plausible_max=str(old + 500),
    )

    for lead in (admin_lead_a, lead_b):
        row = row_about(configuration_rows(client, lead), "Analyte: Platelets")
        assert changed(row) == {
            "Plausible max": (f"{old.normalize():f}", f"{(old + 500).normalize():f}")
        }


def test_a_clinics_settings_change_is_shown_to_its_leads_and_not_another_clinics(
    client, clinic_a, admin_lead_a, lead_b
):
    sign_in(client, admin_lead_a)
    url = reverse("admin:patients_clinic_change", args=[clinic_a.pk])
    data = form_data(client.get(url))
    data["critical_escalation_hours"] = 2
    assert client.post(url, data).status_code == 302

    row = row_about(configuration_rows(client, admin_lead_a), "Clinic: Clinic A")
    assert changed(row) == {"Critical escalation hours": ("4", "2")}
    assert row.clinic == clinic_a and row.who == "Lea Lead"

    assert row_about(configuration_rows(client, lead_b), "Clinic: Clinic A") is None
    page = client.get(TRAIL).content.decode()
    assert "Clinic A" not in page
    # Nor in the admin's own list of entries.
    listing = client.get(reverse("admin:auditlog_logentry_changelist")).content.decode()
    assert "Clinic A" not in listing


def test_a_change_to_a_clinics_nurse_group_is_shown_with_the_members_before_and_after(
    client, clinic_a, admin_lead_a, lead_b
):
    nurse = staff_of(clinic_a, UserFactory(username="nora", first_name="Nora", last_name="Nurse"))
    sign_in(client, admin_lead_a)
    url = reverse("admin:patients_clinic_change", args=[clinic_a.pk])
    data = form_data(client.get(url))
    data["nurses"] = [nurse.pk]
    assert client.post(url, data).status_code == 302

    rows = configuration_rows(client, admin_lead_a)
    row = next(row for row in rows if "Nurses" in changed(row))
    assert changed(row) == {"Nurses": ("—", "Nora Nurse")}
    assert row.clinic == clinic_a and row.who == "Lea Lead"
    assert not [row for row in configuration_rows(client, lead_b) if "Nurses" in changed(row)]
