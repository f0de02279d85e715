"""Optimistic concurrency: an edit form carries the version of the record it was opened on,
and the write refuses to save over a newer version. The refusal names what changed, with the
value now stored and the value the user typed, and the version it was refused against: a form
shown again with that version re-applies the user's values on top, deliberately.

A record's version is whatever changes whenever the record does: a `version` column that every
save increments (patients, courses), the latest history row of a result, a check's last change.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.core.exceptions import ValidationError


@dataclass(frozen=True)
class Difference:
    label: str
    theirs: str  # what is stored now
    yours: str  # what this form would save


class StaleEdit(ValidationError):
    """Raised by a write when the form was opened on an older version of the record."""

    def __init__(self, *, what: str, current_version: str, differences: Iterable[Difference]):
        self.current_version = str(current_version)
        self.differences = list(differences)
        shown = "; ".join(
            f"{d.label}: now {d.theirs or 'empty'}, yours {d.yours or 'empty'}"
            for d in self.differences
        )
        message = (
            f"{what} was changed by someone else after you opened this page, so nothing was "
            "saved. "
            + (f"{shown}. " if shown else "")
            + "Check the values now stored; to save yours on top of them, submit again."
        )
        super().__init__(message, code="stale")


def version_check(
    *,
    what: str,
    opened: str | int | None,
    current: str | int,
    differences: Iterable[Difference] = (),
) -> None:
    """Raise StaleEdit unless the form was opened on `current`. `opened` None means the caller
    is not a form (a command, a test's setup) and takes the record as it is now."""
    if opened is None or str(opened) == str(current):
        return
    raise StaleEdit(what=what, current_version=str(current), differences=differences)


def field_differences(stored, changes: dict) -> list[Difference]:
    """The fields of `changes` (name -> the value this form would save) whose value differs
    from the one `stored` has now, in words (choices by their label, records by their name)."""
    differences = []
    for name, yours in changes.items():
        field = stored._meta.get_field(name)
        theirs = getattr(stored, name)
        if theirs == yours:
            continue
        differences.append(
            Difference(
                str(field.verbose_name).capitalize(), _shown(field, theirs), _shown(field, yours)
            )
        )
    return differences


def _shown(field, value) -> str:
    if value is None:
        return ""
    if field.choices:
        return str(dict(field.flatchoices).get(value, value))
    return str(value)
