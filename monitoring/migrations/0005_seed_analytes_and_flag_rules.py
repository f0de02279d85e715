"""Seed the analyte catalogue (clinical-rules.md section 4) and the default flag rules
(section 3). Both are clinic data from here on: leads edit them in the admin."""

from decimal import Decimal

from django.db import migrations

DIPSTICK = ["negative", "trace", "1+", "2+", "3+"]
ONE_PLUS = 2  # the position of "1+" on the dipstick scale

# code, name, LOINC, other LOINC, panel, unit, {other unit: factor}, scale, plausible max,
# decimals, default reference low, default reference high
ANALYTES = [
    ("platelets", "Platelets", "777-3", [], "blood_count", "10^9/L", {"10^3/uL": "1"}, [],
     "3000", 0, "150", "400"),
    ("wbc", "White cells (WBC)", "6690-2", [], "blood_count", "10^9/L", {"10^3/uL": "1"}, [],
     "500", 1, "4.0", "11.0"),
    ("neutrophils", "Neutrophils", "751-8", [], "blood_count", "10^9/L", {"10^3/uL": "1"}, [],
     "300", 2, "1.5", "7.5"),
    ("lymphocytes", "Lymphocytes", "731-0", [], "blood_count", "10^9/L", {"10^3/uL": "1"}, [],
     "500", 2, "1.0", "4.0"),
    ("haemoglobin", "Haemoglobin", "718-7", [], "blood_count", "g/L", {"g/dL": "10"}, [],
     "250", 0, "120", "170"),
    ("creatinine", "Creatinine", "14682-9", ["2160-0"], "kidney", "umol/L", {"mg/dL": "88.4"},
     [], "3000", 0, "45", "110"),
    ("urine_blood", "Urine blood (dipstick)", "5794-3", [], "urine", "", {}, DIPSTICK,
     None, 0, None, None),
    ("urine_protein", "Urine protein (dipstick)", "20454-5", [], "urine", "", {}, DIPSTICK,
     None, 0, None, None),
    ("urine_rbc", "Urine red cells", "13945-1", [], "urine", "/hpf", {}, [], "1000", 0,
     None, "5"),
    ("tsh", "TSH", "3016-3", [], "thyroid", "mU/L", {"uIU/mL": "1"}, [], "500", 2,
     "0.4", "4.0"),
    ("free_t4", "Free T4", "3024-7", [], "thyroid", "pmol/L", {"ng/dL": "12.87"}, [], "200", 1,
     "12", "22"),
    ("alt", "ALT", "1742-6", [], "liver", "U/L", {}, [], "20000", 0, None, "40"),
    ("ast", "AST", "1920-8", [], "liver", "U/L", {}, [], "20000", 0, None, "40"),
    ("bilirubin", "Total bilirubin", "1975-2", [], "liver", "umol/L", {"mg/dL": "17.1"}, [],
     "1000", 0, None, "21"),
]

PLATELET_WHY = (
    "Immune thrombocytopenia (ITP) is the fatal risk: a patient died of intracranial "
    "haemorrhage after low platelets went unrecognised (seed paper 001)."
)
NEUTROPHIL_WHY = (
    "Neutropenia has been reported within 2 months of infusion (US prescribing information); "
    "haematology referral below 1.0 is general practice."
)
HB_WHY = "Autoimmune haemolytic anaemia (US prescribing information); numbers: project default."
CREATININE_WHY = (
    "Anti-GBM disease (US prescribing information, seed paper 004); 1.5x and 3x the baseline "
    "are the KDIGO acute kidney injury stages."
)
URINE_WHY = (
    "EU SmPC: haematuria and/or proteinuria need specialist referral. Not explained by "
    "menstruation: ask and record it in the acknowledgement."
)
TSH_WHY = (
    "Thyroid disease affects 17-34% of patients (seed papers 001, 004); a low TSH needs free T4 "
    "and TSH receptor antibodies."
)
LIVER_WHY = (
    "Autoimmune hepatitis (EMA review 2020); 3x the upper limit is the usual drug-induced liver "
    "injury threshold."
)

# analyte, tier, condition, threshold, next action, rationale, [with analyte, condition, threshold]
RULES = [
    ("platelets", "amber", "below", "150", "Repeat the blood count within 7 days.",
     PLATELET_WHY + " Amber below 150 x10^9/L: project default."),
    ("platelets", "amber", "fall_from_previous", "0.5", "Repeat the blood count at once.",
     PLATELET_WHY + " A fall of 50% or more: Belgian consensus 2018, repeat the count at once."),
    ("platelets", "red", "below", "100",
     "Call the patient today, repeat the count and ask about bruising or bleeding.",
     PLATELET_WHY + " Below 100 x10^9/L is the definition of ITP."),
    ("platelets", "critical", "below", "50",
     "Emergency: call the patient now and arrange same-day haematology review.",
     PLATELET_WHY + " Below 50 x10^9/L: bleeding risk, emergency."),
    ("neutrophils", "amber", "below", "1.5", "Repeat the blood count within 7 days.",
     NEUTROPHIL_WHY),
    ("neutrophils", "red", "below", "1.0", "Call the patient today and refer to haematology.",
     NEUTROPHIL_WHY),
    ("neutrophils", "critical", "below", "0.5",
     "Emergency: call the patient now; fever needs same-day assessment.", NEUTROPHIL_WHY),
    ("haemoglobin", "amber", "below_reference", "0", "Repeat the blood count within 7 days.",
     HB_WHY),
    ("haemoglobin", "red", "fall_from_baseline", "20",
     "Call the patient today; check for haemolysis.", HB_WHY),
    ("haemoglobin", "critical", "below", "70",
     "Emergency: call the patient now and arrange same-day review.", HB_WHY),
    ("creatinine", "amber", "above_reference_times", "1",
     "Repeat creatinine and urinalysis within 7 days.", CREATININE_WHY),
    ("creatinine", "red", "rise_from_baseline_times", "1.5",
     "Call the patient today and refer to nephrology.", CREATININE_WHY),
    ("creatinine", "critical", "rise_from_baseline_times", "3",
     "Emergency: same-day nephrology review.", CREATININE_WHY),
    ("urine_blood", "amber", "at_least", ONE_PLUS,
     "Repeat urinalysis with microscopy; ask about menstruation.", URINE_WHY),
    ("urine_blood", "red", "at_least", ONE_PLUS,
     "Call the patient today and refer to nephrology.", URINE_WHY,
     "urine_protein", "at_least", ONE_PLUS),
    ("urine_blood", "red", "at_least", ONE_PLUS,
     "Call the patient today and refer to nephrology.", URINE_WHY,
     "creatinine", "above_reference_times", "1"),
    ("urine_rbc", "amber", "above", "5", "Repeat urinalysis with microscopy.",
     "More than 5 red cells per high-power field: project default."),
    ("tsh", "amber", "below_reference", "0", "Check free T4 and TSH receptor antibodies.",
     TSH_WHY),
    ("tsh", "amber", "above_reference_times", "1", "Check free T4 and thyroid antibodies.",
     TSH_WHY),
    ("tsh", "red", "below", "0.1", "Call the patient today; check free T4 and refer.", TSH_WHY),
    ("tsh", "red", "above", "10", "Call the patient today; check free T4 and refer.", TSH_WHY),
    ("alt", "amber", "above_reference_times", "1", "Repeat liver tests within 7 days.",
     LIVER_WHY),
    ("alt", "red", "above_reference_times", "3",
     "Call the patient today and refer to hepatology.", LIVER_WHY),
    ("alt", "critical", "above_reference_times", "5",
     "Emergency: same-day hepatology review.", LIVER_WHY),
    ("ast", "amber", "above_reference_times", "1", "Repeat liver tests within 7 days.",
     LIVER_WHY),
    ("ast", "red", "above_reference_times", "3",
     "Call the patient today and refer to hepatology.", LIVER_WHY),
    ("ast", "critical", "above_reference_times", "5",
     "Emergency: same-day hepatology review.", LIVER_WHY),
    ("bilirubin", "amber", "above_reference_times", "1", "Repeat liver tests within 7 days.",
     LIVER_WHY),
    ("bilirubin", "red", "above_reference_times", "2",
     "Call the patient today and refer to hepatology.", LIVER_WHY),
]


def _decimal(value):
    return None if value is None else Decimal(str(value))


def seed(apps, schema_editor):
    Analyte = apps.get_model("monitoring", "Analyte")
    FlagRule = apps.get_model("monitoring", "FlagRule")
    by_code = {}
    for order, row in enumerate(ANALYTES):
        code, name, loinc, other, panel, unit, factors, scale, top, places, low, high = row
        by_code[code] = Analyte.objects.create(
            code=code,
            name=name,
            loinc=loinc,
            other_loinc=other,
            panel=panel,
            canonical_unit=unit,
            unit_factors=factors,
            ordinal_scale=scale,
            plausible_max=_decimal(top),
            decimal_places=places,
            reference_low=_decimal(low),
            reference_high=_decimal(high),
            display_order=order,
        )
    for row in RULES:
        analyte, tier, condition, threshold, action, why, *combination = row
        with_analyte, with_condition, with_threshold = combination or (None, "", None)
        FlagRule.objects.create(
            analyte=by_code[analyte],
            tier=tier,
            condition=condition,
            threshold=_decimal(threshold),
            next_action=action,
            rationale=why,
            with_analyte=by_code.get(with_analyte),
            with_condition=with_condition,
            with_threshold=_decimal(with_threshold),
        )


def unseed(apps, schema_editor):
    apps.get_model("monitoring", "FlagRule").objects.all().delete()
    apps.get_model("monitoring", "Analyte").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [("monitoring", "0004_lab_results")]

    operations = [migrations.RunPython(seed, unseed)]
