from django.urls import path

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
    path("onboarding/", onboarding_views.OnboardingUploadView.as_view(), name="onboarding_upload"),
    path(
        "onboarding/<int:pk>/",
        onboarding_views.OnboardingPreviewView.as_view(),
        name="onboarding_preview",
    ),
]
