"""The active flag rules, read once per web or worker process and kept until a lead changes
one: every result saved and every patient page drawn needs all of them, and they change a few
times a year.

What is kept is the pure rules (monitoring.domain.flagging.FlagRule, frozen), stamped with a
generation token (accounts.generations) that saving or deleting a rule or an analyte replaces,
so every process reads them again on its next use. Also read again after MAX_AGE, for a
change no signal announces (a migration's bulk update) or whose token could not be replaced.
"""

from __future__ import annotations

import threading
import time

from django.db.models.signals import post_delete, post_save

from accounts import generations
from monitoring.domain import flagging
from monitoring.models import Analyte, FlagRule

MAX_AGE_SECONDS = 10 * 60
# Also part of the stamp of what is drawn from the rules (patients.page_parts).
RULES_KEY = "flag-rules-generation"
_lock = threading.Lock()
_kept: tuple[str, float, tuple[flagging.FlagRule, ...]] | None = None


def flag_rules() -> list[flagging.FlagRule]:
    global _kept
    token = generations.tokens(RULES_KEY)
    kept = _kept
    if token is not None and kept is not None:
        stamp, taken, rules = kept
        if stamp == token[0] and time.monotonic() - taken < MAX_AGE_SECONDS:
            return list(rules)
    rules = tuple(FlagRule.objects.as_rules())
    if token is not None:
        with _lock:
            _kept = (token[0], time.monotonic(), rules)
    return list(rules)


def _changed(sender, **kwargs) -> None:
    generations.replace(RULES_KEY)


def invalidation_connect() -> None:
    """Connected in MonitoringConfig.ready."""
    for model in (FlagRule, Analyte):
        for signal in (post_save, post_delete):
            signal.connect(_changed, sender=model, dispatch_uid=f"rule_cache.{model.__name__}")
