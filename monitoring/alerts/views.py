"""The screen for an alert that could not be delivered: who it failed to reach and why, where
the fallback chain sent it instead, and the form to mark it handled. The alert is looked up
within the user's clinics, so another clinic's answers 404."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views import View

from accounts.redirects import safe_next_url
from audit.access import record_access
from monitoring.alerts.failed_alerts import failed_alert_handle, failed_alert_siblings
from monitoring.alerts.forms import FailedAlertHandleForm
from monitoring.models import Notification
from monitoring.outbox.messages import describe
from patients.access import StaffAccessMixin, in_scope_or_404, patients_for
from submissions.views import SubmitOnceMixin


def alert_for(request, pk: int) -> Notification:
    alerts = Notification.objects.filter(patient__in=patients_for(request.user)).select_related(
        "patient__clinic",
        "recipient_user",
        "recipient_patient",
        "handled_by",
        "scheduled_check",
        "result__analyte",
        "result__report",
        "fallback_for__recipient_user",
    )
    return in_scope_or_404(request, alerts, pk=pk)


class FailedAlertHandleView(StaffAccessMixin, SubmitOnceMixin, View):
    permission_required = ("monitoring.add_acknowledgement",)
    template = "monitoring/failed_alert_handle.html"

    def _render(self, request, alert, form):
        siblings = failed_alert_siblings(alert) if alert.handled_at is None else None
        context = {
            "alert": alert,
            "what": describe(alert) if alert.recipient_user_id else alert.get_kind_display(),
            "failed": alert.status == Notification.Status.FAILED,
            "others": (
                siblings.exclude(pk=alert.pk).select_related("recipient_user")
                if siblings is not None
                else []
            ),
            "fallbacks": alert.fallbacks.select_related("recipient_user").order_by("pk"),
            "form": form,
            "next": _next_url(request),
        }
        return render(request, self.template, context)

    def get(self, request, pk):
        alert = alert_for(request, pk)
        record_access(request, alert.patient, "failed alert", record=alert)
        return self._render(request, alert, FailedAlertHandleForm())

    def post(self, request, pk):
        alert = alert_for(request, pk)

        def save(data) -> str:
            count = failed_alert_handle(
                notification=alert, note=data["note"], handled_by=request.user, now=timezone.now()
            )
            rows = "" if count == 1 else f" ({count} failed deliveries of it)"
            messages.success(request, f"Alert about {alert.patient} marked handled{rows}.")
            return _next_url(request)

        def invalid(form):
            alert.refresh_from_db()
            return self._render(request, alert, form)

        return self.post_once(
            request, FailedAlertHandleForm(request.POST), save=save, invalid=invalid
        )


def _next_url(request) -> str:
    return safe_next_url(request, reverse("monitoring:worklist"))
