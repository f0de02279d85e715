"""The portal's own records: invitations to open an account, and private calendar feeds.

Both are reached through a secret in a link. Only a SHA-256 hash of each secret is stored, so a
copy of the database opens no account and no feed; the secret itself exists only in the e-mail
sent and the patient's calendar app.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from django.conf import settings
from django.db import models


def new_secret() -> str:
    """256 random bits, safe in a URL path."""
    return secrets.token_urlsafe(32)


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class Invitation(models.Model):
    """A one-time link sent to a patient's e-mail address to set a password. A newer invitation
    to the same patient supersedes this one; a used, superseded or expired one opens nothing."""

    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="portal_invitations"
    )
    # The address the link went to, as it was then: the record's address may change later.
    email = models.EmailField()
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    superseded_at = models.DateTimeField(null=True, blank=True)
    used_at = models.DateTimeField(null=True, blank=True)
    # The account created when the patient accepted.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # Re-inviting supersedes the earlier link, so at most one link per patient works.
            models.UniqueConstraint(
                fields=["patient"],
                condition=models.Q(superseded_at__isnull=True, used_at__isnull=True),
                name="one_open_invitation_per_patient",
            ),
        ]

    def __str__(self) -> str:
        return f"Invitation to {self.email} of {self.created_at:%d %b %Y}"

    def refusal_on(self, now: datetime) -> str:
        """Why the link no longer opens anything, or "" while it still works."""
        if self.used_at is not None:
            return "used"
        if self.superseded_at is not None:
            return "superseded"
        if now >= self.expires_at:
            return "expired"
        return ""


class CalendarFeedQuerySet(models.QuerySet):
    def live(self):
        return self.filter(revoked_at__isnull=True)


class CalendarFeed(models.Model):
    """A private address a calendar app subscribes to. Making a new one revokes the old, so a
    patient who lost a phone can cut it off; a revoked feed answers 404."""

    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="calendar_feeds"
    )
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    # The patient's choice: a reminder alert the day before each visit (a VALARM in the feed).
    reminder_alarm = models.BooleanField("remind me the day before", default=False)

    objects = CalendarFeedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["patient"],
                condition=models.Q(revoked_at__isnull=True),
                name="one_live_calendar_feed_per_patient",
            ),
        ]

    def __str__(self) -> str:
        state = "revoked" if self.revoked_at else "live"
        return f"Calendar feed of {self.created_at:%d %b %Y} ({state})"
