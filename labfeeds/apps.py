from django.apps import AppConfig


class LabfeedsConfig(AppConfig):
    name = "labfeeds"
    verbose_name = "Lab connections"
    default_auto_field = "django.db.models.BigAutoField"
