"""The clinic overview (reports.overview): every number it shows checked against the clinic
worked out by hand (tests/reports/known_clinic.py), the lists behind them, who may see it, the
live counts, the chart and the refresh button."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from dateutil.relativedelta import relativedelta
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.roles import Role, grant_role
from monitoring.models import LabResult, MonitoringProtocol, Notification
from monitoring.outbox.store import notification_row
from reports.figures.refresh import figures_refresh
from reports.models import ClinicFigures
from tests.auth import sign_in, staff_of
from tests.builders import lead_of, platelets, treated_patient
from tests.factories import PatientFactory, UserFactory
from tests.forms import hidden_fields

from .known_clinic import (
    BLOOD,
    EXPECTED_BY_PANEL,
    EXPECTED_CELLS,
    EXPECTED_NURSES,
    EXPECTED_OVERALL,
    EXPECTED_STAGES,
    EXPECTED_VISITS,
    NOW,
    THYROID,
    check_stored,
    known_clinic,
)

pytestmark = pytest.mark.django_db

OVERVIEW = reverse("reports:overview")
CHECKS = reverse("reports:overview_checks")
PATIENTS = reverse("reports:overview_patients")
CHART = reverse("reports:overview_chart")


def _tuple(counts) -> tuple:
    return (counts.on_time, counts.late, counts.missed, counts.waived, counts.open)


@pytest.fixture
def known():
    known = known_clinic()
    figures_refresh(clinic=known.clinic, now=NOW)
    return known


@pytest.fixture
def lead_client(client, known):
    return sign_in(client, known.lead)


def _page(client, known, **params):
    response = client.get(OVERVIEW, {"clinic": known.clinic.pk, **params})
    assert response.status_code == 200
    return response


def _row_html(response, month: str) -> str:
    html = response.content.decode()
    return re.search(rf'<tr data-month="{month}">(.*?)</tr>', html, re.DOTALL).group(1)


def _cell_texts(row_html: str) -> list[str]:
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row_html, re.DOTALL)
    return [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", cell)).strip() for cell in cells]


def test_stages_and_this_months_visits_are_the_hand_computed_ones(lead_client, known):
    response = _page(lead_client, known)
    stages = {item["href"].split("stage=")[1]: item["n"] for item in response.context["stages"]}
    assert stages == EXPECTED_STAGES
    visits = {item["href"].split("visits=")[1]: item["n"] for item in response.context["visits"]}
    assert visits == EXPECTED_VISITS
    html = response.content.decode()
    assert "As of 15 Jun 2026" in html or "As of 15 June 2026" in html
    assert "(refreshed every hour)" in html
    stage_cells = re.search(r'id="stages">(.*?)</table>', html, re.DOTALL).group(1)
    assert _cell_texts(stage_cells) == [str(n) for n in EXPECTED_STAGES.values()]
    visit_cells = re.search(r'id="visits">(.*?)</table>', html, re.DOTALL).group(1)
    assert _cell_texts(visit_cells) == [str(n) for n in EXPECTED_VISITS.values()]


def _expected_cell_text(counts: tuple) -> str:
    on_time, late, missed, waived, open_ = counts
    counted = on_time + late + missed
    share = f"{round(on_time * 100 / counted)}%" if counted else "—"
    text = f"{on_time} / {counted} = {share}"
    parts = [
        f"{label} {n}"
        for label, n in (
            ("late", late),
            ("missed", missed),
            ("waived", waived),
            ("window still open", open_),
        )
        if n
    ]
    return f"{text} {' '.join(parts)}".strip()


def test_every_adherence_cell_and_total_is_the_hand_computed_one(lead_client, known):
    response = _page(lead_client, known)
    table = response.context["adherence"]
    assert len(table["rows"]) == 24
    assert table["rows"][0]["month"] == date(2026, 6, 1)  # newest first
    assert table["rows"][-1]["month"] == date(2024, 7, 1)
    panels = [value for value, _ in response.context["table"].panels]
    assert panels == [BLOOD, THYROID]
    for row in table["rows"]:
        month = row["month"]
        expected = [EXPECTED_CELLS.get((panel, month), (0, 0, 0, 0, 0)) for panel in panels]
        overall = tuple(map(sum, zip(*expected, strict=True)))
        assert [_tuple(cell["counts"]) for cell in row["cells"]] == [*expected, overall]
        # And on the page, as text.
        texts = _cell_texts(_row_html(response, f"{month:%Y-%m}"))
        assert texts == [_expected_cell_text(counts) for counts in (*expected, overall)]
    totals = [_tuple(cell["counts"]) for cell in table["totals"]]
    assert totals == [EXPECTED_BY_PANEL[BLOOD], EXPECTED_BY_PANEL[THYROID], EXPECTED_OVERALL]
    assert _cell_texts(_row_html(response, "total")) == [
        "2 / 5 = 40% missed 3 window still open 2",
        "0 / 1 = 0% late 1 waived 1 window still open 1",
        "2 / 6 = 33% late 1 missed 3 waived 1 window still open 3",
    ]
    may = _cell_texts(_row_html(response, "2026-05"))
    assert may[-1] == "2 / 4 = 50% late 1 missed 1 waived 1"


def test_the_per_nurse_rows_and_the_nurse_filter(lead_client, known):
    response = _page(lead_client, known)
    rows = {row["name"]: _tuple(row["counts"]) for row in response.context["nurse_rows"]}
    assert rows == EXPECTED_NURSES
    html = re.search(r'id="nurses">(.*?)</table>', response.content.decode(), re.DOTALL)[1]
    assert _cell_texts(html) == [
        "1 / 3 = 33% late 1 missed 1 window still open 1",
        "0 / 2 = 0% missed 2 waived 1",
        "1 / 1 = 100% window still open 2",
    ]
    nora = _page(lead_client, known, nurse=known.nora.pk)
    assert (
        _tuple(nora.context["adherence"]["totals"][-1]["counts"])
        == EXPECTED_NURSES["Nora Nightingale"]
    )
    # The per-nurse rows always show every nurse.
    assert len(nora.context["nurse_rows"]) == 3
    nobody = _page(lead_client, known, nurse="none")
    assert _tuple(nobody.context["adherence"]["totals"][-1]["counts"]) == (1, 0, 0, 0, 2)
    for nonsense in ("x'; drop", "99999999999999999999", "-1", "٣"):
        page = _page(lead_client, known, nurse=nonsense)
        assert _tuple(page.context["adherence"]["totals"][-1]["counts"]) == EXPECTED_OVERALL


def _listed(client, known, **params) -> set:
    response = client.get(CHECKS, {"clinic": known.clinic.pk, **params})
    assert response.status_code == 200
    assert "read live" in response.content.decode()
    return {
        (row["check"].patient.given_name, row["check"].panel, row["check"].due_date)
        for row in response.context["rows"]
    }


def test_the_checks_behind_a_figure_are_exactly_the_hand_computed_ones(lead_client, known):
    may = {"month": "2026-05"}
    assert _listed(lead_client, known, panel=BLOOD, outcome="missed", **may) == {
        ("Piet", BLOOD, date(2026, 5, 10))
    }
    assert _listed(lead_client, known, panel=BLOOD, outcome="on_time", **may) == {
        ("Pia", BLOOD, date(2026, 5, 10)),
        ("Pam", BLOOD, date(2026, 5, 20)),
    }
    assert _listed(lead_client, known, panel=THYROID, outcome="late", **may) == {
        ("Pia", THYROID, date(2026, 5, 10))
    }
    assert _listed(lead_client, known, panel=THYROID, outcome="waived", **may) == {
        ("Piet", THYROID, date(2026, 5, 20))
    }
    # The whole month: the counted checks only (not the cancelled, urgent or before tracking).
    assert len(_listed(lead_client, known, **may)) == 5
    # Per nurse, across the months shown: Olu's patients' missed checks.
    olu = _listed(lead_client, known, nurse=known.olu.pk, outcome="missed")
    assert olu == {("Piet", BLOOD, date(2026, 5, 10)), ("Piet", BLOOD, date(2026, 6, 5))}
    assert _listed(lead_client, known, nurse="none", outcome="on_time") == {
        ("Pam", BLOOD, date(2026, 5, 20))
    }
    # July 2024's missed blood count is inside the 24 months; June 2024's is not.
    pia_2024 = _listed(lead_client, known, nurse=known.nora.pk, panel=BLOOD, month="2024-07")
    assert pia_2024 == {("Pia", BLOOD, date(2024, 7, 3))}


def test_a_listed_check_shows_its_patient_and_dates(lead_client, known):
    response = lead_client.get(
        CHECKS,
        {"clinic": known.clinic.pk, "panel": THYROID, "month": "2026-05", "outcome": "waived"},
    )
    html = response.content.decode()
    assert reverse("patients:detail", args=[known.piet.pk]) in html
    assert known.piet.hospital_number in html
    assert "Done at another hospital last week" in html


@pytest.mark.parametrize(
    "params",
    [
        {"month": "2026-13"},
        {"month": "0000-01"},
        {"month": "x"},
        {"panel": "nonsense"},
        {"outcome": "lost"},
        {"page": "999999"},
        {"page": "x"},
        {"nurse": "9" * 30},
        {"clinic": "abc"},
    ],
)
def test_nonsense_in_the_lists_address_is_ignored(lead_client, known, params):
    for url in (CHECKS, PATIENTS, OVERVIEW, CHART):
        assert lead_client.get(url, params).status_code == 200, (url, params)
    assert lead_client.get(PATIENTS, {"stage": "nowhere", "visits": "never"}).status_code == 200


def test_the_patients_of_a_stage_and_this_months_visits(lead_client, known):
    def names(**params):
        response = lead_client.get(PATIENTS, {"clinic": known.clinic.pk, **params})
        assert response.status_code == 200
        return [
            item["row"].given_name if "stage" in params else item["row"]["patient__given_name"]
            for item in response.context["rows"]
        ]

    assert sorted(names(stage="before_first_course")) == ["Pam", "Pia", "Piet"]
    assert names(stage="in_treatment") == ["Tom"]
    assert names(stage="in_follow_up") == ["Fay"]
    assert len(names(stage="deceased")) == 1
    for stage, n in EXPECTED_STAGES.items():
        assert len(names(stage=stage)) == n
    # The visits of the figures' month (June 2026), each in its state read live today: the
    # visits still open then have all gone overdue since.
    assert names(visits="done") == ["Pia"]
    assert names(visits="overdue") == ["Piet", "Pam", "Pam"]
    assert names(visits="due") == names(visits="upcoming") == []


def test_this_months_visits_by_state_live(client, clinic_a):
    """Today's month in a clinic of its own: a visit done, one overdue, one due, one to come."""
    lead = lead_of(clinic_a, "lead_a")
    today = clinic_a.today()
    first = today.replace(day=1)
    protocol = MonitoringProtocol.objects.alemtuzumab().get(is_default=True)
    item = protocol.items.filter(kind="recurring", panel=BLOOD).first()
    people = {}
    for name in ("Dana", "Ola", "Duc", "Uma"):
        people[name] = PatientFactory(clinic=clinic_a, given_name=name)
    # A visit on the 1st done; one due on the 1st, overdue since yesterday (if today is the
    # 1st, it is due today instead); one whose window is open; one to come.
    check_stored(people["Dana"], item, 1, first, 0, completed=first, entered_by=lead)
    if today > first:
        check_stored(people["Ola"], item, 1, first, 0, entered_by=lead)
    check_stored(people["Duc"], item, 1, today, 0, entered_by=lead)
    last = first + relativedelta(months=1) - timedelta(days=1)
    if last > today:
        check_stored(people["Uma"], item, 1, last, 0, opens=last, entered_by=lead)
    sign_in(client, lead)

    def names(state):
        response = client.get(PATIENTS, {"visits": state})
        return [item["row"]["patient__given_name"] for item in response.context["rows"]]

    assert names("done") == ["Dana"]
    assert names("overdue") == (["Ola"] if today > first else [])
    assert names("due") == ["Duc"]
    assert names("upcoming") == (["Uma"] if last > today else [])


def test_who_may_see_the_overview(client, known, clinic_b):
    staff = staff_of(known.clinic, UserFactory(username="front_desk"))  # clinic staff role
    sign_in(client, staff)
    for url in (OVERVIEW, CHART, CHECKS, PATIENTS):
        assert client.get(url).status_code == 403
    client.logout()
    sign_in(client, known.nora)
    assert client.get(OVERVIEW, {"clinic": known.clinic.pk}).status_code == 200
    for url in (OVERVIEW, CHART, CHECKS, PATIENTS):
        assert client.get(url, {"clinic": clinic_b.pk}).status_code == 404
    client.logout()
    patient_user = UserFactory(username="pia@example.org")
    grant_role(patient_user, Role.PATIENT)
    known.pia.user = patient_user
    known.pia.save(update_fields=["user"])
    sign_in(client, patient_user, second_factor=False)
    assert client.get(OVERVIEW).status_code == 403
    assert client.get(OVERVIEW, {"clinic": known.clinic.pk}).status_code in (403, 404)


def test_nurses_see_no_refresh_button_and_may_not_post_it(client, known):
    sign_in(client, known.nora)
    response = _page(client, known)
    assert response.context["refresh_form"] is None
    assert "Refresh now" not in response.content.decode()
    url = f"{OVERVIEW}?clinic={known.clinic.pk}"
    assert (
        client.post(url, {"submission_key": "00000000-0000-4000-8000-000000000000"}).status_code
        == 403
    )


def test_refresh_now_refreshes_once_however_often_it_is_sent(lead_client, known):
    url = f"{OVERVIEW}?clinic={known.clinic.pk}"
    page = lead_client.get(url)
    assert "Refresh now" in page.content.decode()
    data = hidden_fields(page)
    first = lead_client.post(url, data)
    assert first.status_code == 302 and first["Location"] == url
    refreshed = ClinicFigures.objects.get(clinic=known.clinic).refreshed_at
    assert refreshed > NOW
    again = lead_client.post(url, data)
    assert again["Location"] == url
    assert ClinicFigures.objects.get(clinic=known.clinic).refreshed_at == refreshed


def test_a_clinic_never_refreshed_says_so_and_offers_the_button(client, clinic_a):
    lead = lead_of(clinic_a, "lead_a")
    response = sign_in(client, lead).get(OVERVIEW)
    assert response.status_code == 200
    html = response.content.decode()
    assert "have not been computed yet" in html
    assert "Refresh now" in html
    assert client.get(CHART).status_code == 200


def test_results_waiting_and_undelivered_alerts_are_counted_live(client, clinic_a, clinic_b):
    lead = lead_of(clinic_a, "lead_a")
    patient = treated_patient(clinic_a, days_ago=75, given=True)
    now = timezone.now()
    platelets(patient, "120", entered_by=lead, days_ago=1, tier_since=now - timedelta(hours=2))
    platelets(patient, "80", entered_by=lead, days_ago=2, tier_since=now - timedelta(days=2))
    critical = platelets(
        patient, "45", entered_by=lead, days_ago=3, tier_since=now - timedelta(days=5)
    )
    other = treated_patient(clinic_b, days_ago=75, given=True)
    platelets(other, "45", entered_by=lead, days_ago=1)
    failed = notification_row(
        kind=Notification.Kind.ABNORMAL_RESULT,
        delivery=Notification.Delivery.AT_ONCE,
        patient_id=patient.pk,
        user_id=lead.pk,
        result_id=critical.pk,
        tier=critical.tier,
        now=now,
    )
    failed.status = Notification.Status.FAILED
    failed.last_error = "The recipient has no email address."
    failed.save()
    response = sign_in(client, lead).get(OVERVIEW)
    waiting = {row["tier"]: row["ages"] for row in response.context["waiting"]}
    expected = {"amber": [1, 0, 0], "red": [0, 1, 0], "critical": [0, 0, 1]}
    # Recording a red or critical count may also flag the patient's earlier results, so read
    # what is waiting and check the page against it.
    waiting_rows = LabResult.objects.filter(awaits_acknowledgement=True, patient=patient)
    assert waiting_rows.count() == 3
    assert waiting == expected
    assert response.context["waiting_total"] == 3
    assert response.context["undelivered"] == 1
    row = next(row for row in response.context["waiting"] if row["tier"] == "red")
    assert row["href"] == f"{reverse('monitoring:worklist')}?clinic={clinic_a.pk}&tier=red"
    assert client.get(row["href"]).status_code == 200
    Notification.objects.filter(pk=failed.pk).update(handled_at=now)
    assert sign_in(client, lead).get(OVERVIEW).context["undelivered"] == 0


def test_the_chart_is_svg_that_points_nowhere_and_may_style_itself(lead_client, known):
    response = lead_client.get(CHART, {"clinic": known.clinic.pk})
    assert response.status_code == 200
    assert response["Content-Type"] == "image/svg+xml"
    svg = response.content.decode()
    assert svg.startswith("<svg")
    assert "<style" in svg and "<script" not in svg
    assert set(re.findall(r"https?://[^\"'\s<>]+", svg)) == {"http://www.w3.org/2000/svg"}
    policy = response["Content-Security-Policy"]
    assert "style-src 'unsafe-inline'" in policy
    assert "script-src 'none'" in policy
    # The page keeps its strict policy and shows the chart as an image with the table beside.
    page = _page(lead_client, known)
    assert "style-src 'self'" in page["Content-Security-Policy"]
    assert f'src="{CHART}?clinic={known.clinic.pk}"' in page.content.decode()


def test_the_chart_is_drawn_once_per_refresh(lead_client, known):
    params = {"clinic": known.clinic.pk}
    lead_client.get(CHART, params)
    with CaptureQueriesContext(connection) as cached:
        lead_client.get(CHART, params)
    with CaptureQueriesContext(connection) as drawn:
        lead_client.get(CHART, {**params, "nurse": known.nora.pk})
    assert len(drawn) > len(cached)
    figures_refresh(clinic=known.clinic)
    with CaptureQueriesContext(connection) as after_refresh:
        lead_client.get(CHART, params)
    assert len(after_refresh) == len(drawn)


def test_the_overview_takes_the_same_queries_for_one_patient_and_for_many(client, clinic_a):
    lead = lead_of(clinic_a, "lead_a")
    nurse = staff_of(clinic_a, UserFactory(username="nurse_x", first_name="Xena"), Role.NURSE)
    clinic_a.nurses.add(nurse)
    first = treated_patient(clinic_a, days_ago=400, given=True)
    first.named_nurse = nurse
    first.save(update_fields=["named_nurse"])
    platelets(first, "45", entered_by=lead, days_ago=1)
    figures_refresh(clinic=clinic_a)
    sign_in(client, lead)
    client.get(OVERVIEW)
    with CaptureQueriesContext(connection) as one:
        assert client.get(OVERVIEW).status_code == 200
    for _ in range(5):
        patient = treated_patient(clinic_a, days_ago=400, given=True)
        patient.named_nurse = nurse
        patient.save(update_fields=["named_nurse"])
        platelets(patient, "45", entered_by=lead, days_ago=1)
    figures_refresh(clinic=clinic_a)
    with CaptureQueriesContext(connection) as many:
        assert client.get(OVERVIEW).status_code == 200
    assert len(many) == len(one)


def test_the_lists_behind_take_the_same_queries_for_few_and_many_rows(lead_client, known):
    params = {"clinic": known.clinic.pk}
    with CaptureQueriesContext(connection) as few:
        lead_client.get(CHECKS, {**params, "month": "2026-05", "panel": THYROID})
    with CaptureQueriesContext(connection) as many:
        lead_client.get(CHECKS, params)
    assert len(few) == len(many)
    with CaptureQueriesContext(connection) as few:
        lead_client.get(PATIENTS, {**params, "stage": "deceased"})
    with CaptureQueriesContext(connection) as many:
        lead_client.get(PATIENTS, {**params, "stage": "before_first_course"})
    assert len(few) == len(many)


def test_a_lead_lands_on_the_overview(client, known):
    response = sign_in(client, known.lead).get(reverse("home"))
    assert response["Location"] == OVERVIEW
    response = sign_in(client, known.nora).get(reverse("home"))
    assert response["Location"] == reverse("monitoring:worklist")


def test_the_nav_links_the_overview_for_nurses_and_leads(client, known):
    html = sign_in(client, known.nora).get(OVERVIEW).content.decode()
    assert f'href="{OVERVIEW}">Overview<' in html
    assert Permission.objects.filter(codename="view_overview").exists()
