from django.utils.functional import SimpleLazyObject

from patients.models import Patient


def signed_in_as(request) -> dict:
    """Whether the signed-in user is a patient, for the navigation; asked only when a template
    reads it."""
    user = request.user

    def is_patient() -> bool:
        return user.is_authenticated and Patient.objects.filter(user=user).exists()

    return {"user_is_patient": SimpleLazyObject(is_patient)}
