"""The disease-modifying therapies a clinic monitors, by code: what planning, the gates and the
flag rules need to know of each. Plain values, no Django (docs/clinical-reference.md section 6).

A patient's therapy episode names one of these codes; its protocol (a MonitoringProtocol of
the same therapy) says what is checked and when.
"""

from __future__ import annotations

from dataclasses import dataclass

ALEMTUZUMAB = "alemtuzumab"
INTERFERON_BETA = "interferon_beta"
NATALIZUMAB = "natalizumab"
OCRELIZUMAB = "ocrelizumab"
OFATUMUMAB = "ofatumumab"
CLADRIBINE = "cladribine"
DIMETHYL_FUMARATE = "dimethyl_fumarate"
DIROXIMEL_FUMARATE = "diroximel_fumarate"
TERIFLUNOMIDE = "teriflunomide"
FINGOLIMOD = "fingolimod"
SIPONIMOD = "siponimod"
OZANIMOD = "ozanimod"
PONESIMOD = "ponesimod"

# Gates: what must hold before a dose is recorded as given (domain.gates decides them).
GATE_CHECKLIST = "pre_infusion_checklist"
GATE_LYMPHOCYTES_YEAR_TWO = "lymphocytes_before_year_two"
GATE_CYP2C9 = "cyp2c9_genotype"
GATE_HEPATITIS_B = "hepatitis_b_negative"


@dataclass(frozen=True)
class Therapy:
    code: str
    name: str
    brands: str
    # Doses given in the clinic and recorded there (infusions, cladribine's treatment years);
    # the others are taken at home and only their start and stop are recorded.
    doses_in_clinic: bool = False
    dose_name: str = "dose"
    gate: str = ""
    # Doses a course of treatment has at most (cladribine: two treatment years); 0 no limit.
    max_doses: int = 0
    # Families share flag rules (fumarates, S1P modulators, anti-CD20 antibodies).
    family: str = ""

    @property
    def label(self) -> str:
        return f"{self.name} ({self.brands})" if self.brands else self.name


THERAPIES: dict[str, Therapy] = {
    therapy.code: therapy
    for therapy in (
        Therapy(
            ALEMTUZUMAB,
            "Alemtuzumab",
            "Lemtrada",
            doses_in_clinic=True,
            dose_name="infusion course",
        ),
        Therapy(INTERFERON_BETA, "Interferon beta-1a", "Rebif, Avonex, Plegridy"),
        Therapy(
            NATALIZUMAB,
            "Natalizumab",
            "Tysabri",
            doses_in_clinic=True,
            dose_name="infusion",
            gate=GATE_CHECKLIST,
        ),
        Therapy(
            OCRELIZUMAB,
            "Ocrelizumab",
            "Ocrevus",
            doses_in_clinic=True,
            dose_name="infusion",
            gate=GATE_HEPATITIS_B,
            family="anti_cd20",
        ),
        Therapy(OFATUMUMAB, "Ofatumumab", "Kesimpta", gate=GATE_HEPATITIS_B, family="anti_cd20"),
        Therapy(
            CLADRIBINE,
            "Cladribine tablets",
            "Mavenclad",
            doses_in_clinic=True,
            dose_name="treatment year",
            gate=GATE_LYMPHOCYTES_YEAR_TWO,
            max_doses=2,
        ),
        Therapy(DIMETHYL_FUMARATE, "Dimethyl fumarate", "Tecfidera", family="fumarate"),
        Therapy(DIROXIMEL_FUMARATE, "Diroximel fumarate", "Vumerity", family="fumarate"),
        Therapy(TERIFLUNOMIDE, "Teriflunomide", "Aubagio"),
        Therapy(FINGOLIMOD, "Fingolimod", "Gilenya", family="s1p"),
        Therapy(SIPONIMOD, "Siponimod", "Mayzent", gate=GATE_CYP2C9, family="s1p"),
        Therapy(OZANIMOD, "Ozanimod", "Zeposia", family="s1p"),
        Therapy(PONESIMOD, "Ponesimod", "Ponvory", family="s1p"),
    )
}

CHOICES = [(therapy.code, therapy.label) for therapy in THERAPIES.values()]


def therapy_of(code: str) -> Therapy:
    try:
        return THERAPIES[code]
    except KeyError:
        raise ValueError(f"Unknown therapy {code!r}.") from None
