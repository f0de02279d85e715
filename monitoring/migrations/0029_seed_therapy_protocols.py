"""Seed one default monitoring protocol for each MS therapy other than alemtuzumab, from the
US prescribing information and the EU SmPC as summarised in docs/clinical-reference.md
section 6. Every number is a default a clinic lead can edit; labels change, so every item says
where it comes from and asks to be checked against the current label."""

from django.db import migrations

CHECK_LABEL = " Check against your current label."
# Windows: the project's defaults, as for alemtuzumab (monthly +/-7 days, quarterly and
# six-monthly +/-14, yearly +/-30); checks before starting or before a dose close on the day.
MONTHLY = {"window_before_days": 7, "grace_after_days": 7}
MONTHS = {"window_before_days": 14, "grace_after_days": 14}
YEARLY = {"window_before_days": 30, "grace_after_days": 30}


def before(days):
    return {"kind": "before_start", "window_before_days": days, "grace_after_days": 0}


def every(months, first=None, window=MONTHS):
    return {"kind": "on_therapy", "interval_months": months, "first_month": first, **window}


def at(*months, window=MONTHS):
    return {"kind": "at_months", "months": list(months), **window}


def after_stop(*months, window=MONTHS):
    return {"kind": "after_stop", "months": list(months), **window}


def after_dose(*months):
    return {"kind": "after_dose", "months": list(months), **MONTHS}


def before_dose(days, first_only=False):
    return {
        "kind": "before_dose",
        "window_before_days": days,
        "grace_after_days": 0,
        "first_course_only": first_only,
    }


CBC = "CBC with differential (lymphocytes)"
LFT = "ALT, AST, total bilirubin"
S1P_SOURCE = "US PI / EU SmPC (fingolimod, siponimod, ozanimod, ponesimod)"


def s1p_items(therapy):
    items = [
        ("blood_count", CBC, before(180), "CBC within 6 months before the first dose."),
        ("liver", LFT, before(180), "Liver tests within 6 months before the first dose."),
        ("ecg", "ECG", before(30), "ECG before the first dose (bradyarrhythmia)."),
        (
            "eye_exam",
            "Eye examination for macular oedema",
            at(3, window=YEARLY),
            "Eye examination 3-4 months after the start (macular oedema).",
        ),
        (
            "blood_count",
            CBC,
            every(6),
            "Lymphocytes every 6 months (practice); lymphocytes below 0.2 x10^9/L: review.",
        ),
        (
            "blood_count",
            CBC,
            after_stop(3),
            "Lymphocyte count 3 months after stopping (practice).",
        ),
    ]
    if therapy == "fingolimod":
        items += [
            ("liver", LFT, at(1, 3, 6, 9, 12), "EU SmPC: liver tests at months 1, 3, 6, 9, 12."),
            ("liver", LFT, every(6, first=18), "Then every 6 months (practice)."),
        ]
    else:
        items.append(("liver", LFT, every(6), "Liver tests every 6 months (practice)."))
    if therapy == "siponimod":
        items.append(
            (
                "cyp2c9",
                "CYP2C9 genotype",
                before(365),
                "CYP2C9 genotype before starting: it sets the dose, and *3/*3 is "
                "contraindicated (US PI, EU SmPC).",
            )
        )
    return items


def fumarate_items():
    return [
        ("blood_count", CBC, before(30), "CBC with lymphocyte count before starting."),
        ("liver", LFT, before(30), "Liver tests before starting."),
        (
            "blood_count",
            CBC,
            every(3),
            "Lymphocytes every 3 months (EU SmPC; the US PI: at 6 months, then every 6-12 "
            "months); below 0.5 x10^9/L for more than 6 months: consider stopping (PML risk).",
        ),
        ("liver", LFT, every(6), "Liver tests every 6 months (practice)."),
        ("blood_count", CBC, after_stop(3), "Lymphocyte count 3 months after stopping (practice)."),
    ]


PROTOCOLS = [
    {
        "slug": "interferon-beta",
        "therapy": "interferon_beta",
        "name": "Interferon beta-1a",
        "source": "Rebif and Avonex US PI: hepatic injury, decreased blood counts, thyroid "
        "abnormalities.",
        "items": [
            ("blood_count", CBC, before(30), "CBC with differential before starting."),
            ("liver", LFT, before(30), "Liver tests before starting."),
            ("thyroid", "TSH", before(30), "TSH before starting."),
            ("blood_count", CBC, at(1, 3, 6, window=MONTHLY), "CBC at months 1, 3 and 6."),
            ("liver", LFT, at(1, 3, 6, window=MONTHLY), "Liver tests at months 1, 3 and 6."),
            ("blood_count", CBC, every(6, first=12), "Then CBC every 6 months."),
            (
                "liver",
                LFT,
                every(6, first=12),
                "Then liver tests every 6 months; ALT above 5x ULN: hold and review.",
            ),
            (
                "thyroid",
                "TSH",
                every(12, window=YEARLY),
                "TSH every 6 months where there is a history of thyroid disease; the "
                "project's default is every 12 months for everyone.",
            ),
        ],
    },
    {
        "slug": "natalizumab",
        "therapy": "natalizumab",
        "name": "Natalizumab",
        "dose_interval_days": 28,
        "source": "US PI and the TOUCH programme; EU SmPC PML risk stratification.",
        "items": [
            ("jcv_antibody", "JCV antibody index", before(90), "JCV antibody index before starting."),
            ("mri", "MRI brain", before(90), "MRI within 3 months before starting."),
            ("blood_count", CBC, before(30), "CBC before starting."),
            (
                "jcv_antibody",
                "JCV antibody index",
                every(6),
                "JCV antibody every 6 months while negative or low-index; index above 1.5 "
                "after 24 months of treatment: review the PML risk.",
            ),
            (
                "mri",
                "MRI brain",
                every(12, window=YEARLY),
                "MRI every 12 months (every 3-6 months when JCV positive with a high index "
                "after 18-24 months: practice, edit per patient's risk).",
            ),
            (
                "mri",
                "MRI brain",
                after_stop(3, 6, window=YEARLY),
                "PML vigilance for 6 months after the last infusion: MRI at 3 and 6 months "
                "(practice).",
            ),
        ],
    },
    {
        "slug": "ocrelizumab",
        "therapy": "ocrelizumab",
        "name": "Ocrelizumab",
        "dose_interval_days": 182,
        "source": "US PI: hepatitis B reactivation; monitor immunoglobulins.",
        "items": [
            (
                "hepatitis_b",
                "HBsAg and anti-HBc",
                before(90),
                "Hepatitis B screen before the first infusion; HBsAg positive: do not start.",
            ),
            (
                "immunoglobulins",
                "Quantitative serum immunoglobulins (IgG, IgA, IgM)",
                before_dose(30),
                "Immunoglobulins before each infusion; IgG below the lower limit: review "
                "infections.",
            ),
            ("blood_count", CBC, every(6), "CBC every 6 months (practice)."),
            (
                "immunoglobulins",
                "Quantitative serum immunoglobulins (IgG, IgA, IgM)",
                after_stop(6),
                "Immunoglobulins 6 months after the last dose (practice).",
            ),
        ],
    },
    {
        "slug": "ofatumumab",
        "therapy": "ofatumumab",
        "name": "Ofatumumab",
        "source": "US PI: hepatitis B reactivation; monitor immunoglobulins.",
        "items": [
            (
                "hepatitis_b",
                "HBsAg and anti-HBc",
                before(90),
                "Hepatitis B screen before starting; HBsAg positive: do not start.",
            ),
            (
                "immunoglobulins",
                "Quantitative serum immunoglobulins (IgG, IgA, IgM)",
                before(90),
                "Immunoglobulins before starting.",
            ),
            (
                "immunoglobulins",
                "Quantitative serum immunoglobulins (IgG, IgA, IgM)",
                every(6),
                "Immunoglobulins every 6 months; IgG below the lower limit: review infections.",
            ),
            ("blood_count", CBC, every(6), "CBC every 6 months (practice)."),
            (
                "immunoglobulins",
                "Quantitative serum immunoglobulins (IgG, IgA, IgM)",
                after_stop(6),
                "Immunoglobulins 6 months after the last dose (practice).",
            ),
        ],
    },
    {
        "slug": "cladribine",
        "therapy": "cladribine",
        "name": "Cladribine tablets",
        "dose_interval_days": 365,
        "source": "US PI / EU SmPC: lymphopenia.",
        "items": [
            (
                "blood_count",
                CBC,
                before_dose(30),
                "Lymphocyte count before each treatment year: normal before year 1, at least "
                "0.8 x10^9/L before year 2 (which may be delayed up to 6 months).",
            ),
            (
                "infection_screen",
                "HIV, hepatitis B/C, TB screen, VZV antibodies",
                before(90),
                "Infection screen before year 1.",
            ),
            ("mri", "MRI brain", before(90), "MRI within 3 months before starting."),
            (
                "blood_count",
                CBC,
                after_dose(2, 6),
                "Lymphocyte count 2 and 6 months after the start of each treatment year; below "
                "0.5 x10^9/L: watch for infection.",
            ),
        ],
    },
    {
        "slug": "dimethyl-fumarate",
        "therapy": "dimethyl_fumarate",
        "name": "Dimethyl fumarate",
        "source": "EU SmPC, US PI (lymphopenia, PML).",
        "items": fumarate_items(),
    },
    {
        "slug": "diroximel-fumarate",
        "therapy": "diroximel_fumarate",
        "name": "Diroximel fumarate",
        "source": "EU SmPC, US PI (lymphopenia, PML).",
        "items": fumarate_items(),
    },
    {
        "slug": "teriflunomide",
        "therapy": "teriflunomide",
        "name": "Teriflunomide",
        "source": "US PI, boxed warning: hepatotoxicity.",
        "items": [
            ("liver", LFT, before(180), "ALT, AST, bilirubin within 6 months before the start."),
            ("blood_count", CBC, before(180), "CBC within 6 months before the start."),
            (
                "liver",
                "ALT",
                at(1, 2, 3, 4, 5, 6, window=MONTHLY),
                "ALT at least monthly for the first 6 months (US PI); ALT above 3x ULN: repeat "
                "and consider accelerated elimination.",
            ),
            ("liver", "ALT", every(2, first=8, window=MONTHLY), "Then every 2 months (practice)."),
        ],
    },
] + [
    {
        "slug": therapy.replace("_", "-"),
        "therapy": therapy,
        "name": name,
        "source": S1P_SOURCE,
        "items": s1p_items(therapy),
    }
    for therapy, name in (
        ("fingolimod", "Fingolimod"),
        ("siponimod", "Siponimod"),
        ("ozanimod", "Ozanimod"),
        ("ponesimod", "Ponesimod"),
    )
]

# A continuing therapy's checks are planned this far ahead of its start.
PLAN_AHEAD_MONTHS = 120


def seed(apps, schema_editor):
    MonitoringProtocol = apps.get_model("monitoring", "MonitoringProtocol")
    ProtocolItem = apps.get_model("monitoring", "ProtocolItem")
    for spec in PROTOCOLS:
        protocol, created = MonitoringProtocol.objects.get_or_create(
            slug=spec["slug"],
            defaults={
                "name": spec["name"],
                "therapy": spec["therapy"],
                "follow_up_months": PLAN_AHEAD_MONTHS,
                "dose_interval_days": spec.get("dose_interval_days"),
                "is_default": True,
                "source": spec["source"] + CHECK_LABEL,
                "description": f"Seeded defaults for {spec['name'].lower()}; edit to the "
                "clinic's practice.",
            },
        )
        if not created:
            continue
        ProtocolItem.objects.bulk_create(
            ProtocolItem(
                protocol=protocol,
                panel=panel,
                tests=tests,
                rationale=f"{why} Source: {spec['source']}{CHECK_LABEL}",
                **shape,
            )
            for panel, tests, shape, why in spec["items"]
        )


def unseed(apps, schema_editor):
    MonitoringProtocol = apps.get_model("monitoring", "MonitoringProtocol")
    slugs = [spec["slug"] for spec in PROTOCOLS]
    apps.get_model("monitoring", "ProtocolItem").objects.filter(protocol__slug__in=slugs).delete()
    MonitoringProtocol.objects.filter(slug__in=slugs).delete()


class Migration(migrations.Migration):
    dependencies = [("monitoring", "0028_check_episode_dose_shared_visit")]

    operations = [migrations.RunPython(seed, unseed)]
