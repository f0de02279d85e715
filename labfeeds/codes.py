"""The catalogue as a lab feed reads it: analytes by any of their LOINC codes, loaded once per
message or batch. Which unit a LOINC code may carry is the analyte's catalogue entry
(monitoring.domain.measurements decides whether a unit is accepted)."""

from __future__ import annotations

from monitoring.models import Analyte


def analytes_by_loinc() -> dict[str, Analyte]:
    """Every lab analyte under its LOINC code and its other codes; one query."""
    index: dict[str, Analyte] = {}
    for analyte in Analyte.objects.filter(is_outcome=False):
        for code in (analyte.loinc, *analyte.other_loinc):
            if code:
                index[str(code).strip()] = analyte
    return index
