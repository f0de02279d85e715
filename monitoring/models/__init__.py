"""Monitoring models, one module per subject: the schedule, the analyte and flag-rule
catalogue, lab results, acknowledgements with the notification outbox, and symptoms reported
by patients."""

from monitoring.models.alerts import (
    ACKNOWLEDGE_TIERS,
    URGENT_TIERS,
    Acknowledgement,
    Notification,
)
from monitoring.models.catalogue import (
    OUTCOME_ABNORMAL,
    OUTCOME_NORMAL,
    OUTCOME_SCALE,
    Analyte,
    FlagRule,
)
from monitoring.models.labs import (
    Comparator,
    LabReport,
    LabResult,
    ResultImport,
    ResultStatus,
)
from monitoring.models.schedule import (
    MonitoringProtocol,
    Panel,
    ProtocolItem,
    ScheduledCheck,
    ScheduledCheckQuerySet,
)
from monitoring.models.symptoms import SymptomReport

__all__ = [
    "ACKNOWLEDGE_TIERS",
    "OUTCOME_ABNORMAL",
    "OUTCOME_NORMAL",
    "OUTCOME_SCALE",
    "URGENT_TIERS",
    "Acknowledgement",
    "Analyte",
    "Comparator",
    "FlagRule",
    "LabReport",
    "LabResult",
    "MonitoringProtocol",
    "Notification",
    "Panel",
    "ProtocolItem",
    "ResultImport",
    "ResultStatus",
    "ScheduledCheck",
    "ScheduledCheckQuerySet",
    "SymptomReport",
]
