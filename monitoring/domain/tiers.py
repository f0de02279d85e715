"""The tiers a result can be flagged at, and what each tier asks of the clinic. Every module
that sorts, alerts on or shows a tier reads these, instead of spelling the tier names again."""

from __future__ import annotations

import enum


class Tier(enum.StrEnum):
    NORMAL = "normal"
    LOW = "low"
    HIGH = "high"
    AMBER = "amber"
    RED = "red"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return {"normal": 0, "low": 1, "high": 1, "amber": 2, "red": 3, "critical": 4}[self.value]


# Tiers a nurse must acknowledge, and those that cannot wait for the daily digest.
ACKNOWLEDGE_TIERS = (Tier.AMBER, Tier.RED, Tier.CRITICAL)
URGENT_TIERS = (Tier.RED, Tier.CRITICAL)


def urgency_rank(tier: str) -> int:
    """Sort key, most urgent first: critical 0, red 1, amber 2, anything else 3."""
    return {Tier.CRITICAL: 0, Tier.RED: 1, Tier.AMBER: 2}.get(tier, 3)
