from django.contrib import admin
from django.urls import path
from django.views.generic import RedirectView

urlpatterns = [
    path("admin/", admin.site.urls),
    # Staff screens arrive with the lab-results work; until then the admin is the front door.
    path("", RedirectView.as_view(pattern_name="admin:index", permanent=False)),
]
