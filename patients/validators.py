"""The shared input validators, for model fields and form fields alike: Django's face of
monitoring.domain.input_rules. Models list them on their fields, so the admin, the staff
forms and the services (which call full_clean) refuse the same things with the same words."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator
from django.utils.deconstruct import deconstructible

from monitoring.domain.input_rules import (
    control_characters,
    formula_message,
    formula_start,
    non_ascii_digits,
)

# Length limits of the free text that has no other limit: a note or a reason is a paragraph,
# not a document.
NOTE_MAX_LENGTH = 2000
REASON_MAX_LENGTH = 500  # why a result was corrected or entered in error
LONG_TEXT_MAX_LENGTH = 10000  # clinic instructions, protocol descriptions and rationales


@deconstructible
class NoControlCharacters:
    """Refuses control characters; a multi-line field allows tabs and line breaks."""

    def __init__(self, multi_line: bool = False):
        self.multi_line = multi_line

    def __call__(self, value) -> None:
        found = control_characters(str(value), multi_line=self.multi_line)
        if found:
            raise ValidationError(
                "It contains control characters (%(found)s), which are not text; remove them.",
                code="control_characters",
                params={"found": ", ".join(found)},
            )

    def __eq__(self, other) -> bool:
        return isinstance(other, NoControlCharacters) and other.multi_line == self.multi_line


@deconstructible
class NoFormula:
    """Refuses text a spreadsheet would run as a formula once exported (CSV injection)."""

    def __call__(self, value) -> None:
        start = formula_start(str(value))
        if start is not None:
            raise ValidationError(formula_message(start), code="formula")

    def __eq__(self, other) -> bool:
        return isinstance(other, NoFormula)


def ascii_digits_only(value) -> None:
    if non_ascii_digits(str(value)):
        raise ValidationError("Write numbers with the digits 0-9.", code="digits")


single_line = NoControlCharacters()
multi_line = NoControlCharacters(multi_line=True)
no_formula = NoFormula()

# What a free-text field that an export could carry gets.
SINGLE_LINE_TEXT = [single_line, no_formula]
MULTI_LINE_TEXT = [multi_line, no_formula]


def note_rules(limit: int = NOTE_MAX_LENGTH) -> list:
    """A model TextField's validators: Django checks a TextField's max_length only in forms."""
    return [MaxLengthValidator(limit), *MULTI_LINE_TEXT]


def text_problems(**fields: tuple[str, int, bool]) -> dict[str, str]:
    """For services that take free text without a model's full_clean: name=(text, most
    characters, multi-line) in, the first problem of each field out (empty when all pass)."""
    problems: dict[str, str] = {}
    for name, (text, limit, is_multi_line) in fields.items():
        rules = [
            MaxLengthValidator(limit),
            multi_line if is_multi_line else single_line,
            no_formula,
        ]
        for rule in rules:
            try:
                rule(text)
            except ValidationError as error:
                problems[name] = " ".join(error.messages)
                break
    return problems
