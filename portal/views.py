"""The patient's own pages. Every view that shows or changes the record goes through
PatientPortalMixin, so it only ever reaches the signed-in patient's record; no URL names a
patient. The calendar feed is the one exception to signing in (calendar apps cannot): its
secret address is its key."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.views import View

from audit.access import record_access
from monitoring.alerts.symptom_reports import symptom_report_create
from patients.page_parts import page_parts
from submissions.views import SubmitOnceMixin

from .access import PatientPortalMixin
from .calendar_feed import (
    calendar_feed_alarm_set,
    calendar_feed_create,
    calendar_feed_revoke,
    calendar_ical,
    feed_checks,
    feed_https_url,
    feed_webcal_url,
    live_feed,
)
from .forms import CalendarAlarmForm, CalendarLinkForm, ReminderPreferencesForm, SymptomReportForm
from .models import CalendarFeed
from .preferences import reminder_preferences_update
from .selectors import portal_home, portal_results, portal_schedule

# Where a newly made feed address waits, in the patient's own session, until the next page
# shows it once.
NEW_FEED_SESSION_KEY = "portal_new_calendar_secret"


def portal_url() -> str:
    return settings.SITE_URL.rstrip("/") + reverse("portal:home")


class HomeView(PatientPortalMixin, View):
    def get(self, request):
        patient = self.patient
        record_access(request, patient, "portal home")
        today = patient.clinic.today()

        def draw() -> str:
            home = portal_home(patient, today=today)
            context = {"patient": patient, "home": home}
            return render_to_string("portal/_home_body.html", context, request=request)

        # Drawn from the record and today's date: kept until either changes, as the staff's
        # patient page is. The clinic's name and where to go are the clinic's, not the record's.
        clinic = patient.clinic
        vary = (
            today,
            patient.version,
            patient.updated_at.isoformat(),
            clinic.name,
            clinic.test_instructions,
        )
        body = page_parts(request, patient, {"home": draw}, vary=vary)["home"]
        return render(request, "portal/home.html", {"patient": patient, "body": body})


class ScheduleView(PatientPortalMixin, View):
    def get(self, request):
        patient = self.patient
        schedule = portal_schedule(patient, today=patient.clinic.today())
        record_access(request, patient, "portal schedule")
        return render(request, "portal/schedule.html", {"patient": patient, "schedule": schedule})


class ResultsView(PatientPortalMixin, View):
    def get(self, request):
        try:
            number = int(request.GET.get("page", "1"))
        except ValueError:
            number = 1
        # A page number far past the end shows an empty page, not an error.
        results = portal_results(self.patient, page=min(max(number, 1), 10_000))
        record_access(request, self.patient, "portal results")
        return render(request, "portal/results.html", {"patient": self.patient, "results": results})


class ReminderPreferencesView(PatientPortalMixin, SubmitOnceMixin, View):
    template = "portal/reminders.html"

    def get(self, request):
        record_access(request, self.patient, "portal reminder choices")
        form = ReminderPreferencesForm(
            initial={
                "email_reminders": self.patient.email_reminders,
                "reminder_leads": self.patient.reminder_leads,
            }
        )
        return render(request, self.template, {"form": form, "patient": self.patient})

    def post(self, request):
        def save(data) -> str:
            reminder_preferences_update(
                patient=self.patient,
                email_reminders=data["email_reminders"],
                reminder_leads=data["reminder_leads"],
                changed_by=request.user,
            )
            messages.success(request, "Your reminder choices are saved.")
            return reverse("portal:reminders")

        return self.post_once(
            request,
            ReminderPreferencesForm(request.POST),
            save=save,
            invalid=lambda form: render(
                request, self.template, {"form": form, "patient": self.patient}
            ),
        )


class SymptomReportView(PatientPortalMixin, SubmitOnceMixin, View):
    template = "portal/symptom_report.html"
    already_saved_message = "Your report was already sent; it was not sent twice."

    def get(self, request):
        return render(request, self.template, {"form": SymptomReportForm()})

    def post(self, request):
        def save(data) -> str:
            symptom_report_create(
                patient=self.patient,
                symptom_codes=data["symptoms"],
                details=data["details"],
                reported_by=request.user,
                submission_key=data["submission_key"],
                now=timezone.now(),
            )
            return reverse("portal:symptom_sent")

        return self.post_once(
            request,
            SymptomReportForm(request.POST),
            save=save,
            invalid=lambda form: render(request, self.template, {"form": form}),
        )


class SymptomSentView(PatientPortalMixin, View):
    def get(self, request):
        return render(request, "portal/symptom_sent.html", {"clinic": self.patient.clinic})


class CalendarView(PatientPortalMixin, SubmitOnceMixin, View):
    template = "portal/calendar.html"

    def get(self, request, form=None, alarm_form=None):
        feed = CalendarFeed.objects.live().filter(patient=self.patient).first()
        secret = request.session.pop(NEW_FEED_SESSION_KEY, None)
        context = {"feed": feed, "form": form or CalendarLinkForm()}
        if feed is not None:
            context["alarm_form"] = alarm_form or CalendarAlarmForm(
                initial={"reminder_alarm": feed.reminder_alarm}
            )
        if feed is not None and secret:
            context["https_url"] = feed_https_url(secret)
            context["webcal_url"] = feed_webcal_url(secret)
        return render(request, self.template, context)

    def post(self, request):
        if request.POST.get("action") == "alarm":
            return self._post_alarm(request)

        def save(data) -> str:
            now = timezone.now()
            if request.POST.get("action") == "revoke":
                calendar_feed_revoke(patient=self.patient, now=now)
                messages.success(request, "Your calendar link is switched off.")
            else:
                _, secret = calendar_feed_create(patient=self.patient, now=now)
                request.session[NEW_FEED_SESSION_KEY] = secret
            return reverse("portal:calendar")

        return self.post_once(
            request,
            CalendarLinkForm(request.POST),
            save=save,
            invalid=lambda form: self.get(request, form=form),
        )

    def _post_alarm(self, request):
        def save(data) -> str:
            calendar_feed_alarm_set(patient=self.patient, reminder_alarm=data["reminder_alarm"])
            if data["reminder_alarm"]:
                messages.success(request, "Your calendar will remind you the day before.")
            else:
                messages.success(request, "Calendar reminders are switched off.")
            return reverse("portal:calendar")

        return self.post_once(
            request,
            CalendarAlarmForm(request.POST),
            save=save,
            invalid=lambda form: self.get(request, alarm_form=form),
        )


class CalendarFeedView(View):
    """No sign-in: the address is the key. Unknown and revoked addresses look the same (404),
    and nothing here is cached by a browser or a proxy."""

    def get(self, request, token):
        feed = live_feed(token)
        if feed is None:
            raise Http404("No calendar here.")
        patient = feed.patient
        record_access(request, patient, "calendar feed")
        today = patient.clinic.today()
        body = calendar_ical(
            feed=feed,
            clinic=patient.clinic,
            checks=feed_checks(patient, today=today),
            portal_url=portal_url(),
            today=today,
        )
        response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
        response["Cache-Control"] = "private, no-store"
        response["Content-Disposition"] = 'inline; filename="monitoring.ics"'
        response["X-Robots-Tag"] = "noindex, nofollow"
        return response
