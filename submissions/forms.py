"""What a state-changing form carries: a one-time submission key (every such form) and, on an
edit of a clinical record, the version the form was opened on."""

from __future__ import annotations

import uuid

from django import forms
from django.core.exceptions import ValidationError

from .versions import StaleEdit

KEY_FIELD = "submission_key"
VERSION_FIELD = "opened_version"

KEY_MISSING = "This form was not sent whole (its one-time key is missing); reload the page."


class SubmissionKeyMixin(forms.Form):
    """Mix in before forms.Form/ModelForm. Each rendering of the form gets a new key; the
    views' SubmitOnceMixin stores each key's outcome once."""

    submission_key = forms.UUIDField(
        widget=forms.HiddenInput,
        initial=uuid.uuid4,
        error_messages={"required": KEY_MISSING, "invalid": KEY_MISSING},
    )

    def clean(self):
        cleaned = super().clean()
        # A hidden field's error would be shown beside nothing: show it above the form.
        if KEY_FIELD in self._errors:
            del self._errors[KEY_FIELD]
            self.add_error(None, KEY_MISSING)
        return cleaned


class VersionField(forms.CharField):
    """The version an edit form was opened on. Never a change the user made: a form whose
    fields are untouched has not changed because the record moved on meanwhile."""

    widget = forms.HiddenInput

    def __init__(self, **kwargs):
        super().__init__(required=False, **kwargs)

    def has_changed(self, initial, data) -> bool:
        return False


class OpenedVersionMixin(forms.Form):
    """Mix in before forms.Form/ModelForm of an edit. The view gives `opened_version` (the
    record's version when the page is shown); a ModelForm's instance gives it by itself."""

    opened_version = VersionField()

    def __init__(self, *args, opened_version=None, **kwargs):
        super().__init__(*args, **kwargs)
        instance = getattr(self, "instance", None)
        if opened_version is None and instance is not None and instance.pk is not None:
            opened_version = getattr(instance, "version", None)
        self.fields[VERSION_FIELD].initial = opened_version

    @property
    def version_opened_on(self) -> str | None:
        """The version the page was opened on; None when the form did not send one."""
        return self.cleaned_data.get(VERSION_FIELD) or None

    def stale_show(self, error: StaleEdit) -> None:
        """Show the refusal above the form and carry the current version, so that submitting
        the same form again applies the user's values on top of it, deliberately."""
        self.data = self.data.copy()
        self.data[self.add_prefix(VERSION_FIELD)] = error.current_version
        self.add_error(None, error)


def form_errors_show(form, error: ValidationError) -> None:
    """A service's refusal on the form: each problem beside its field, or above the form."""
    if isinstance(error, StaleEdit) and isinstance(form, OpenedVersionMixin):
        form.stale_show(error)
        return
    if not hasattr(error, "error_dict"):
        form.add_error(None, error)
        return
    for field, problems in error.message_dict.items():
        form.add_error(field if field in form.fields else None, problems)
