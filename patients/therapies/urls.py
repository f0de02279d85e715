"""The therapy screens' addresses, included in patients.urls (so named "patients:...")."""

from django.urls import path

from . import views

urlpatterns = [
    path("<int:pk>/therapies/new/", views.TherapyStartView.as_view(), name="therapy_start"),
    path("therapies/<int:pk>/stop/", views.TherapyStopView.as_view(), name="therapy_stop"),
    path("therapies/<int:pk>/doses/new/", views.DosePlanView.as_view(), name="dose_plan"),
    path("doses/<int:pk>/cancel/", views.DoseCancelView.as_view(), name="dose_cancel"),
    path("doses/<int:pk>/checklist/", views.DoseChecklistView.as_view(), name="dose_checklist"),
    path("doses/<int:pk>/given/", views.DoseGivenView.as_view(), name="dose_given"),
]
