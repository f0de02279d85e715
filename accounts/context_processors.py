from accounts.middleware import PATIENT_SESSION_KEY


def signed_in_as(request) -> dict:
    """Whether the signed-in user is a patient, for the navigation: decided at sign-in and kept
    in the session (patients.access_snapshot), so no page pays a query for it."""
    session = getattr(request, "session", None)
    is_patient = bool(session and session.get(PATIENT_SESSION_KEY))
    return {"user_is_patient": request.user.is_authenticated and is_patient}
