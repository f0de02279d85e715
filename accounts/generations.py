"""Generation tokens: how a web process knows that something it keeps between requests (a
user's access in their session, the flag rules in its memory) changed in another process.

Each kept thing is stamped with the token current when it was read from the database; a change
replaces the token in the shared cache (Redis in production), and whatever carries another
stamp is stale. The rules that keep this safe:
- read the token before the rows, so a stamp is never newer than what it stamps;
- replace the token at once and again after the change's commit, because something read
  between the two saw the rows from before the commit;
- a missing token (evicted, flushed) is added afresh, so every stamp is stale;
- a cache that cannot be read gives None: nothing kept is trusted, everything is read again.
Callers also bound the age of what they keep, for a change whose token could not be replaced
(the cache down at that moment). What is kept drawn (pages, worklist rows) is keyed also on the
code that drew it (code_stamp), so a new release never serves what the old one drew.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import uuid
from pathlib import Path

from django.conf import settings
from django.core.cache import cache
from django.db import transaction

log = logging.getLogger(__name__)

# A token outlives anything stamped with it that is still in use; one that was evicted costs
# only a read.
TOKEN_SECONDS = 24 * 60 * 60


def tokens(*keys: str) -> tuple[str, ...] | None:
    """The current token of each key, adding any that is missing; None when the cache cannot
    be used."""
    try:
        found = cache.get_many(keys)
        for key in keys:
            if key not in found:
                cache.add(key, uuid.uuid4().hex, timeout=TOKEN_SECONDS)
                found[key] = cache.get(key)  # whoever added first
        values = tuple(found[key] for key in keys)
    except Exception:  # each cache backend raises its own errors; a miss is always safe
        log.warning("generation tokens: the cache could not be read", exc_info=True)
        return None
    return None if None in values else values


def replace(*keys: str) -> None:
    """Make everything stamped with the current token of each key stale, now and after the
    commit (one round trip each time, however many keys)."""

    def new_tokens() -> None:
        try:
            cache.set_many({key: uuid.uuid4().hex for key in keys}, timeout=TOKEN_SECONDS)
        except Exception:
            log.warning("generation tokens: could not replace %s", keys[:3], exc_info=True)

    if keys:
        new_tokens()
        transaction.on_commit(new_tokens)


# What draws a kept page or row: the project's code and its templates.
CODE_SUFFIXES = (".py", ".html", ".txt")


@functools.cache
def code_stamp() -> str:
    """A digest of the code and templates this process runs, read once. Kept pages and rows
    carry it in their keys: after a deploy, the new processes draw afresh rather than serve
    HTML from the old templates, or unpickle rows in a shape the new code no longer has. (The
    generation tokens themselves stay shared, so old and new processes see each other's
    changes during a rolling restart.)"""
    root = Path(settings.BASE_DIR)
    folders = [path.parent for path in root.glob("*/__init__.py")] + [root / "templates"]
    digest = hashlib.sha256()
    for folder in sorted(folders):
        for path in sorted(folder.rglob("*")):
            if path.suffix in CODE_SUFFIXES and path.is_file():
                digest.update(str(path.relative_to(root)).encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()[:16]
