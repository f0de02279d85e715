"""Importing lab results from a CSV file, one row per result: read and check every row, show
the preview, refuse the whole file if any row has a problem, then record it in batches with
its progress stored, resumable where it stopped (batches.py).

Rows are checked by the same functions as the entry form (monitoring.results.entry), so the
import refuses the same things with the same words. A result already stored with the same
value is skipped, not refused, so a nightly export that overlaps the previous one imports
cleanly; a different value for the same sample is refused, because only a person can decide
which one is right. Reading is set-based: a fixed number of queries whatever the file's length.

The work is in three modules: monitoring.domain.csv_reading reads the text (no database),
checking checks the rows against the database, storing keeps the upload and starts it, batches
records it.
Callers import from here.
"""

from monitoring.domain.csv_reading import ImportProblem
from monitoring.results.csv_import.batches import ImportRejected
from monitoring.results.csv_import.checking import ImportPreview, PreviewRow, import_read
from monitoring.results.csv_import.storing import (
    ImportOutcome,
    import_apply,
    import_continue,
    import_stage,
    import_start,
    outcome_of,
)

__all__ = [
    "ImportOutcome",
    "ImportPreview",
    "ImportProblem",
    "ImportRejected",
    "PreviewRow",
    "import_apply",
    "import_continue",
    "import_read",
    "import_stage",
    "import_start",
    "outcome_of",
]
