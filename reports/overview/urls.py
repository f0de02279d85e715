"""The clinic overview: the screen, its chart and the live lists behind its figures."""

from django.urls import path

from . import views

urlpatterns = [
    path("overview/", views.OverviewView.as_view(), name="overview"),
    path("overview/chart.svg", views.OverviewChartView.as_view(), name="overview_chart"),
    path("overview/checks/", views.OverviewChecksView.as_view(), name="overview_checks"),
    path("overview/patients/", views.OverviewPatientsView.as_view(), name="overview_patients"),
]
