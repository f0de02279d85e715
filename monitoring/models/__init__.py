"""Monitoring models, one module per subject: the schedule, the analyte and flag-rule
catalogue, and lab results."""

from monitoring.models.catalogue import Analyte, FlagRule
from monitoring.models.labs import LabReport, LabResult, ResultImport
from monitoring.models.schedule import (
    MonitoringProtocol,
    Panel,
    ProtocolItem,
    ScheduledCheck,
    ScheduledCheckQuerySet,
)

__all__ = [
    "Analyte",
    "FlagRule",
    "LabReport",
    "LabResult",
    "MonitoringProtocol",
    "Panel",
    "ProtocolItem",
    "ResultImport",
    "ScheduledCheck",
    "ScheduledCheckQuerySet",
]
