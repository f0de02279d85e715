"""Keeping exported text from being taken for a formula (pure: no Django).

A spreadsheet opening a CSV, or a person editing an XLSX cell, treats text that starts with
"=", "+", "-" or "@" as a formula, and tab or carriage return can push such a start past a
naive check. A patient's name or a note typed as `=HYPERLINK("http://...")` would then run
as a formula on a clinician's computer (CSV or formula injection). A single quote in front
makes the spreadsheet show the text as text; the quote is visible, which is the honest price.
Numbers, dates and empty cells are not text and pass unchanged (in XLSX they stay numbers).
"""

from __future__ import annotations

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value):
    """`value` with a quote in front when it is text starting like a formula; anything else
    (a number, a date, None) unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return f"'{value}"
    return value
