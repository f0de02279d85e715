"""The patient's own reminder choices. Saved on the patient record with who and why in its
history, like every other change to it."""

from __future__ import annotations

from patients.models import Patient


def reminder_preferences_update(
    *, patient: Patient, email_reminders: bool, reminder_leads: str, changed_by
) -> Patient:
    """Only these two fields are written. patients.services.patient_update is not used: it
    validates the whole record and re-plans the schedule, so a staff-side problem (a named
    nurse who has since left the nurse group, say) would stop a patient from turning
    reminders off."""
    if reminder_leads not in Patient.ReminderLeads.values:
        raise ValueError(f"Unknown reminder choice {reminder_leads!r}.")
    if (patient.email_reminders, patient.reminder_leads) == (email_reminders, reminder_leads):
        return patient
    patient.email_reminders = email_reminders
    patient.reminder_leads = reminder_leads
    patient._history_user = changed_by
    patient._change_reason = "Reminder preferences changed by the patient in the portal."
    patient.save(update_fields=["email_reminders", "reminder_leads", "updated_at"])
    return patient
