"""Posting a form as its page would: with a fresh one-time submission key (submissions)."""

from __future__ import annotations

import uuid


def keyed(data: dict | None = None) -> dict:
    """`data` with a new submission key, as a form freshly shown sends it."""
    return {"submission_key": str(uuid.uuid4()), **(data or {})}
