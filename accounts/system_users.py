"""Accounts that name a job rather than a person (the lab import, onboarding): what the history
and the audit trail show as the author of the records a command writes. They can never sign in."""

from __future__ import annotations

from django.contrib.auth import get_user_model


def system_user(username: str):
    """The job's account, made on first use: inactive and without a usable password."""
    user, created = get_user_model().objects.get_or_create(
        username=username, defaults={"is_active": False}
    )
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    return user
