"""OperationOutcome: how every refusal, warning and note of the FHIR API is written. Each
issue names the element it is about as a FHIRPath expression ("Bundle.entry[2].resource.
valueQuantity.unit", entries counted from 0 as FHIRPath counts), so a lab's engineer can find
it in what they sent."""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

ERROR, WARNING, INFORMATION = "error", "warning", "information"


@dataclass(frozen=True)
class Issue:
    severity: str
    code: str  # the IssueType: invalid, value, processing, security, not-found, too-long...
    diagnostics: str
    expression: str = ""

    def as_json(self) -> dict:
        issue = {"severity": self.severity, "code": self.code, "diagnostics": self.diagnostics}
        if self.expression:
            issue["expression"] = [self.expression]
        return issue


def operation_outcome(issues: Iterable[Issue]) -> dict:
    issues = [issue.as_json() for issue in issues]
    if not issues:
        # An OperationOutcome needs one issue at least.
        issues = [{"severity": INFORMATION, "code": "informational", "diagnostics": "All OK."}]
    return {"resourceType": "OperationOutcome", "issue": issues}


def error_outcome(code: str, diagnostics: str, expression: str = "") -> dict:
    return operation_outcome([Issue(ERROR, code, diagnostics, expression)])


def fhir_json(data) -> str:
    """`data` as JSON, a Decimal written as the number it is with its digits ("5.10" stays
    5.10: FHIR decimals keep their precision; a float would not)."""
    numbers: list[str] = []
    # A marker no text can hold by chance: NULs (never in stored text) around a random word.
    marker = secrets.token_hex(4)

    def number(value):
        if isinstance(value, Decimal):
            numbers.append(format(value, "f"))
            return f"\x00{marker}:{len(numbers) - 1}\x00"
        raise TypeError(f"{type(value).__name__} is not JSON")

    text = json.dumps(data, default=number, ensure_ascii=False, separators=(",", ":"))
    if not numbers:
        return text
    pattern = re.compile(rf'"\\u0000{marker}:([0-9]+)\\u0000"')
    return pattern.sub(lambda found: numbers[int(found[1])], text)
