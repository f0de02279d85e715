from celery import shared_task

from patients.models import Clinic
from reports.figures.refresh import figures_refresh


@shared_task(name="reports.refresh_figures")
def refresh_figures() -> int:
    """Recompute every clinic's figures, each clinic in its own transaction: one clinic's
    failure leaves the others' figures fresh, and the next hour tries it again."""
    clinics = list(Clinic.objects.all())
    for clinic in clinics:
        figures_refresh(clinic=clinic)
    return len(clinics)
