"""Finding the data set an earlier `manage.py bench` built, so that `--reuse-data` can measure
the scans, pages and load again (after a migration, say) without the ten-minute build."""

from __future__ import annotations

from datetime import date

from django.contrib.auth import get_user_model
from django.core.management.base import CommandError

from benchmarks.dataset import Dataset, dataset_counted
from patients.models import Clinic, Patient


def dataset_find(*, patients: int, today: date) -> Dataset | None:
    """The data set already in the database, or None if there is none. Its clinics are named
    "Bench centre N" with the code "bench-<stamp>-<n>", its staff "bench-nurse-<stamp>" and so
    on (benchmarks.dataset); the storage runs' own "Bench cohort" clinics are not part
    of it. A data set of another size is refused rather than measured under the wrong name."""
    clinics = list(
        Clinic.objects.filter(name__startswith="Bench centre ", code__startswith="bench-")
        .exclude(code__startswith="bench-store-")
        .order_by("pk")
    )
    if not clinics:
        return None
    stamp = clinics[0].code.removeprefix("bench-").rsplit("-", 1)[0]
    clinics = [clinic for clinic in clinics if clinic.code.startswith(f"bench-{stamp}-")]
    ids = list(
        Patient.objects.filter(clinic__in=clinics).order_by("pk").values_list("pk", flat=True)
    )
    if len(ids) != patients:
        raise CommandError(
            f"The database holds a data set of {len(ids):,} patients, not {patients:,}: "
            "give --patients to match it, or build afresh without --reuse-data."
        )
    users = get_user_model().objects
    try:
        nurse = users.get(username=f"bench-nurse-{stamp}")
        lead = users.get(username=f"bench-lead-{stamp}")
        portal_user = users.get(username=f"bench-patient-{stamp}")
        subject = Patient.objects.get(user=portal_user)
    except (users.model.DoesNotExist, Patient.DoesNotExist) as missing:
        raise CommandError(f"The data set of {stamp} is incomplete: {missing}") from missing
    return dataset_counted(
        clinics=clinics,
        patient_ids=ids,
        people=(nurse, lead, subject, portal_user),
        today=today,
        seconds=0.0,
        schedule_seconds=0.0,
    )
