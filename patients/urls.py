from django.urls import include, path

from portal.invitation_views import PatientInviteView

from . import views
from .onboarding import views as onboarding_views

app_name = "patients"
urlpatterns = [
    path("", views.PatientListView.as_view(), name="list"),
    path("new/", views.PatientCreateView.as_view(), name="create"),
    path("<int:pk>/", views.PatientDetailView.as_view(), name="detail"),
    path("<int:pk>/courses/new/", views.CourseCreateView.as_view(), name="course_create"),
    path("<int:pk>/invite/", PatientInviteView.as_view(), name="invite"),
    path("<int:pk>/edit/", views.PatientEditView.as_view(), name="edit"),
    path("<int:pk>/status/", views.PatientStatusView.as_view(), name="status"),
    path("<int:pk>/what-if/", views.SchedulePreviewView.as_view(), name="schedule_preview"),
    path("courses/<int:pk>/edit/", views.CourseEditView.as_view(), name="course_edit"),
    path("courses/<int:pk>/cancel/", views.CourseCancelView.as_view(), name="course_cancel"),
    path("courses/<int:pk>/given/", views.CourseGivenView.as_view(), name="course_given"),
    path("", include("patients.therapies.urls")),
    path("onboarding/", onboarding_views.OnboardingUploadView.as_view(), name="onboarding_upload"),
    path(
        "onboarding/<int:pk>/",
        onboarding_views.OnboardingPreviewView.as_view(),
        name="onboarding_preview",
    ),
]
