"""Seed the two protocols of clinical-rules.md section 2: the project's 60-month default and
the label's 48 months. Both ask the same checks; only the length of follow-up differs."""

from django.db import migrations

MONTHLY = {"interval_months": 1, "window_before_days": 7, "grace_after_days": 7}
QUARTERLY = {"interval_months": 3, "window_before_days": 14, "grace_after_days": 14}
YEARLY = {"interval_months": 12, "window_before_days": 30, "grace_after_days": 30}
PRE_COURSE = {"kind": "pre_course", "window_before_days": 30, "grace_after_days": 0}
PRE_COURSE_WHY = (
    "Baseline within 30 days before each course's first infusion (US REMS); compares later "
    "results against the patient's own baseline."
)

ITEMS = [
    dict(
        panel="blood_count",
        tests="CBC with differential: platelets, WBC, neutrophils, lymphocytes, haemoglobin",
        rationale="Immune thrombocytopenia and cytopenias (US PI, EU SmPC): monthly.",
        **MONTHLY,
    ),
    dict(
        panel="kidney",
        tests="Serum creatinine",
        rationale="Anti-GBM disease and other nephropathies (US PI, EU SmPC): monthly.",
        **MONTHLY,
    ),
    dict(
        panel="urine",
        tests="Urinalysis with microscopy / urine cell counts: blood, protein, RBC count",
        rationale="Haematuria and proteinuria are early signs of nephropathy (EU SmPC): monthly.",
        **MONTHLY,
    ),
    dict(
        panel="liver",
        tests="ALT, AST, total bilirubin",
        rationale=(
            "Autoimmune hepatitis: monthly in the EU after the 2020 EMA review; the US PI says "
            "'periodic'."
        ),
        **MONTHLY,
    ),
    dict(
        panel="thyroid",
        tests="TSH (free T4 when TSH is abnormal)",
        rationale="Thyroid disease in 17-34% of patients (US PI, EU SmPC): every 3 months.",
        **QUARTERLY,
    ),
    dict(
        panel="skin",
        tests="Skin examination for melanoma",
        rationale="Melanoma risk (US PI): yearly from baseline.",
        from_baseline=True,
        **YEARLY,
    ),
    dict(
        panel="cervical",
        tests="HPV / cervical screening",
        rationale="HPV infection and cervical dysplasia (US PI): yearly from baseline, women.",
        from_baseline=True,
        applies_to_sex="F",
        **YEARLY,
    ),
    dict(panel="blood_count", tests="CBC with differential", rationale=PRE_COURSE_WHY, **PRE_COURSE),
    dict(panel="kidney", tests="Serum creatinine", rationale=PRE_COURSE_WHY, **PRE_COURSE),
    dict(
        panel="urine",
        tests="Urinalysis with microscopy and urine protein:creatinine ratio",
        rationale=PRE_COURSE_WHY,
        **PRE_COURSE,
    ),
    dict(panel="liver", tests="ALT, AST, total bilirubin", rationale=PRE_COURSE_WHY, **PRE_COURSE),
    dict(panel="thyroid", tests="TSH", rationale=PRE_COURSE_WHY, **PRE_COURSE),
    dict(
        panel="infection_screen",
        tests="HIV, hepatitis B and C, VZV serology, TB screen",
        rationale="Needed before course 1 only (US PI).",
        first_course_only=True,
        **PRE_COURSE,
    ),
]

PROTOCOLS = [
    dict(
        slug="default-60m",
        name="Default: 5 years after the last course",
        follow_up_months=60,
        is_default=True,
        description=(
            "Monthly blood and urine, quarterly thyroid and yearly skin checks until 60 months "
            "after the last infusion of the latest course."
        ),
        source=(
            "This project's design: monthly urine and platelet monitoring and quarterly thyroid "
            "monitoring for 5 years after the last alemtuzumab treatment."
        ),
    ),
    dict(
        slug="label-48m",
        name="Label: 48 months after the last course",
        follow_up_months=48,
        is_default=False,
        description="The same checks, ending 48 months after the last infusion.",
        source="US prescribing information and EU SmPC: 48 months after the last infusion.",
    ),
]


def seed(apps, schema_editor):
    Protocol = apps.get_model("monitoring", "MonitoringProtocol")
    Item = apps.get_model("monitoring", "ProtocolItem")
    for fields in PROTOCOLS:
        protocol, created = Protocol.objects.get_or_create(slug=fields["slug"], defaults=fields)
        if created:
            Item.objects.bulk_create(Item(protocol=protocol, **item) for item in ITEMS)


def unseed(apps, schema_editor):
    Protocol = apps.get_model("monitoring", "MonitoringProtocol")
    Protocol.objects.filter(slug__in=[p["slug"] for p in PROTOCOLS], patients=None).delete()


class Migration(migrations.Migration):
    dependencies = [("monitoring", "0002_initial")]

    operations = [migrations.RunPython(seed, unseed)]
