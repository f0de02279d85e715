from django.urls import path

from .alerts import views as alert_views
from .results import import_views, views
from .worklist import acknowledge_views
from .worklist import views as worklist_views

app_name = "monitoring"
urlpatterns = [
    path(
        "patients/<int:pk>/results/<slug:panel>/new/",
        views.ReportCreateView.as_view(),
        name="report_create",
    ),
    path(
        "patients/<int:pk>/checks/<slug:panel>/done/",
        views.CheckDoneView.as_view(),
        name="check_done",
    ),
    path("results/<int:pk>/history/", views.ResultHistoryView.as_view(), name="result_history"),
    path("results/<int:pk>/correct/", views.ResultCorrectView.as_view(), name="result_correct"),
    path(
        "results/<int:pk>/entered-in-error/",
        views.EnteredInErrorView.as_view(kind="result"),
        name="result_error",
    ),
    path(
        "reports/<int:pk>/entered-in-error/",
        views.EnteredInErrorView.as_view(kind="report"),
        name="report_error",
    ),
    path("imports/new/", import_views.ImportUploadView.as_view(), name="import_upload"),
    path("imports/<int:pk>/", import_views.ImportPreviewView.as_view(), name="import_preview"),
    path(
        "imports/<int:pk>/progress/",
        import_views.ImportProgressView.as_view(),
        name="import_progress",
    ),
    # Linked from the alert e-mails: keep this URL name.
    path("worklist/", worklist_views.WorklistView.as_view(), name="worklist"),
    path(
        "results/<int:pk>/acknowledge/",
        acknowledge_views.ResultAcknowledgeView.as_view(),
        name="result_acknowledge",
    ),
    path(
        "symptoms/<int:pk>/acknowledge/",
        acknowledge_views.SymptomAcknowledgeView.as_view(),
        name="symptom_acknowledge",
    ),
    path(
        "checks/<int:pk>/follow-up/",
        worklist_views.CheckFollowUpView.as_view(),
        name="check_follow_up",
    ),
    path("checks/<int:pk>/waive/", worklist_views.CheckWaiveView.as_view(), name="check_waive"),
    path(
        "alerts/<int:pk>/handled/",
        alert_views.FailedAlertHandleView.as_view(),
        name="alert_handle",
    ),
]
