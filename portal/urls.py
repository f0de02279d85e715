from django.urls import path

from . import invitation_views, views

app_name = "portal"
urlpatterns = [
    path("", views.HomeView.as_view(), name="home"),
    path("schedule/", views.ScheduleView.as_view(), name="schedule"),
    path("results/", views.ResultsView.as_view(), name="results"),
    path("reminders/", views.ReminderPreferencesView.as_view(), name="reminders"),
    path("symptoms/", views.SymptomReportView.as_view(), name="symptom_report"),
    path("symptoms/sent/", views.SymptomSentView.as_view(), name="symptom_sent"),
    path("calendar/", views.CalendarView.as_view(), name="calendar"),
    path("calendar/<str:token>.ics", views.CalendarFeedView.as_view(), name="calendar_feed"),
    path(
        "invitation/<str:token>/",
        invitation_views.InvitationAcceptView.as_view(),
        name="invitation_accept",
    ),
]
