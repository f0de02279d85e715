"""Which units a LOINC code may be sent in (Analyte.units_by_loinc), filled for the codes that
name one property: creatinine by mass (2160-0, mg/dL) or by moles (14682-9, umol/L), and the
moles codes of free T4 (14920-3, pmol/L) and total bilirubin (14631-6, umol/L), added as other
codes. The clinic's own codes for free T4 (3024-7) and bilirubin (1975-2) keep taking both
units, as its specification lists them (docs/clinical-reference.md, section 4)."""

from django.db import migrations, models

# analyte code: (LOINC codes to add to other_loinc, {LOINC code: its units})
UNITS_BY_LOINC = {
    "creatinine": ([], {"14682-9": ["umol/L"], "2160-0": ["mg/dL"]}),
    "free_t4": (["14920-3"], {"14920-3": ["pmol/L"]}),
    "bilirubin": (["14631-6"], {"14631-6": ["umol/L"]}),
}


def fill(apps, schema_editor):
    Analyte = apps.get_model("monitoring", "Analyte")
    taken = set()
    for analyte in Analyte.objects.all():
        taken.update(code for code in [analyte.loinc, *analyte.other_loinc] if code)
    for code, (new_codes, units_by_loinc) in UNITS_BY_LOINC.items():
        analyte = Analyte.objects.filter(code=code).first()
        if analyte is None:  # a clinic that removed it: nothing to restrict
            continue
        # Another analyte that already claims the code keeps it.
        other = [c for c in new_codes if c not in taken and c not in analyte.other_loinc]
        analyte.other_loinc = [*analyte.other_loinc, *other]
        codes = {analyte.loinc, *analyte.other_loinc}
        accepted = {analyte.canonical_unit, *analyte.unit_factors}
        # Only what the catalogue as the clinic left it can take: its codes, its units.
        restricted = {
            loinc: units
            for loinc, units in units_by_loinc.items()
            if loinc in codes and set(units) <= accepted
        }
        analyte.units_by_loinc = {**restricted, **analyte.units_by_loinc}
        analyte.save(update_fields=["other_loinc", "units_by_loinc"])


def unfill(apps, schema_editor):
    Analyte = apps.get_model("monitoring", "Analyte")
    for code, (new_codes, _) in UNITS_BY_LOINC.items():
        for analyte in Analyte.objects.filter(code=code):
            analyte.other_loinc = [c for c in analyte.other_loinc if c not in new_codes]
            analyte.save(update_fields=["other_loinc"])


class Migration(migrations.Migration):
    dependencies = [
        ("monitoring", "0025_lab_reference_result_status_comparator"),
    ]

    operations = [
        migrations.AddField(
            model_name="analyte",
            name="units_by_loinc",
            field=models.JSONField(
                blank=True,
                default=dict,
                help_text="The units each LOINC code may be sent in, for codes that name one "
                'property, e.g. {"2160-0": ["mg/dL"], "14682-9": ["umol/L"]}. A code not listed '
                "takes every accepted unit.",
                verbose_name="units by LOINC code",
            ),
        ),
        migrations.AddField(
            model_name="historicalanalyte",
            name="units_by_loinc",
            field=models.JSONField(
                blank=True,
                default=dict,
                help_text="The units each LOINC code may be sent in, for codes that name one "
                'property, e.g. {"2160-0": ["mg/dL"], "14682-9": ["umol/L"]}. A code not listed '
                "takes every accepted unit.",
                verbose_name="units by LOINC code",
            ),
        ),
        migrations.RunPython(fill, unfill),
    ]
