from django.apps import AppConfig
from django.contrib.auth.signals import user_logged_in


class PatientsConfig(AppConfig):
    name = "patients"
    verbose_name = "Patients and infusion courses"

    def ready(self) -> None:
        from .access_snapshot import invalidation_connect, sign_in_remember

        # What the user may do and see, kept in the session from sign-in on.
        user_logged_in.connect(sign_in_remember, dispatch_uid="patients.sign_in_remember")
        invalidation_connect()
