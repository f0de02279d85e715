"""Staff forms for lab results. The report form has a value, a unit and an optional lab range
for each analyte of the panel; the checking itself is monitoring.results.entry's, shared with
the CSV import and the recording service."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError

from monitoring.domain.measurements import MeasurementError
from monitoring.models import OUTCOME_ABNORMAL, OUTCOME_NORMAL, Analyte, LabReport
from monitoring.results.entry import ResultInput, result_check
from patients.form_fields import TypedDateField, free_text
from patients.forms import clinic_choice_limit
from patients.models import CsvDateOrder
from patients.validators import NOTE_MAX_LENGTH, REASON_MAX_LENGTH
from submissions.forms import OpenedVersionMixin, SubmissionKeyMixin


class ReportForm(SubmissionKeyMixin, forms.Form):
    # The one-time key (SubmissionKeyMixin) is also stored on the report: a second submit of the
    # same page is recognised and stored once even by the service alone.
    sample_collected_on = TypedDateField(label="Sample collected")
    reported_on = TypedDateField(label="Reported", required=False)
    lab_name = free_text(forms.CharField(label="Laboratory", max_length=120, required=False))
    notes = free_text(
        forms.CharField(
            required=False,
            max_length=NOTE_MAX_LENGTH,
            widget=forms.Textarea(attrs={"rows": 2}),
        ),
        multi_line=True,
    )

    def __init__(self, *args, analytes: list[Analyte], **kwargs):
        super().__init__(*args, **kwargs)
        self.analytes = analytes
        for analyte in analytes:
            self._add_analyte_fields(analyte)

    def _add_analyte_fields(self, analyte: Analyte) -> None:
        code = analyte.code
        if analyte.is_ordinal:
            grades = [("", "not tested")] + [(g, g) for g in analyte.ordinal_scale]
            self.fields[code] = forms.ChoiceField(
                label=analyte.name, choices=grades, required=False
            )
            return
        self.fields[code] = forms.CharField(
            label=analyte.name,
            required=False,
            max_length=32,
            widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
        )
        self.fields[f"{code}_unit"] = forms.ChoiceField(
            label=f"{analyte.name} unit", choices=[(u, u) for u in analyte.units], required=False
        )
        for end in ("low", "high"):
            self.fields[f"{code}_reference_{end}"] = forms.CharField(
                label=f"{analyte.name} lab range {end}", required=False, max_length=32
            )

    def analyte_rows(self):
        """(analyte, value field, unit field, range fields) for the template's table."""
        for analyte in self.analytes:
            code = analyte.code
            unit = None if analyte.is_ordinal else self[f"{code}_unit"]
            ranges = (
                []
                if analyte.is_ordinal
                else [self[f"{code}_reference_low"], self[f"{code}_reference_high"]]
            )
            yield analyte, self[code], unit, ranges

    def clean(self):
        cleaned = super().clean()
        entries = []
        for analyte in self.analytes:
            entry = self._entry(analyte, cleaned)
            if entry is None:
                continue
            try:
                result_check(entry)
            except MeasurementError as error:
                name = analyte.code if error.field == "value" else f"{analyte.code}_{error.field}"
                self.add_error(name if name in self.fields else analyte.code, error.message)
            entries.append(entry)
        if not entries and not self.errors:
            raise ValidationError("Enter at least one result.")
        cleaned["entries"] = entries
        return cleaned

    @staticmethod
    def _entry(analyte: Analyte, cleaned) -> ResultInput | None:
        code = analyte.code
        value = (cleaned.get(code) or "").strip()
        if not value:
            return None
        return ResultInput(
            analyte=analyte,
            value=value,
            unit=cleaned.get(f"{code}_unit", ""),
            reference_low=cleaned.get(f"{code}_reference_low", ""),
            reference_high=cleaned.get(f"{code}_reference_high", ""),
        )


class CheckDoneForm(SubmissionKeyMixin, forms.Form):
    """A check done without a lab value: when, where or by whom, and the outcome. The field
    names are the recording service's, so its refusals land beside the right field."""

    sample_collected_on = TypedDateField(label="Date done")
    done_by = forms.ChoiceField(
        label="Done where or by whom",
        choices=[("", "Choose where or by whom"), *LabReport.DoneBy.choices],
        error_messages={"required": "Say where or by whom the check was done."},
    )
    done_by_name = free_text(
        forms.CharField(
            label="Name (practice, doctor or hospital)",
            max_length=LabReport._meta.get_field("done_by_name").max_length,
            required=False,
            help_text="Optional; needed when you chose “Other”.",
        )
    )
    outcome = forms.ChoiceField(
        label="Outcome",
        choices=[(OUTCOME_NORMAL, "Normal"), (OUTCOME_ABNORMAL, "Abnormal")],
        widget=forms.RadioSelect,
        error_messages={"required": "Choose normal or abnormal."},
    )
    notes = free_text(
        forms.CharField(
            label="Note",
            required=False,
            max_length=NOTE_MAX_LENGTH,
            widget=forms.Textarea(attrs={"rows": 3}),
            help_text="Required when abnormal: what was found and what was advised.",
        ),
        multi_line=True,
    )
    document_reference = free_text(
        forms.CharField(
            label="Document reference",
            max_length=LabReport._meta.get_field("document_reference").max_length,
            required=False,
            help_text="Optional: a letter number or a file name, to find the report.",
        )
    )

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("outcome") == OUTCOME_ABNORMAL and not (cleaned.get("notes") or "").strip():
            self.add_error("notes", "Say what was abnormal: a note is required.")
        if (
            cleaned.get("done_by") == LabReport.DoneBy.OTHER
            and not (cleaned.get("done_by_name") or "").strip()
        ):
            self.add_error("done_by_name", "Name who did the check.")
        return cleaned


class ResultCorrectForm(SubmissionKeyMixin, OpenedVersionMixin, forms.Form):
    value = forms.CharField(max_length=32)
    unit = forms.ChoiceField(required=False)
    reference_low = forms.CharField(label="Lab range low", required=False, max_length=32)
    reference_high = forms.CharField(label="Lab range high", required=False, max_length=32)
    reason = free_text(
        forms.CharField(
            label="Reason for the correction",
            max_length=REASON_MAX_LENGTH,
            widget=forms.Textarea(attrs={"rows": 2}),
        ),
        multi_line=True,
    )

    def __init__(self, *args, analyte: Analyte, **kwargs):
        super().__init__(*args, **kwargs)
        if analyte.is_ordinal:
            self.fields["value"] = forms.ChoiceField(
                choices=[(g, g) for g in analyte.ordinal_scale]
            )
            for name in ("unit", "reference_low", "reference_high"):
                del self.fields[name]
        else:
            self.fields["unit"].choices = [(u, u) for u in analyte.units]


class EnteredInErrorForm(SubmissionKeyMixin, OpenedVersionMixin, forms.Form):
    reason = free_text(
        forms.CharField(
            label="Why was this entered in error?",
            max_length=REASON_MAX_LENGTH,
            widget=forms.Textarea(attrs={"rows": 2}),
        ),
        multi_line=True,
    )


class ImportConfirmForm(SubmissionKeyMixin, forms.Form):
    """The preview's "Import" button: nothing to fill in but the one-time key."""


class ImportUploadForm(forms.Form):
    clinic = forms.ModelChoiceField(queryset=None)
    file = forms.FileField(label="CSV file", help_text="One row per result.")
    date_order = forms.ChoiceField(
        label="Dates in this file",
        choices=[("", "As the clinic's setting says"), *CsvDateOrder.choices],
        required=False,
        help_text="YYYY-MM-DD is always read; a date such as 03/02/2024 that could be "
        "either day or month is refused.",
    )

    def __init__(self, *args, clinics, **kwargs):
        super().__init__(*args, **kwargs)
        clinic_choice_limit(self.fields["clinic"], clinics)

    def clean_file(self):
        upload = self.cleaned_data["file"]
        limit = settings.RESULT_IMPORT_MAX_BYTES
        if upload.size > limit:
            raise ValidationError(
                f"The file is {upload.size:,} bytes; the limit is {limit:,} bytes. "
                "Split it into smaller files."
            )
        return upload
