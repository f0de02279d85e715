"""A lab's CSV export of results for the patients of a data set (benchmarks.dataset), in the
columns the import reads: what `manage.py bench_results` imports."""

from __future__ import annotations

import io
from datetime import date, timedelta

from patients.models import Patient


def csv_of_results(patients: list[Patient], *, rows: int, start: date) -> bytes:
    """A lab export of `rows` results: a full blood count and creatinine each month for as many
    patients as it takes, with a realistic few abnormal platelet counts."""
    per_sample = [
        ("platelets", "10^9/L"),
        ("wbc", "10^9/L"),
        ("neutrophils", "10^9/L"),
        ("lymphocytes", "10^9/L"),
        ("haemoglobin", "g/L"),
        ("creatinine", "umol/L"),
    ]
    values = {
        "platelets": "230",
        "wbc": "6.1",
        "neutrophils": "3.9",
        "lymphocytes": "1.5",
        "haemoglobin": "136",
        "creatinine": "74",
    }
    out = io.StringIO()
    out.write("hospital_number,sample_date,analyte,value,unit\n")
    written = 0
    months = 0
    while written < rows:
        for n, patient in enumerate(patients):
            day = start + timedelta(days=30 * months)
            for code, unit in per_sample:
                value = "88" if code == "platelets" and n % 50 == 7 else values[code]
                out.write(f"{patient.hospital_number},{day:%Y-%m-%d},{code},{value},{unit}\n")
                written += 1
                if written >= rows:
                    return out.getvalue().encode()
        months += 1
    return out.getvalue().encode()
