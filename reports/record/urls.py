from django.urls import path

from . import views

urlpatterns = [
    path(
        "patients/<int:pk>/record.pdf",
        views.PatientRecordView.as_view(),
        name="patient_record",
    ),
]
