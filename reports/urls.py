"""The reports' screens, each sub-package's paths under one namespace (reports:...)."""

from .exports import urls as exports_urls
from .overview import urls as overview_urls
from .record import urls as record_urls

app_name = "reports"
urlpatterns = overview_urls.urlpatterns + exports_urls.urlpatterns + record_urls.urlpatterns
