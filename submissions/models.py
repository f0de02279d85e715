"""One row per state-changing form submission that succeeded, keyed by the one-time key the
form carried. A repeat of the same submission (a double click, the back button, a retry) finds
its row and is sent where the first one went, instead of being stored again."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Submission(models.Model):
    # The primary key is the uniqueness that matters: on PostgreSQL a second insert of the same
    # key waits for the first transaction and then fails, which is the lock on the key.
    key = models.UUIDField(primary_key=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    # The path posted to: a key is good for the one form it was issued with.
    action = models.CharField(max_length=300)
    outcome_url = models.CharField(max_length=2000, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.action} by user {self.user_id} at {self.created_at:%Y-%m-%d %H:%M}"


class Versioned(models.Model):
    """A record whose edit forms are checked against the version they were opened on
    (submissions.versions). Every save of an existing row is a new version; writers compare
    under the row's lock, so two saves cannot both pass the check."""

    version = models.PositiveIntegerField(default=1, editable=False)

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if not self._state.adding:
            self.version = (self.version or 0) + 1
            update_fields = kwargs.get("update_fields")
            if update_fields is not None:
                kwargs["update_fields"] = {*update_fields, "version"}
        super().save(*args, **kwargs)
