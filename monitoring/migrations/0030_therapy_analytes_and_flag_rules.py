"""The analytes the other MS therapies are monitored with, and the flag rules of one therapy.

Analytes: the JCV antibody index (natalizumab), serum IgG, IgA and IgM (anti-CD20), the
hepatitis B screen (HBsAg, anti-HBc) and the CYP2C9 genotype (siponimod) as coded results on a
scale, and one outcome analyte for each panel checked without a lab value (MRI, eye examination,
ECG). Reference ranges are adult defaults, used only when the lab gives none.

Flag rules: each names its therapy (or family), its source, and asks to be checked against the
current label (docs/clinical-reference.md section 3). Clinic data from here on: leads edit both
in the admin.
"""

from decimal import Decimal

import django.core.validators
from django.db import migrations, models

CHECK_LABEL = " Check against your current label."
HEPATITIS_B_SCALE = ["negative", "equivocal", "positive"]
POSITIVE = 2  # the position of "positive" on that scale
GENOTYPES = ["*1/*1", "*1/*2", "*1/*3", "*2/*2", "*2/*3", "*3/*3"]
STAR_3_STAR_3 = 5  # the position of "*3/*3"
IG_UNITS = {"mg/dL": "0.01"}  # 100 mg/dL is 1 g/L
FIRST_ORDER = 20  # after the alemtuzumab panels' lab analytes (0-13), before the outcomes (100+)

# code, name, LOINC, panel, unit, {other unit: factor}, scale, plausible max, decimals,
# default reference low, high
ANALYTES = [
    # 100977-8: "JC virus Ab index" (reported as an index; ARUP's STRATIFY JCV component).
    ("jcv_index", "JCV antibody index", "100977-8", "jcv_antibody", "index",
     {"{index}": "1", "{Index_val}": "1"}, [], "20", 2, None, None),
    ("igg", "IgG (serum)", "2465-3", "immunoglobulins", "g/L", IG_UNITS, [], "60", 2,
     "7.0", "16.0"),
    ("iga", "IgA (serum)", "2458-8", "immunoglobulins", "g/L", IG_UNITS, [], "30", 2,
     "0.7", "4.0"),
    ("igm", "IgM (serum)", "2472-9", "immunoglobulins", "g/L", IG_UNITS, [], "30", 2,
     "0.4", "2.3"),
    ("hbsag", "Hepatitis B surface antigen (HBsAg)", "5196-1", "hepatitis_b", "", {},
     HEPATITIS_B_SCALE, None, 0, None, None),
    ("anti_hbc", "Hepatitis B core antibody, total (anti-HBc)", "16933-4", "hepatitis_b", "",
     {}, HEPATITIS_B_SCALE, None, 0, None, None),
    # No LOINC code for a CYP2C9 genotype could be confirmed: entered by hand or from a file.
    ("cyp2c9_genotype", "CYP2C9 genotype", None, "cyp2c9", "", {}, GENOTYPES, None, 0, None,
     None),
]

OUTCOME_SCALE = ["normal", "abnormal"]
ABNORMAL = Decimal(1)
WHY_OUTCOME = (
    "Recorded as done without a lab value: an abnormal outcome is for a clinician to read and "
    "act on (project default)."
)
# code, name, panel, next action, rationale
OUTCOMES = [
    ("mri-outcome", "MRI outcome", "mri",
     "Read the MRI report; new lesions on natalizumab need a PML review before the next dose.",
     "MRI before and during natalizumab and before cladribine (US PI, EU SmPC). " + WHY_OUTCOME),
    ("eye-exam-outcome", "Eye examination outcome", "eye_exam",
     "Read the report; macular oedema on an S1P modulator needs ophthalmology review.",
     "Macular oedema on S1P modulators (US PI, EU SmPC). " + WHY_OUTCOME),
    ("ecg-outcome", "ECG outcome", "ecg",
     "Read the ECG; conduction problems need cardiology advice before the first dose.",
     "Bradyarrhythmia at the first doses of S1P modulators (US PI, EU SmPC). " + WHY_OUTCOME),
]
FIRST_OUTCOME_ORDER = 120

FUMARATE_WHY = (
    "Dimethyl and diroximel fumarate: severe lymphopenia (under 0.5 x10^9/L) lasting more than "
    "6 months is linked to PML (EU SmPC, US PI). Each count under 0.5 is flagged; whether it "
    "has lasted 6 months is read from the earlier counts by the clinician."
)
# analyte, tier, condition, threshold, therapy, months on therapy, next action, rationale
RULES = [
    ("lymphocytes", "red", "below", "0.5", "fumarate", None,
     "Consider stopping the fumarate: under 0.5 persisting beyond 6 months carries a PML "
     "risk; repeat the count and compare it with the last 6 months.", FUMARATE_WHY),
    ("lymphocytes", "red", "below", "0.5", "cladribine", None,
     "Watch for infection: ask about fever and infection signs, repeat the count.",
     "Cladribine tablets: lymphocytes under 0.5 x10^9/L (grade 3-4 lymphopenia) raise the risk "
     "of serious infection, herpes zoster included (US PI, EU SmPC)."),
    ("lymphocytes", "red", "below", "0.2", "s1p", None,
     "Review: repeat the count and consider interrupting the S1P modulator.",
     "S1P modulators lower lymphocytes by design; under 0.2 x10^9/L calls for review (EU SmPC, "
     "practice)."),
    ("alt", "red", "above_reference_times", "3", "teriflunomide", None,
     "Repeat liver tests; consider stopping with accelerated elimination (cholestyramine or "
     "activated charcoal).",
     "Teriflunomide carries a boxed warning for liver injury; ALT over 3x the upper limit: "
     "repeat, and consider stopping and eliminating the drug (US PI)."),
    # Critical, as the rule for every patient at over 5x the upper limit is already.
    ("alt", "critical", "above_reference_times", "5", "interferon_beta", None,
     "Hold interferon beta and review: repeat liver tests and see the patient.",
     "Interferon beta can cause liver injury; ALT over 5x the upper limit: hold the drug and "
     "review (Rebif and Avonex US PI)."),
    ("jcv_index", "red", "above", "1.5", "natalizumab", 24,
     "Review the PML risk with the patient: MRI more often, extended-interval dosing or a "
     "switch of therapy.",
     "Natalizumab: the PML risk is highest with an anti-JCV antibody index over 1.5 after 24 "
     "months of treatment (EU SmPC risk stratification, US PI)."),
    ("igg", "amber", "below_reference", "0", "anti_cd20", None,
     "Review infections: ask about recurrent or serious infections before the next dose.",
     "Anti-CD20 antibodies lower immunoglobulins, with serious infections (ocrelizumab and "
     "ofatumumab US PI: monitor immunoglobulins)."),
    ("hbsag", "red", "is", POSITIVE, "anti_cd20", None,
     "Do not start (or give) the anti-CD20 antibody: refer to hepatology.",
     "Hepatitis B reactivation, fulminant hepatitis included, on anti-CD20 antibodies: HBsAg "
     "positive is a contraindication (ocrelizumab and ofatumumab US PI)."),
    ("cyp2c9_genotype", "red", "is", STAR_3_STAR_3, "siponimod", None,
     "Siponimod is contraindicated with CYP2C9*3/*3: do not start it; choose another therapy.",
     "CYP2C9*3/*3 (poor metabolisers) raises siponimod exposure many-fold: contraindicated "
     "(US PI, EU SmPC)."),
]


def _decimal(value):
    return None if value is None else Decimal(str(value))


def seed(apps, schema_editor):
    Analyte = apps.get_model("monitoring", "Analyte")
    FlagRule = apps.get_model("monitoring", "FlagRule")
    taken = set()
    for analyte in Analyte.objects.all():
        taken.update(code for code in [analyte.loinc, *analyte.other_loinc] if code)
    for order, row in enumerate(ANALYTES, start=FIRST_ORDER):
        code, name, loinc, panel, unit, factors, scale, top, places, low, high = row
        if Analyte.objects.filter(code=code).exists():
            continue  # a clinic that added it by hand keeps its own
        Analyte.objects.create(
            code=code,
            name=name,
            # Another analyte a clinic added under the same code keeps it.
            loinc=None if loinc in taken else loinc,
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
    for order, (code, name, panel, action, why) in enumerate(OUTCOMES, start=FIRST_OUTCOME_ORDER):
        if Analyte.objects.filter(panel=panel, is_outcome=True).exists():
            continue
        analyte = Analyte.objects.create(
            code=code,
            name=name,
            loinc=None,
            panel=panel,
            canonical_unit="",
            ordinal_scale=OUTCOME_SCALE,
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
    by_code = {analyte.code: analyte for analyte in Analyte.objects.all()}
    for code, tier, condition, threshold, therapy, months, action, why in RULES:
        if code not in by_code:  # a clinic that removed the analyte: no rule for it
            continue
        FlagRule.objects.create(
            analyte=by_code[code],
            tier=tier,
            condition=condition,
            threshold=_decimal(threshold),
            therapy=therapy,
            min_months_on_therapy=months,
            next_action=action,
            rationale=why + CHECK_LABEL,
        )


def unseed(apps, schema_editor):
    Analyte = apps.get_model("monitoring", "Analyte")
    FlagRule = apps.get_model("monitoring", "FlagRule")
    FlagRule.objects.exclude(therapy="").delete()
    codes = [row[0] for row in ANALYTES] + [row[0] for row in OUTCOMES]
    FlagRule.objects.filter(analyte__code__in=codes).delete()
    Analyte.objects.filter(code__in=codes).delete()



class Migration(migrations.Migration):

    dependencies = [
        ('monitoring', '0029_seed_therapy_protocols'),
    ]

    operations = [
        migrations.AddField(
            model_name='flagrule',
            name='min_months_on_therapy',
            field=models.PositiveSmallIntegerField(blank=True, help_text="A rule of a therapy only: it applies once this many months have passed since the episode started (natalizumab's JCV index after 24 months).", null=True, validators=[django.core.validators.MaxValueValidator(240)], verbose_name='months on the therapy at least'),
        ),
        migrations.AddField(
            model_name='flagrule',
            name='therapy',
            field=models.CharField(blank=True, choices=[('alemtuzumab', 'Alemtuzumab (Lemtrada)'), ('interferon_beta', 'Interferon beta-1a (Rebif, Avonex, Plegridy)'), ('natalizumab', 'Natalizumab (Tysabri)'), ('ocrelizumab', 'Ocrelizumab (Ocrevus)'), ('ofatumumab', 'Ofatumumab (Kesimpta)'), ('cladribine', 'Cladribine tablets (Mavenclad)'), ('dimethyl_fumarate', 'Dimethyl fumarate (Tecfidera)'), ('diroximel_fumarate', 'Diroximel fumarate (Vumerity)'), ('teriflunomide', 'Teriflunomide (Aubagio)'), ('fingolimod', 'Fingolimod (Gilenya)'), ('siponimod', 'Siponimod (Mayzent)'), ('ozanimod', 'Ozanimod (Zeposia)'), ('ponesimod', 'Ponesimod (Ponvory)'), ('fumarate', 'Fumarates (dimethyl, diroximel)'), ('s1p', 'S1P modulators (fingolimod, siponimod, ozanimod, ponesimod)'), ('anti_cd20', 'Anti-CD20 antibodies (ocrelizumab, ofatumumab)')], help_text='Empty: every patient. Otherwise the rule applies only while the patient is on this therapy (or family), from its before-start screens to the end of its after-stopping period.', max_length=24),
        ),
        migrations.AddField(
            model_name='historicalflagrule',
            name='min_months_on_therapy',
            field=models.PositiveSmallIntegerField(blank=True, help_text="A rule of a therapy only: it applies once this many months have passed since the episode started (natalizumab's JCV index after 24 months).", null=True, validators=[django.core.validators.MaxValueValidator(240)], verbose_name='months on the therapy at least'),
        ),
        migrations.AddField(
            model_name='historicalflagrule',
            name='therapy',
            field=models.CharField(blank=True, choices=[('alemtuzumab', 'Alemtuzumab (Lemtrada)'), ('interferon_beta', 'Interferon beta-1a (Rebif, Avonex, Plegridy)'), ('natalizumab', 'Natalizumab (Tysabri)'), ('ocrelizumab', 'Ocrelizumab (Ocrevus)'), ('ofatumumab', 'Ofatumumab (Kesimpta)'), ('cladribine', 'Cladribine tablets (Mavenclad)'), ('dimethyl_fumarate', 'Dimethyl fumarate (Tecfidera)'), ('diroximel_fumarate', 'Diroximel fumarate (Vumerity)'), ('teriflunomide', 'Teriflunomide (Aubagio)'), ('fingolimod', 'Fingolimod (Gilenya)'), ('siponimod', 'Siponimod (Mayzent)'), ('ozanimod', 'Ozanimod (Zeposia)'), ('ponesimod', 'Ponesimod (Ponvory)'), ('fumarate', 'Fumarates (dimethyl, diroximel)'), ('s1p', 'S1P modulators (fingolimod, siponimod, ozanimod, ponesimod)'), ('anti_cd20', 'Anti-CD20 antibodies (ocrelizumab, ofatumumab)')], help_text='Empty: every patient. Otherwise the rule applies only while the patient is on this therapy (or family), from its before-start screens to the end of its after-stopping period.', max_length=24),
        ),
        migrations.RunPython(seed, unseed),
    ]
