"""Electronic lab results: the labs a clinic takes results from, their API tokens, every message
received (kept raw for the clinic's retention period, then emptied), and the results that wait
for a person because the clinic does not know their patient or their code.

Nothing a lab sends is dropped: a message is stored before it is read, and what cannot be
recorded is either refused back to the lab with the reason (and kept, with the reason, on the
lab connections screen) or kept here waiting to be matched or dismissed by a named person."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from patients.validators import REASON_MAX_LENGTH, SINGLE_LINE_TEXT, note_rules


class LabConnection(models.Model):
    """One lab sending results to one clinic, by HL7 v2 over MLLP, by FHIR, or both."""

    clinic = models.ForeignKey("patients.Clinic", on_delete=models.PROTECT, related_name="+")
    name = models.CharField(max_length=120, validators=SINGLE_LINE_TEXT)
    # How an HL7 message names its sender (MSH-3, MSH-4): the listener finds the connection,
    # and so the clinic, from them. Empty: this connection takes no HL7 messages.
    hl7_sending_application = models.CharField(
        "sending application (MSH-3)", max_length=64, blank=True, validators=SINGLE_LINE_TEXT
    )
    hl7_sending_facility = models.CharField(
        "sending facility (MSH-4)", max_length=64, blank=True, validators=SINGLE_LINE_TEXT
    )
    # The assigning authority (PID-3.4) of the clinic's hospital numbers. Empty: any. A
    # hospital number from another authority is not this clinic's, whatever its digits.
    assigning_authority = models.CharField(
        "hospital numbers' assigning authority (PID-3.4)",
        max_length=64,
        blank=True,
        validators=SINGLE_LINE_TEXT,
    )
    is_active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["clinic", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["hl7_sending_application", "hl7_sending_facility"],
                condition=~models.Q(hl7_sending_facility=""),
                name="labconnection_one_hl7_sender",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class ApiToken(models.Model):
    """A secret a lab (to post results) or the clinic's record system (to read) sends as
    `Authorization: Bearer <token>`. Only its SHA-256 digest is stored: the token is shown
    once, when a lead creates it. Scoped to one clinic; revoked, it is refused at once."""

    class Scope(models.TextChoices):
        LAB = "lab", "Lab: posts results"
        READ = "read", "Record system: reads patients, results and schedules"

    clinic = models.ForeignKey("patients.Clinic", on_delete=models.PROTECT, related_name="+")
    connection = models.ForeignKey(
        LabConnection, on_delete=models.PROTECT, null=True, blank=True, related_name="tokens"
    )
    name = models.CharField(max_length=120, validators=SINGLE_LINE_TEXT)
    scope = models.CharField(max_length=8, choices=Scope.choices, default=Scope.LAB)
    # The token's first characters, shown on screens to tell tokens apart; not a secret.
    prefix = models.CharField(max_length=12)
    digest = models.CharField(max_length=64, unique=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None


class LabMessage(models.Model):
    """Every HL7 message and FHIR request a lab sent, stored before it is read. What was
    answered is kept too, so a message sent again (the same control ID) gets the same answer
    and stores nothing twice."""

    class Protocol(models.TextChoices):
        HL7 = "hl7", "HL7 v2"
        FHIR = "fhir", "FHIR R4"

    class Status(models.TextChoices):
        RECEIVED = "received", "Received, not yet read"
        ACCEPTED = "accepted", "Accepted"
        WAITING = "waiting", "Accepted, some results wait for a person"
        REFUSED = "refused", "Refused"

    connection = models.ForeignKey(
        LabConnection, on_delete=models.PROTECT, null=True, blank=True, related_name="messages"
    )
    clinic = models.ForeignKey(
        "patients.Clinic", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    protocol = models.CharField(max_length=4, choices=Protocol.choices)
    # MSH-10, or the Bundle's identifier (or id) for FHIR; empty when the message had none.
    control_id = models.CharField(max_length=64, blank=True)
    message_type = models.CharField(max_length=32, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)
    # The message as received; emptied after the clinic's retention period (purged_at says when).
    raw = models.TextField(blank=True)
    purged_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RECEIVED)
    # AA, AE or AR for HL7; the HTTP status for FHIR.
    answer_code = models.CharField(max_length=4, blank=True)
    answer = models.TextField(blank=True, help_text="The ACK or OperationOutcome sent back.")
    # [{"where": "OBX[3]-6", "message": "..."}]: why it was refused, or what waits.
    problems = models.JSONField(default=list, blank=True)
    results_recorded = models.PositiveIntegerField(default=0)
    results_waiting = models.PositiveIntegerField(default=0)
    reports = models.ManyToManyField("monitoring.LabReport", blank=True, related_name="+")

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "protocol", "control_id"],
                condition=~models.Q(control_id=""),
                name="labmessage_one_per_control_id",
            ),
        ]
        indexes = [
            models.Index(
                fields=["connection", "-received_at"], name="labmessage_connection_recent"
            ),
            # The retention scan: messages whose raw text is still kept, oldest first.
            models.Index(
                fields=["received_at"],
                condition=models.Q(purged_at__isnull=True),
                name="labmessage_raw_kept",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_protocol_display()} {self.control_id or self.pk}"


class WaitingResult(models.Model):
    """A result from a lab that could not be recorded by itself: the hospital number is not
    one of the clinic's patients, or the code is not one the clinic monitors. It waits here,
    as sent, until a person matches it to a patient (it is then recorded through the same
    pipeline as every result) or dismisses it with a reason."""

    class Reason(models.TextChoices):
        UNKNOWN_PATIENT = "unknown_patient", "Patient not known"
        UNKNOWN_CODE = "unknown_code", "Test not monitored"

    class State(models.TextChoices):
        WAITING = "waiting", "Waiting"
        MATCHED = "matched", "Matched to a patient"
        DISMISSED = "dismissed", "Dismissed"

    message = models.ForeignKey(LabMessage, on_delete=models.PROTECT, related_name="waiting")
    clinic = models.ForeignKey("patients.Clinic", on_delete=models.PROTECT, related_name="+")
    reason = models.CharField(max_length=16, choices=Reason.choices)
    state = models.CharField(max_length=10, choices=State.choices, default=State.WAITING)
    # Where in the message: "OBX[3]" or "Bundle.entry[2]".
    position = models.CharField(max_length=64, blank=True)
    # As the lab sent them.
    hospital_number = models.CharField(max_length=64, blank=True)
    assigning_authority = models.CharField(max_length=64, blank=True)
    patient_name = models.CharField(max_length=200, blank=True)
    date_of_birth = models.DateField(null=True, blank=True)
    code = models.CharField(max_length=32, blank=True)
    code_display = models.CharField(max_length=200, blank=True)
    analyte = models.ForeignKey(
        "monitoring.Analyte", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    value = models.CharField(max_length=64, blank=True)
    comparator = models.CharField(max_length=2, blank=True)
    unit = models.CharField(max_length=32, blank=True)
    reference_low = models.CharField(max_length=32, blank=True)
    reference_high = models.CharField(max_length=32, blank=True)
    result_status = models.CharField(max_length=12, blank=True)
    sample_collected_on = models.DateField(null=True, blank=True)
    lab_reference = models.CharField(max_length=64, blank=True)
    lab_name = models.CharField(max_length=120, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)
    matched_patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    matched_report = models.ForeignKey(
        "monitoring.LabReport", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    handled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    handled_at = models.DateTimeField(null=True, blank=True)
    dismiss_reason = models.TextField(
        blank=True, max_length=REASON_MAX_LENGTH, validators=note_rules(REASON_MAX_LENGTH)
    )

    class Meta:
        ordering = ["received_at", "id"]
        indexes = [
            models.Index(
                fields=["clinic", "received_at"],
                condition=models.Q(state="waiting"),
                name="waitingresult_open",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} for {self.hospital_number} ({self.get_state_display()})"
