"""The four roles, as Django groups, and the permissions each one carries.

The groups are kept in step with this table after every `migrate`, so the table is the one place
that says what a role may do. A user may hold several roles (a lead is often also a nurse).
Which clinics a member of staff sees is separate: `Clinic.staff`, checked in patients/access.py.
"""

from __future__ import annotations

from django.db.models import TextChoices


class Role(TextChoices):
    CLINIC_STAFF = "clinic_staff", "Clinic staff"
    NURSE = "nurse", "Nurse"
    CLINIC_LEAD = "clinic_lead", "Clinic lead"
    PATIENT = "patient", "Patient"


STAFF_ROLES = (Role.CLINIC_STAFF, Role.NURSE, Role.CLINIC_LEAD)

_READ_RECORDS = (
    "patients.view_patient",
    "patients.view_infusioncourse",
    "patients.view_therapyepisode",
    "patients.view_therapydose",
    "monitoring.view_scheduledcheck",
    "monitoring.view_labreport",
    "monitoring.view_labresult",
)
_ENTER_RECORDS = (
    "patients.add_patient",
    "patients.change_patient",
    "patients.invite_patient",
    "patients.add_infusioncourse",
    "patients.change_infusioncourse",
    # Therapy episodes and their doses: recorded as the courses are.
    "patients.add_therapyepisode",
    "patients.change_therapyepisode",
    "patients.add_therapydose",
    "patients.change_therapydose",
    "monitoring.add_labreport",
    "monitoring.change_labreport",
    "monitoring.add_labresult",
    "monitoring.change_labresult",
    "monitoring.add_resultimport",
    "monitoring.view_resultimport",
    "monitoring.record_check_done",
)
_NURSING = (
    "monitoring.add_acknowledgement",
    "monitoring.view_acknowledgement",
    "monitoring.waive_scheduledcheck",
    "patients.invite_patient",
    # A skin examination or a check done elsewhere, from the worklist: a nurse's daily work.
    "monitoring.record_check_done",
    # A nurse keeps the records of the patients they look after up to date (contact details,
    # status, moving a course) and, as a clinician, may record a course as given without its
    # baselines; clinic staff may not (patients.services, the pre-infusion checklist).
    "patients.change_patient",
    "patients.change_infusioncourse",
    "patients.override_baseline_checklist",
    # Episodes and doses as for courses; a dose given although its gate is not met (the
    # natalizumab checklist, cladribine's lymphocytes...) needs a clinician's reason.
    "patients.add_therapyepisode",
    "patients.change_therapyepisode",
    "patients.add_therapydose",
    "patients.change_therapydose",
    "patients.override_dose_gate",
    # The clinic overview, the lists to export (who to call today) and monitoring records.
    "reports.view_overview",
    "reports.export_reports",
)
_LEADING = (
    "monitoring.add_monitoringprotocol",
    "monitoring.change_monitoringprotocol",
    "monitoring.view_monitoringprotocol",
    "monitoring.add_protocolitem",
    "monitoring.change_protocolitem",
    "monitoring.view_protocolitem",
    "monitoring.delete_protocolitem",
    "monitoring.add_flagrule",
    "monitoring.change_flagrule",
    "monitoring.view_flagrule",
    "monitoring.view_analyte",
    "monitoring.change_analyte",
    "patients.view_clinic",
    "patients.change_clinic",
    "monitoring.view_notification",
    "auditlog.view_logentry",
    # The labs that send results, their tokens and what they sent (labfeeds): a lead's.
    "labfeeds.view_labconnection",
    "labfeeds.add_labconnection",
    "labfeeds.change_labconnection",
    "labfeeds.view_apitoken",
    "labfeeds.add_apitoken",
    "labfeeds.change_apitoken",
    "labfeeds.view_labmessage",
    "labfeeds.view_waitingresult",
)

ROLE_PERMISSIONS: dict[str, tuple[str, ...]] = {
    Role.CLINIC_STAFF: _READ_RECORDS + _ENTER_RECORDS,
    Role.NURSE: _READ_RECORDS + _NURSING,
    Role.CLINIC_LEAD: _READ_RECORDS + _ENTER_RECORDS + _NURSING + _LEADING,
    # A patient's access is to their own record only, through Patient.user: no model permission.
    Role.PATIENT: (),
}


def role_groups_sync(sender=None, using: str = "default", **kwargs) -> None:
    """Create the role groups and set each one's permissions to exactly the table's. Permissions
    that do not exist yet (their app not migrated) are skipped and picked up on a later run."""
    from django.contrib.auth.models import Group, Permission

    wanted = {perm for perms in ROLE_PERMISSIONS.values() for perm in perms}
    by_name = {}
    for permission in Permission.objects.using(using).select_related("content_type"):
        name = f"{permission.content_type.app_label}.{permission.codename}"
        if name in wanted:
            by_name[name] = permission
    for role, perms in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.using(using).get_or_create(name=role.label)
        group.permissions.set([by_name[perm] for perm in perms if perm in by_name])


def role_group_names(*roles: Role) -> list[str]:
    return [Role(role).label for role in roles]


def grant_role(user, *roles: Role) -> None:
    from django.contrib.auth.models import Group

    user.groups.add(*Group.objects.filter(name__in=role_group_names(*roles)))


def is_staff_member(user) -> bool:
    """Anyone who works with records (any staff role, the Django admin or a superuser); these
    must sign in with a second factor."""
    if not user.is_authenticated:
        return False
    if user.is_staff or user.is_superuser:
        return True
    known = getattr(user, "_is_staff_member", None)  # this request's access snapshot
    if known is not None:
        return known
    return user.groups.filter(name__in=role_group_names(*STAFF_ROLES)).exists()
