"""API tokens: made and revoked by a clinic's lead, checked on every FHIR request.

A token is 32 random bytes, URL-safe, prefixed "lmt_" so a leaked one is recognisable in a log
or a repository. Only its SHA-256 digest is stored (a token is long and random, so a plain hash
is as strong as a slow one and lets each request be checked with one indexed query)."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from labfeeds.models import ApiToken, LabConnection
from patients.models import Clinic

TOKEN_PREFIX = "lmt_"  # noqa: S105 - a marker, not a secret
# last_used_at is written at most this often per token, not on every request.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def digest_of(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class NewToken:
    token: ApiToken
    secret: str  # shown once to the lead who made it; never stored


def token_create(
    *,
    clinic: Clinic,
    name: str,
    scope: str,
    created_by,
    connection: LabConnection | None = None,
) -> NewToken:
    """A new token for the clinic (and, for a lab, its connection). The secret is returned
    once, here; the database keeps only its digest. The audit trail records who made it and
    who revoked it (audit.registry: the token's saves)."""
    if connection is not None and connection.clinic_id != clinic.pk:
        raise ValueError("The connection belongs to another clinic.")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with transaction.atomic():
        token = ApiToken.objects.create(
            clinic=clinic,
            connection=connection,
            name=name.strip(),
            scope=scope,
            prefix=secret[: len(TOKEN_PREFIX) + 6],
            digest=digest_of(secret),
            created_by=created_by,
        )
    return NewToken(token=token, secret=secret)


def token_revoke(*, token: ApiToken, revoked_by) -> ApiToken:
    """Refused from now on; kept, with who revoked it and when. Revoking twice changes nothing."""
    with transaction.atomic():
        token = ApiToken.objects.select_for_update().get(pk=token.pk)
        if token.revoked_at is None:
            token.revoked_at = timezone.now()
            token.revoked_by = revoked_by
            token.save(update_fields=["revoked_at", "revoked_by"])
    return token


def token_authenticate(secret: str, *, scope: str) -> ApiToken | None:
    """The live token of that scope with this secret, or None (unknown, revoked, wrong scope,
    or its connection switched off). One query, and an update at most once a minute."""
    if not secret.startswith(TOKEN_PREFIX):
        return None
    token = (
        ApiToken.objects.select_related("clinic", "connection")
        .filter(digest=digest_of(secret), revoked_at__isnull=True, scope=scope)
        .first()
    )
    if token is None or (token.connection is not None and not token.connection.is_active):
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token
