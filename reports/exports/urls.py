from django.urls import path

from . import views

urlpatterns = [
    path("exports/who-to-call/", views.WhoToCallView.as_view(), name="export_who_to_call"),
    path("exports/adherence/", views.AdherenceView.as_view(), name="export_adherence"),
    path(
        "exports/patients/<int:pk>/results/",
        views.ResultsGridView.as_view(),
        name="export_results",
    ),
    path("exports/audit-trail/", views.AuditTrailView.as_view(), name="export_audit_trail"),
]
