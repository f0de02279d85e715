"""Seed one outcome analyte per panel (normal or abnormal, a local code: outcomes have no LOINC
code) and its flag rule, abnormal -> amber, so that a check done without a lab value is recorded
as a report like any other: it completes its check, and an abnormal one waits for a nurse."""

from decimal import Decimal

from django.db import migrations

SCALE = ["normal", "abnormal"]
ABNORMAL = Decimal(1)  # the position of "abnormal" on the scale
ELSEWHERE = (
    "Read the other hospital's report; ask for its values and repeat the test here if needed."
)
WHY = (
    "Recorded as done without a lab value: an abnormal outcome is for a clinician to read and "
    "act on (project default)."
)

# code, name, panel, next action, rationale
OUTCOMES = [
    (
        "skin-exam-outcome",
        "Skin examination outcome",
        "skin",
        "Read the examination report; refer to dermatology if that has not been done.",
        "Melanoma has been reported after alemtuzumab; a yearly skin examination is advised "
        "(US prescribing information). " + WHY,
    ),
    (
        "cervical-screen-outcome",
        "Cervical screening outcome",
        "cervical",
        "Read the screening report; make sure the follow-up it asks for (repeat test, colposcopy) "
        "is booked.",
        "HPV-related cervical disease has been reported; yearly screening for women is advised "
        "(US prescribing information). " + WHY,
    ),
    (
        "infection-screen-outcome",
        "Infection screen outcome",
        "infection_screen",
        "Read the report; discuss it with the infection team before the course is given.",
        "Active or latent infection (HIV, hepatitis B or C, varicella, tuberculosis) must be known "
        "before course 1 (US prescribing information, EU SmPC). " + WHY,
    ),
    ("blood-count-outcome", "Blood count outcome", "blood_count", ELSEWHERE, WHY),
    ("kidney-outcome", "Kidney outcome", "kidney", ELSEWHERE, WHY),
    ("urine-outcome", "Urinalysis outcome", "urine", ELSEWHERE, WHY),
    ("liver-outcome", "Liver tests outcome", "liver", ELSEWHERE, WHY),
    ("thyroid-outcome", "Thyroid outcome", "thyroid", ELSEWHERE, WHY),
]
FIRST_ORDER = 100  # after the lab analytes


def seed(apps, schema_editor):
    Analyte = apps.get_model("monitoring", "Analyte")
    FlagRule = apps.get_model("monitoring", "FlagRule")
    for order, (code, name, panel, action, why) in enumerate(OUTCOMES, start=FIRST_ORDER):
        analyte = Analyte.objects.create(
            code=code,
            name=name,
            loinc=None,
            panel=panel,
            canonical_unit="",
            ordinal_scale=SCALE,
            decimal_places=0,
            display_order=order,
            is_outcome=True,
        )
        FlagRule.objects.create(
            analyte=analyte,
            tier="amber",
            condition="is",
            threshold=ABNORMAL,
            next_action=action,
            rationale=why,
        )


def unseed(apps, schema_editor):
    Analyte = apps.get_model("monitoring", "Analyte")
    codes = [code for code, *_ in OUTCOMES]
    apps.get_model("monitoring", "FlagRule").objects.filter(analyte__code__in=codes).delete()
    Analyte.objects.filter(code__in=codes).delete()


class Migration(migrations.Migration):
    dependencies = [("monitoring", "0019_checks_done_without_a_value")]

    operations = [migrations.RunPython(seed, unseed)]
