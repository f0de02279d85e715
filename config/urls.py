from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from accounts.views import HomeView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("sign-in/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("sign-out/", auth_views.LogoutView.as_view(), name="logout"),
    path("account/", include("accounts.urls")),
    path("patients/", include("patients.urls")),
    path("portal/", include("portal.urls")),
    path("audit/", include("audit.urls")),
    path("fhir/r4/", include("labfeeds.fhir.urls")),
    path("labs/", include("labfeeds.urls")),
    path("reports/", include("reports.urls")),
    path("", include("monitoring.urls")),
    path("", HomeView.as_view(), name="home"),
]
