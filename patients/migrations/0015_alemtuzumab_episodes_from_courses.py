"""Every patient with infusion courses gets their alemtuzumab episode, started on course 1's
first infusion, and their courses become its doses. Schedules are untouched: alemtuzumab's
checks are planned from the courses and the patient's protocol, as before."""

from django.db import migrations
from django.db.models import Min, OuterRef, Q, Subquery

ALEMTUZUMAB = "alemtuzumab"


def episodes_from_courses(apps, schema_editor):
    InfusionCourse = apps.get_model("patients", "InfusionCourse")
    TherapyEpisode = apps.get_model("patients", "TherapyEpisode")
    starts = (
        InfusionCourse.objects.values("patient_id")
        .annotate(
            live=Min("first_infusion_date", filter=~Q(status="cancelled")),
            any=Min("first_infusion_date"),
        )
        .order_by("patient_id")
    )
    TherapyEpisode.objects.bulk_create(
        [
            TherapyEpisode(
                patient_id=row["patient_id"],
                therapy=ALEMTUZUMAB,
                started_on=row["live"] or row["any"],
            )
            for row in starts
        ],
        batch_size=2000,
    )
    InfusionCourse.objects.update(
        episode_id=Subquery(
            TherapyEpisode.objects.filter(
                patient_id=OuterRef("patient_id"), therapy=ALEMTUZUMAB
            ).values("pk")[:1]
        )
    )


def courses_without_episodes(apps, schema_editor):
    apps.get_model("patients", "InfusionCourse").objects.update(episode_id=None)
    apps.get_model("patients", "TherapyEpisode").objects.filter(therapy=ALEMTUZUMAB).delete()


class Migration(migrations.Migration):
    dependencies = [("patients", "0014_therapy_episodes_and_doses")]

    operations = [migrations.RunPython(episodes_from_courses, courses_without_episodes)]
