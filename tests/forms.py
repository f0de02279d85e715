"""Posting a form as its page would: with a fresh one-time submission key (submissions)."""

from __future__ import annotations

import re
import uuid


def keyed(data: dict | None = None) -> dict:
    """`data` with a new submission key, as a form freshly shown sends it."""
    return {"submission_key": str(uuid.uuid4()), **(data or {})}


# The one-time key and the version a page was opened on, as the page renders them.
HIDDEN = re.compile(r'<input type="hidden" name="(submission_key|opened_version)" value="([^"]*)"')


def hidden_fields(response) -> dict:
    """The hidden fields a page would post back: its one-time key and opened version."""
    return dict(HIDDEN.findall(response.content.decode()))
