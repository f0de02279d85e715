"""Doing a form's write once per submission key.

`submission_once` inserts the key's row first, then performs the write, then stores where the
user was sent, all in one transaction. A second request with the same key blocks on that insert
until the first commits (PostgreSQL waits on the primary key), then fails it and answers with
the first outcome; if the first rolled back (a form error), the second goes ahead on its own.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass

from django.core.exceptions import SuspiciousOperation
from django.db import IntegrityError, transaction

from .models import Submission


@dataclass(frozen=True)
class Outcome:
    url: str
    repeated: bool  # True when this key had already been used: nothing was done now


def submission_outcome(*, key: uuid.UUID, user, action: str) -> str | None:
    """Where the earlier submission with `key` led, or None if there was none."""
    row = Submission.objects.filter(key=key).only("user_id", "action", "outcome_url").first()
    if row is None:
        return None
    if row.user_id != user.pk or row.action != action:
        # Keys are random per page: one used by someone else or for another form was copied.
        raise SuspiciousOperation("A form's submission key was reused for another form or user.")
    return row.outcome_url


def submission_once(*, key: uuid.UUID, user, action: str, perform: Callable[[], str]) -> Outcome:
    """Run `perform` (which writes and returns the URL to send the user to) unless `key` was
    already used, in which case return the first use's URL. An exception from `perform`
    (a ValidationError) undoes everything, the key's row too, so a corrected retry can use it."""
    with transaction.atomic():
        try:
            with transaction.atomic():
                Submission.objects.create(key=key, user=user, action=action)
        except IntegrityError:
            first = submission_outcome(key=key, user=user, action=action)
            return Outcome(url=first or action, repeated=True)
        url = perform()
        Submission.objects.filter(key=key).update(outcome_url=url)
    return Outcome(url=url, repeated=False)


def submission_outcome_move(*, key: uuid.UUID, url: str) -> None:
    """Send later repeats of `key` to `url`: for a write that finishes after its submission's
    transaction (an import recorded batch by batch), once it has finished."""
    Submission.objects.filter(key=key).update(outcome_url=url)
