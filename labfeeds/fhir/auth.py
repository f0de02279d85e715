"""Who is calling the FHIR API, and which patients they may read.

A lab posts with a token of scope "lab"; the clinic's record system reads with a token of scope
"read" (labfeeds.tokens): `Authorization: Bearer <token>`. A lab token cannot read and a read
token cannot post. A read may also come from a signed-in session (the browser of a member of
staff, or a patient in the portal): staff see their clinics' patients (patients.access), a
patient their own record alone (as in the portal). When a Bearer header is sent, it alone
decides: a bad token is refused even in a signed-in browser."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import QuerySet

from labfeeds.models import ApiToken
from labfeeds.tokens import token_authenticate
from patients.access import patients_for
from patients.models import Patient

LAB, READ = ApiToken.Scope.LAB.value, ApiToken.Scope.READ.value


def bearer_secret(request) -> str | None:
    """The token of an `Authorization: Bearer` header; None without one ("" for a header that
    is not a Bearer token, which is refused rather than ignored)."""
    header = request.headers.get("Authorization")
    if header is None:
        return None
    scheme, _, secret = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        return ""
    return secret.strip()


def token_for(request, *, scope: str) -> ApiToken | None:
    """The live token of `scope` the request carries, or None (none, unknown, revoked, of the
    other scope, or its connection switched off)."""
    secret = bearer_secret(request)
    if not secret:
        return None
    return token_authenticate(secret, scope=scope)


@dataclass(frozen=True)
class Reader:
    """Someone allowed to read: a read token, or a signed-in user."""

    token: ApiToken | None = None
    user: object | None = None

    def patients(self) -> QuerySet[Patient]:
        """The patients this reader may see: the token's clinic's, the staff member's
        clinics', or the patient's own record."""
        if self.token is not None:
            return Patient.objects.filter(clinic_id=self.token.clinic_id)
        own = Patient.objects.filter(user=self.user)
        if own.exists():
            return own
        return patients_for(self.user)

    def audit_text(self, what: str) -> str:
        """What the audit trail records as read: a token request has no signed-in user, so the
        token's prefix says who read."""
        if self.token is not None:
            return f"{what} by token {self.token.prefix} ({self.token.name})"
        return what


def reader_for(request) -> Reader | None:
    """The reader of a GET, or None (answer 401)."""
    if bearer_secret(request) is not None:
        token = token_for(request, scope=READ)
        return Reader(token=token) if token is not None else None
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated and user.is_active:
        return Reader(user=user)
    return None
