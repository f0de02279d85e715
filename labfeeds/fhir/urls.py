"""/fhir/r4/: mounted in config/urls.py."""

from django.urls import path, re_path

from labfeeds.fhir import views

app_name = "fhir"

urlpatterns = [
    path("", views.base_view, name="base"),
    path("metadata", views.metadata_view, name="metadata"),
    path("Observation", views.observation_type_view, name="observations"),
    path("Patient/<str:patient_id>", views.patient_view, name="patient"),
    path("Patient/<str:patient_id>/CarePlan", views.care_plan_search_view, name="patient_plan"),
    path(
        "Patient/<str:patient_id>/$monitoring-record",
        views.monitoring_record_view,
        name="patient_record",
    ),
    path("Observation/<str:observation_id>", views.observation_view, name="observation"),
    path("CarePlan", views.care_plan_search_view, name="care_plans"),
    path("CarePlan/<str:plan_id>", views.care_plan_view, name="care_plan"),
    # Anything else under /fhir/r4/ answers an OperationOutcome, not the site's HTML 404 page.
    re_path(r"^(?P<rest>.*)$", views.not_found_view),
]
