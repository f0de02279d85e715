from django.utils.functional import SimpleLazyObject

from patients.models import Patient


def signed_in_as(request) -> dict:
    """Whether the signed-in user is a patient, for the navigation; asked only when a template
    reads it."""
    user = request.user

    def is_patient() -> bool:
        # Staff hold role permissions, already loaded by the view's check: no query for them.
        if not user.is_authenticated or user.get_all_permissions():
            return False
        return Patient.objects.filter(user=user).exists()

    return {"user_is_patient": SimpleLazyObject(is_patient)}
