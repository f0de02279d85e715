from django.urls import path

from . import views

app_name = "audit"
urlpatterns = [
    path("", views.TrailView.as_view(), name="list"),
    path("patients/<int:pk>/", views.PatientTrailView.as_view(), name="patient"),
]
