"""Inviting a patient to the portal and accepting the invitation.

The link carries a random secret; only its hash is stored (portal.models). The e-mail is sent
directly with Django's mail, not through the notification outbox: an outbox row would have to
keep the secret link in the database until delivery, which is what storing a hash avoids.
It is sent inside the transaction that stores the invitation, so a send that fails rolls the
invitation back and the member of staff sees the error at once, instead of a patient waiting
for an e-mail that never left.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation

from accounts.roles import Role, grant_role
from audit.bulk import update_recorded
from patients.models import Patient

from .models import Invitation, new_secret, secret_hash

LINK_VALID_FOR = timedelta(days=7)


def invitation_url(secret: str) -> str:
    path = reverse("portal:invitation_accept", kwargs={"token": secret})
    return settings.SITE_URL.rstrip("/") + path


def username_for(email: str) -> str:
    """Patients sign in with their e-mail address."""
    return email.strip().lower()


def invitation_problems(patient: Patient) -> dict[str, str]:
    """Why this patient cannot be invited now, keyed by the field to fix."""
    if patient.user_id is not None:
        return {"user": "This patient already has a portal account."}
    if not patient.is_planned:
        return {
            "status": f"The patient's status is “{patient.get_status_display()}”: only patients "
            "in monitoring can be invited."
        }
    if not patient.email.strip():
        return {
            "email": "The patient's record has no e-mail address (the “E-mail” field): add "
            "one before inviting them."
        }
    if get_user_model().objects.filter(username__iexact=username_for(patient.email)).exists():
        return {
            "email": f"Another account already signs in as {patient.email} (the “E-mail” "
            "field): each patient needs an address of their own."
        }
    return {}


def invitation_send(*, patient: Patient, invited_by, now: datetime) -> Invitation:
    """Invite the patient by e-mail. Earlier links to this patient stop working. Raises
    ValidationError, keyed by the field to fix, when the patient cannot be invited or the
    e-mail could not be sent (nothing is then stored)."""
    with transaction.atomic():
        patient = (
            Patient.objects.select_for_update(of=("self",))
            .select_related("clinic")
            .get(pk=patient.pk)
        )
        problems = invitation_problems(patient)
        if problems:
            raise ValidationError(problems)
        update_recorded(
            Invitation.objects.filter(
                patient=patient, superseded_at__isnull=True, used_at__isnull=True
            ),
            superseded_at=now,
        )
        secret = new_secret()
        invitation = Invitation.objects.create(
            patient=patient,
            email=patient.email.strip(),
            token_hash=secret_hash(secret),
            invited_by=invited_by,
            created_at=now,
            expires_at=now + LINK_VALID_FOR,
        )
        _send(invitation, patient, secret)
    return invitation


def _send(invitation: Invitation, patient: Patient, secret: str) -> None:
    context = {
        "patient": patient,
        "clinic": patient.clinic,
        "link": invitation_url(secret),
        "expires_on": invitation.expires_at.astimezone(patient.clinic.zone),
        "username": username_for(invitation.email),
    }
    # On the patient's clinic's clock and in its date format, whichever clinic the sender's
    # session uses (the date filter converts to the active time zone).
    with translation.override(patient.clinic.date_locale), timezone.override(patient.clinic.zone):
        message = render_to_string("portal/email/invitation.txt", context)
    try:
        send_mail(
            subject=f"Your invitation to the {patient.clinic.name} patient portal",
            message=message,
            from_email=None,
            recipient_list=[invitation.email],
        )
    except OSError as error:  # SMTP errors are OSErrors too
        raise ValidationError(
            {"email": f"The e-mail could not be sent ({error}). Nothing was saved: try again."}
        ) from error


@dataclass(frozen=True)
class Opened:
    invitation: Invitation | None
    # "" when the link works; else unknown, used, superseded or expired.
    refusal: str


def invitation_open(secret: str, *, now: datetime) -> Opened:
    invitation = (
        Invitation.objects.select_related("patient__clinic")
        .filter(token_hash=secret_hash(secret))
        .first()
    )
    if invitation is None:
        return Opened(None, "unknown")
    return Opened(invitation, invitation.refusal_on(now))


def invitation_accept(*, invitation: Invitation, password: str, now: datetime):
    """Create the patient's account with this (already validated) password, link it to their
    record, give it the patient role and use the invitation up. Returns the new user."""
    with transaction.atomic():
        invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
        patient = Patient.objects.select_for_update(of=("self",)).get(pk=invitation.patient_id)
        refusal = invitation.refusal_on(now)
        if refusal:
            raise ValidationError(f"This invitation link has been {refusal}.", code=refusal)
        # Checked again: since the e-mail went, someone may have opened an account for this
        # patient or this address, or the patient may have left monitoring.
        if patient.user_id or not patient.is_planned or _username_taken(invitation.email):
            raise ValidationError(
                "This invitation can no longer be used: please ask the clinic for a new one.",
                code="conflict",
            )
        user = get_user_model()(
            username=username_for(invitation.email),
            email=invitation.email,
            first_name=patient.given_name,
            last_name=patient.family_name,
        )
        user.set_password(password)
        user.save()
        grant_role(user, Role.PATIENT)
        patient.user = user
        patient._history_user = user
        patient._change_reason = "Portal account opened from the invitation sent by e-mail."
        patient.save(update_fields=["user", "updated_at"])
        invitation.used_at = now
        invitation.user = user
        invitation.save(update_fields=["used_at", "user"])
    return user


def _username_taken(email: str) -> bool:
    return get_user_model().objects.filter(username__iexact=username_for(email)).exists()
