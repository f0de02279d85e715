"""What a signed-in user may do and see, read from the database once and kept in their session,
so that an ordinary request pays no query for it.

The snapshot holds the user's permissions (their roles' and their own), the ids of the clinics
they are on the staff of, whether they hold a staff role (accounts.roles.is_staff_member: the
second factor is asked of them), and their clinic's time zone and date format (accounts.middleware
reads those two). It is made at sign-in and made again, from the database, whenever:
- one of the user's roles, own permissions, clinics, or the user row itself changed; a role's
  permissions or any clinic changed (for everyone): each change replaces a generation token
  (accounts.generations) that every web process sees, and a snapshot stamped with another is
  stale;
- the cache cannot be read, or holds no token (flushed, evicted): never trusted, rebuilt;
- it is older than MAX_AGE, so even a change whose token could not be replaced (the cache down
  at that moment) reaches every session within minutes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.db.models.signals import m2m_changed, post_delete, post_save

from accounts import generations
from accounts.middleware import (
    DATE_LOCALE_SESSION_KEY,
    PATIENT_SESSION_KEY,
    TIME_ZONE_SESSION_KEY,
)
from accounts.roles import is_staff_member

from .models import Clinic, Patient

SESSION_KEY = "access_snapshot"

MAX_AGE_SECONDS = 5 * 60
_EVERYONE = "access-generation:everyone"


def _user_key(user_id: int) -> str:
    return f"access-generation:user:{user_id}"


@dataclass(frozen=True)
class Snapshot:
    user_id: int
    tokens: tuple[str, str]
    taken: float  # time.time()
    permissions: frozenset[str]
    clinic_ids: tuple[int, ...]
    staff_member: bool

    def as_session(self) -> dict:
        return {
            "user": self.user_id,
            "tokens": list(self.tokens),
            "taken": self.taken,
            "permissions": sorted(self.permissions),
            "clinics": list(self.clinic_ids),
            "staff": self.staff_member,
        }

    @classmethod
    def from_session(cls, stored) -> Snapshot | None:
        try:
            return cls(
                user_id=int(stored["user"]),
                tokens=(str(stored["tokens"][0]), str(stored["tokens"][1])),
                taken=float(stored["taken"]),
                permissions=frozenset(stored["permissions"]),
                clinic_ids=tuple(int(pk) for pk in stored["clinics"]),
                staff_member=bool(stored["staff"]),
            )
        except (KeyError, IndexError, TypeError, ValueError):
            return None  # another release's shape, or damaged: rebuilt


def _tokens(user_id: int) -> tuple[str, str] | None:
    return generations.tokens(_EVERYONE, _user_key(user_id))


def _taken(user, tokens: tuple[str, str] | None) -> Snapshot:
    """The snapshot read from the database (permissions, clinics, staff roles)."""
    from django.contrib.auth.backends import ModelBackend

    permissions = frozenset(ModelBackend().get_all_permissions(user)) if user.is_active else ()
    if not user.is_active:
        clinic_ids: tuple[int, ...] = ()
    elif user.is_superuser:
        clinic_ids = tuple(Clinic.objects.order_by("pk").values_list("pk", flat=True))
    else:
        clinic_ids = tuple(
            Clinic.objects.filter(staff=user).order_by("pk").values_list("pk", flat=True)
        )
    return Snapshot(
        user_id=user.pk,
        tokens=tokens or ("", ""),
        taken=time.time(),
        permissions=frozenset(permissions),
        clinic_ids=clinic_ids,
        staff_member=is_staff_member(user),
    )


def _apply(user, snapshot: Snapshot) -> None:
    """Give this request's user object what the snapshot holds: ModelBackend reads its
    permission caches before querying, and patients.access reads the clinic ids."""
    user._perm_cache = set(snapshot.permissions)
    user._clinic_ids = snapshot.clinic_ids
    user._is_staff_member = snapshot.staff_member


def _remember_clinic(session, user, clinic_ids: tuple[int, ...]) -> None:
    """The clock and date format of the user's clinic (a patient's own; for staff, the first of
    theirs), and whether they are a patient, for the navigation."""
    patient = Patient.objects.filter(user=user).select_related("clinic").first()
    if patient is not None:
        clinic = patient.clinic
    else:
        clinic = Clinic.objects.filter(pk__in=clinic_ids[:1]).first()
    session[PATIENT_SESSION_KEY] = patient is not None
    if clinic is not None:
        session[TIME_ZONE_SESSION_KEY] = clinic.time_zone
        session[DATE_LOCALE_SESSION_KEY] = clinic.date_locale
    else:
        session.pop(TIME_ZONE_SESSION_KEY, None)
        session.pop(DATE_LOCALE_SESSION_KEY, None)


def snapshot_take(request, user) -> Snapshot:
    """Read the snapshot afresh and keep it in the session (at sign-in, and when stale)."""
    tokens = _tokens(user.pk)
    snapshot = _taken(user, tokens)
    _remember_clinic(request.session, user, snapshot.clinic_ids)
    if tokens is None:
        request.session.pop(SESSION_KEY, None)  # nothing to check it against later
    else:
        request.session[SESSION_KEY] = snapshot.as_session()
    return snapshot


def sign_in_remember(sender, request, user, **kwargs) -> None:
    """user_logged_in receiver."""
    if request is not None:
        snapshot_take(request, user)


class AccessSnapshotMiddleware:
    """After authentication: every signed-in request uses the session's snapshot when it is
    still current (one cache round trip), else takes a new one."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = request.user
        if user.is_authenticated:
            snapshot = Snapshot.from_session(request.session.get(SESSION_KEY))
            current = (
                snapshot is not None
                and snapshot.user_id == user.pk
                and time.time() - snapshot.taken < MAX_AGE_SECONDS
                and _tokens(user.pk) == snapshot.tokens
            )
            if not current:
                snapshot = snapshot_take(request, user)
            _apply(user, snapshot)
        return self.get_response(request)


# Invalidation -------------------------------------------------------------------------------


def everyone_stale() -> None:
    generations.replace(_EVERYONE)


def users_stale(user_ids) -> None:
    generations.replace(*(_user_key(user_id) for user_id in set(user_ids)))


def _membership_changed(sender, instance, action, reverse, pk_set, model, **kwargs) -> None:
    """m2m_changed of a user's groups or permissions, or a clinic's staff: from either side."""
    if action not in ("post_add", "post_remove", "post_clear"):
        return
    user_model = get_user_model()
    if isinstance(instance, user_model):
        users_stale([instance.pk])
    elif pk_set is not None and model is user_model:
        users_stale(pk_set)
    else:
        everyone_stale()  # a clear from the group's or clinic's side: who was in it is gone


def _role_permissions_changed(sender, action, **kwargs) -> None:
    if action in ("post_add", "post_remove", "post_clear"):
        everyone_stale()


def _user_saved(sender, instance, update_fields=None, **kwargs) -> None:
    # Signing in saves last_login; nothing the snapshot holds.
    if update_fields is not None and set(update_fields) <= {"last_login"}:
        return
    users_stale([instance.pk])


def _everyone_stale_receiver(sender, **kwargs) -> None:
    everyone_stale()


def invalidation_connect() -> None:
    """Connected in PatientsConfig.ready."""
    user_model = get_user_model()
    uid = "patients.access_snapshot"
    for through in (
        user_model.groups.through,
        user_model.user_permissions.through,
        Clinic.staff.through,
    ):
        m2m_changed.connect(_membership_changed, sender=through, dispatch_uid=f"{uid}.{through}")
    m2m_changed.connect(
        _role_permissions_changed, sender=Group.permissions.through, dispatch_uid=f"{uid}.roles"
    )
    post_save.connect(_user_saved, sender=user_model, dispatch_uid=f"{uid}.user")
    post_delete.connect(_everyone_stale_receiver, sender=Group, dispatch_uid=f"{uid}.group")
    post_delete.connect(_everyone_stale_receiver, sender=Permission, dispatch_uid=f"{uid}.perm")
    # A clinic's clock or date format, or a clinic gone.
    post_save.connect(_everyone_stale_receiver, sender=Clinic, dispatch_uid=f"{uid}.clinic")
    post_delete.connect(_everyone_stale_receiver, sender=Clinic, dispatch_uid=f"{uid}.clinic-")
