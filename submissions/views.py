"""SubmitOnceMixin: the view side of one-time submission keys.

A view's post builds its form and hands it to `post_once` with what to do when it is valid
(`save`, which writes through a service and returns the URL to send the user to) and how to
show it when it is not. A repeat of a submission that succeeded, sequential or concurrent, is
sent where the first went with a note that nothing was stored twice."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect

from .forms import KEY_FIELD, form_errors_show
from .services import submission_once, submission_outcome

ALREADY_SAVED = "That was already saved; it was not stored twice."


def _key(value) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


class SubmitOnceMixin:
    already_saved_message = ALREADY_SAVED

    def submitted_before(self, request) -> HttpResponse | None:
        """The answer to a repeat of a submission that already succeeded, else None."""
        key = _key(request.POST.get(KEY_FIELD))
        if key is None:
            return None
        url = submission_outcome(key=key, user=request.user, action=request.path)
        return None if url is None else self._repeat(request, url)

    def _repeat(self, request, url: str) -> HttpResponse:
        messages.info(request, self.already_saved_message)
        return redirect(url)

    def post_once(
        self,
        request,
        form,
        *,
        save: Callable[[dict], str],
        invalid: Callable[[object], HttpResponse],
    ) -> HttpResponse:
        repeat = self.submitted_before(request)
        if repeat is not None:
            return repeat
        if form.is_valid():
            try:
                outcome = submission_once(
                    key=form.cleaned_data[KEY_FIELD],
                    user=request.user,
                    action=request.path,
                    perform=lambda: save(form.cleaned_data),
                )
            except ValidationError as error:
                form_errors_show(form, error)
            else:
                if outcome.repeated:
                    return self._repeat(request, outcome.url)
                return redirect(outcome.url)
        # Refused because a concurrent twin has just saved the same thing (the hospital number
        # now taken by it, say): answer as the twin did.
        return self.submitted_before(request) or invalid(form)
