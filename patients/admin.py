"""Admin for clinics, patients and courses.

Nothing here deletes a medical record: patients change status, courses are cancelled, and every
edit asks for a reason that is kept with the old version in the history. Patients and courses
are written by the same services as the staff screens (patients.services), so an edit in the
admin is validated, recorded and re-planned exactly as one made on a screen.
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, ValidationError
from django.db.models import Q
from django.http import Http404
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from simple_history.admin import SimpleHistoryAdmin

from accounts.roles import Role, role_group_names
from audit.memberships import clinic_members, clinic_members_record
from monitoring.models import ScheduledCheck
from submissions.forms import VERSION_FIELD, OpenedVersionMixin
from submissions.versions import StaleEdit

from .access import clinics_for, staff_users_for
from .admin_scope import ClinicScopedAdmin, ViewOnlyAdmin
from .models import Clinic, InfusionCourse, Patient, TherapyDose, TherapyEpisode
from .services import (
    course_add,
    course_update,
    patient_create,
    patient_move,
    patient_update,
    portal_account_refusal,
)

REASON = "reason_for_change"


class ReasonForChangeForm(forms.ModelForm):
    """Adds a required reason when an existing record is edited."""

    reason_for_change = forms.CharField(
        required=False,
        max_length=255,
        help_text="Required when changing an existing record; kept in its history.",
    )
    # What a service refused after this form had passed (ServiceWriteAdmin sets it on the form
    # class for the second pass), shown as the form's own errors.
    service_refusal: ValidationError | None = None

    def clean(self):
        cleaned = super().clean()
        if self.instance.pk and self.has_changed() and not cleaned.get(REASON):
            self.add_error(REASON, "Say why this record is being changed.")
        if self.service_refusal is not None:
            self._show_refusal(self.service_refusal)
        return cleaned

    def _show_refusal(self, refusal: ValidationError) -> None:
        if isinstance(refusal, StaleEdit) and isinstance(self, OpenedVersionMixin):
            self.stale_show(refusal)
            return
        if not hasattr(refusal, "error_dict"):
            self.add_error(None, refusal)
            return
        for name, errors in refusal.error_dict.items():
            name = REASON if name == "reason" else name
            # A field the form does not show (or none at all) is reported above the form.
            field = name if name in self.fields and name != NON_FIELD_ERRORS else None
            self.add_error(field, errors)


class VersionedReasonForm(OpenedVersionMixin, ReasonForChangeForm):
    """The change form of a record with a version (patients, courses): it carries the version
    it was opened on, and the update service refuses it against a newer one."""


class ServiceWriteAdmin:
    """Mix into a ModelAdmin (before it) whose save_model or save_related calls a service.

    The service validates again, under its locks, and may refuse what the form accepted (a
    course added meanwhile, say). Its ValidationError leaves the admin's own transaction, which
    rolls the whole save back; the page is then built again from the same POST with the
    refusal as the form's errors, as if the form had found them, instead of a server error."""

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except ValidationError as refusal:
            request._service_refusal = refusal
            return super().changeform_view(request, object_id, form_url, extra_context)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        refusal = getattr(request, "_service_refusal", None)
        if refusal is not None and issubclass(form, ReasonForChangeForm):
            form = type(form.__name__, (form,), {"service_refusal": refusal})
        return form


class ReasonForChangeAdmin(ServiceWriteAdmin, SimpleHistoryAdmin):
    form = ReasonForChangeForm

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        # Records without a service of their own (analytes, flag rules) are saved here, with
        # the reason; patients and courses override this to go through their services.
        obj._change_reason = form.cleaned_data.get(REASON) or None
        super().save_model(request, obj, form, change)


def form_changes(form) -> dict:
    """The fields the user changed, as the values a service's `**fields` takes."""
    return {
        name: form.cleaned_data[name]
        for name in form.changed_data
        if name not in (REASON, VERSION_FIELD) and name in form.cleaned_data
    }


def became(obj, stored) -> None:
    """Make the admin's unsaved instance the record a create service stored: the admin goes on
    to log and redirect with the instance it built from the form."""
    vars(obj).update(vars(stored))


@admin.register(Clinic)
class ClinicAdmin(ClinicScopedAdmin, SimpleHistoryAdmin):
    clinic_paths = ("pk",)
    list_display = ["name", "code", "time_zone", "date_locale", "lead"]
    list_select_related = ["lead"]
    search_fields = ["name", "code"]
    filter_horizontal = ["staff", "nurses"]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "name",
                    "code",
                    "time_zone",
                    "date_locale",
                    "csv_date_order",
                    "go_live_date",
                    "staff",
                ]
            },
        ),
        ("Patient portal", {"fields": ["test_instructions"]}),
        (
            "Alerts",
            {
                "fields": [
                    "nurses",
                    "lead",
                    ("critical_escalation_hours", "red_escalation_hours"),
                    "overdue_escalation_days",
                    ("quiet_hours_start", "quiet_hours_end"),
                    "digest_time",
                ],
                "description": "Who is alerted, when an unanswered alert goes to the lead, "
                "and the clinic's local times for patient reminders and nurse digests.",
            },
        ),
    ]

    def has_delete_permission(self, request, obj=None):
        return False

    def save_related(self, request, form, formsets, change):
        # The staff and the nurse group are written here, after the clinic's own columns:
        # their changes are recorded in the audit trail as one entry about the clinic.
        before = clinic_members(form.instance) if change else clinic_members(Clinic())
        super().save_related(request, form, formsets, change)
        clinic_members_record(clinic=form.instance, before=before)

    def get_field_queryset(self, db, db_field, request):
        # Staff, nurses and the lead are chosen among the people who already work for the
        # lead's clinics: never another clinic's staff, never a patient's portal account.
        queryset = super().get_field_queryset(db, db_field, request)
        if db_field.name in ("staff", "nurses", "lead") and not request.user.is_superuser:
            return queryset.filter(pk__in=staff_users_for(request.user).values("pk"))
        return queryset


class CourseInline(admin.TabularInline):
    model = InfusionCourse
    fields = ["number", "first_infusion_date", "days", "daily_dose_mg", "status"]
    readonly_fields = fields
    extra = 0
    show_change_link = True
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False  # courses are added on their own page, where the rules are explained


class ScheduleInline(admin.TabularInline):
    model = ScheduledCheck
    verbose_name_plural = "Schedule (live checks)"
    fields = ["due_date", "panel", "kind", "window_opens", "overdue_after", "status"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).active().select_related("patient__clinic")

    @admin.display(description="status")
    def status(self, check):
        return check.status_on(check.patient.clinic.today()).label


class PatientAdminForm(VersionedReasonForm):
    """A portal sign-in is offered and accepted only when it is a patient's own account that
    opens no other record; the service checks the same rule again under its lock."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        nurse = self.fields.get("named_nurse")
        if nurse is not None and self.instance.pk is not None:
            # A patient's named nurse is one of their own clinic's nurses: never a patient's
            # portal account, an administrator, or a nurse of another clinic the user sees.
            nurse.queryset = self.instance.clinic.nurses.order_by(
                "last_name", "first_name", "username"
            )
        account = self.fields.get("user")
        if account is not None:
            others = Patient.objects.exclude(pk=self.instance.pk).exclude(user=None)
            account.queryset = account.queryset.filter(
                groups__name__in=role_group_names(Role.PATIENT)
            ).exclude(pk__in=others.values("user_id"))

    def clean_user(self):
        user = self.cleaned_data.get("user")
        if user is not None:
            refusal = portal_account_refusal(user=user, patient=self.instance)
            if refusal:
                raise ValidationError(refusal)
        return user


class PatientMoveForm(forms.Form):
    clinic = forms.ModelChoiceField(queryset=Clinic.objects.none(), label="Move to")
    reason = forms.CharField(
        max_length=255, help_text="Kept in the record's history and the audit trail."
    )

    def __init__(self, *args, patient: Patient, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["clinic"].queryset = Clinic.objects.exclude(pk=patient.clinic_id)

    def show_refusal(self, refusal: ValidationError) -> None:
        if not hasattr(refusal, "error_dict"):
            self.add_error(None, refusal)
            return
        for name, errors in refusal.error_dict.items():
            self.add_error(name if name in self.fields else None, errors)


@admin.register(Patient)
class PatientAdmin(ClinicScopedAdmin, ReasonForChangeAdmin):
    clinic_paths = ("clinic",)
    form = PatientAdminForm
    list_display = ["hospital_number", "family_name", "given_name", "clinic", "status", "protocol"]
    list_filter = ["clinic", "status", "protocol"]
    search_fields = ["hospital_number", "family_name", "given_name"]
    list_select_related = ["clinic", "protocol"]
    inlines = [CourseInline, ScheduleInline]
    # What patient_create takes: a new patient starts active, and is linked to a portal
    # sign-in only when they accept an invitation.
    add_fields = [
        "clinic",
        "hospital_number",
        ("given_name", "family_name"),
        ("date_of_birth", "sex"),
        ("email", "phone"),
        "protocol",
        "named_nurse",
        ("email_reminders", "reminder_leads"),
        "tracked_from",
    ]

    def get_fields(self, request, obj=None):
        return self.add_fields if obj is None else super().get_fields(request, obj)

    def get_readonly_fields(self, request, obj=None):
        # Moving a patient to another clinic is not an edit: an administrator does it on its
        # own page (move_view), with a reason, through patient_move.
        fields = list(super().get_readonly_fields(request, obj))
        return [*fields, "clinic"] if obj is not None else fields

    def get_field_queryset(self, db, db_field, request):
        queryset = super().get_field_queryset(db, db_field, request)
        if db_field.name == "named_nurse":
            # Nurses of the clinics the user sees; the model refuses one of another clinic.
            if queryset is None:
                queryset = db_field.related_model._default_manager.using(db)
            nurses = Q(nursing_clinics__in=clinics_for(request.user))
            return queryset.filter(pk__in=queryset.model.objects.filter(nurses).values("pk"))
        return queryset

    def get_urls(self):
        move = path(
            "<path:object_id>/move/",
            self.admin_site.admin_view(self.move_view),
            name="patients_patient_move",
        )
        return [move, *super().get_urls()]

    def move_view(self, request, object_id):
        """Move a patient to another clinic: superusers only, with a reason."""
        if not request.user.is_superuser:
            raise PermissionDenied("Only an administrator may move a patient to another clinic.")
        patient = self.get_object(request, unquote(object_id))
        if patient is None:
            raise Http404("No such patient.")
        form = PatientMoveForm(request.POST or None, patient=patient)
        if request.method == "POST" and form.is_valid():
            try:
                patient_move(
                    patient=patient,
                    clinic=form.cleaned_data["clinic"],
                    reason=form.cleaned_data["reason"],
                    moved_by=request.user,
                )
            except ValidationError as refusal:
                form.show_refusal(refusal)
            else:
                self.message_user(
                    request, f"{patient} moved to {form.cleaned_data['clinic']}.", messages.SUCCESS
                )
                return redirect(reverse("admin:patients_patient_change", args=[patient.pk]))
        context = {
            **self.admin_site.each_context(request),
            "title": f"Move {patient} to another clinic",
            "form": form,
            "original": patient,
            "opts": self.opts,
        }
        return TemplateResponse(request, "admin/patients/patient/move.html", context)

    def save_model(self, request, obj, form, change):
        if not change:
            data = {name: form.cleaned_data[name] for name in _flat(self.add_fields)}
            became(obj, patient_create(created_by=request.user, **data))
        elif form.has_changed():
            patient_update(
                patient=obj,
                reason=form.cleaned_data[REASON],
                changed_by=request.user,
                opened_version=form.version_opened_on,
                **form_changes(form),
            )


@admin.register(InfusionCourse)
class InfusionCourseAdmin(ClinicScopedAdmin, ReasonForChangeAdmin):
    form = VersionedReasonForm
    clinic_paths = ("patient__clinic",)
    list_display = ["patient", "number", "first_infusion_date", "days", "daily_dose_mg", "status"]
    list_filter = ["status", "patient__clinic"]
    search_fields = ["patient__hospital_number", "patient__family_name"]
    list_select_related = ["patient"]
    autocomplete_fields = ["patient"]
    readonly_fields = ["override_recorded_by"]

    def get_readonly_fields(self, request, obj=None):
        # A course given to the wrong patient is cancelled and entered again on the right one:
        # moving it would leave the first patient's schedule planned from a course they lack.
        fields = list(super().get_readonly_fields(request, obj))
        return [*fields, "patient"] if obj is not None else fields

    def save_model(self, request, obj, form, change):
        # The services re-plan the patient's schedule and note who recorded any override.
        if not change:
            data = form.cleaned_data
            course = course_add(
                patient=data["patient"],
                first_infusion_date=data["first_infusion_date"],
                daily_dose_mg=data["daily_dose_mg"],
                days=data["days"],
                number=data["number"],
                status=data["status"],
                days_reason=data["days_reason"],
                spacing_override_reason=data["spacing_override_reason"],
                cancelled_reason=data["cancelled_reason"],
                recorded_by=request.user,
            )
            became(obj, course)
        elif form.has_changed():
            course_update(
                course=obj,
                reason=form.cleaned_data[REASON],
                changed_by=request.user,
                opened_version=form.version_opened_on,
                **form_changes(form),
            )


# Episodes and doses are shown here with their history, never written: starting, stopping,
# giving and cancelling go through the staff screens' services, which hold the gates and
# re-plan the schedule (patients.therapies).
@admin.register(TherapyEpisode)
class TherapyEpisodeAdmin(ViewOnlyAdmin, ClinicScopedAdmin, SimpleHistoryAdmin):
    clinic_paths = ("patient__clinic",)
    list_display = ["patient", "therapy", "started_on", "stopped_on", "stop_reason", "protocol"]
    list_filter = ["therapy", "stop_reason", "patient__clinic"]
    search_fields = ["patient__hospital_number", "patient__family_name"]
    list_select_related = ["patient", "protocol"]


@admin.register(TherapyDose)
class TherapyDoseAdmin(ViewOnlyAdmin, ClinicScopedAdmin, SimpleHistoryAdmin):
    clinic_paths = ("episode__patient__clinic",)
    list_display = ["episode", "number", "planned_on", "given_on", "status", "gate_state"]
    list_filter = ["status", "episode__therapy", "episode__patient__clinic"]
    search_fields = ["episode__patient__hospital_number", "episode__patient__family_name"]
    list_select_related = ["episode__patient"]


def _flat(fields) -> list[str]:
    return [name for row in fields for name in (row if isinstance(row, tuple) else (row,))]
