"""The worker's heartbeat (/readyz says whether a worker runs): its table, and a
django-q2 schedule that beats every minute."""

from django.db import migrations, models

SCHEDULE = "arandu: worker heartbeat"


def schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.get_or_create(
        name=SCHEDULE,
        defaults={
            "func": "ragengine.tasks.worker_heartbeat_task",
            "schedule_type": "I",  # every `minutes`
            "minutes": 1,
            "repeats": -1,
        },
    )


def unschedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=SCHEDULE).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("ragengine", "0019_document_ingestion_states"),
        ("django_q", "0018_task_success_index"),
    ]

    operations = [
        migrations.CreateModel(
            name="WorkerHeartbeat",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("host", models.CharField(max_length=255, unique=True)),
                ("pid", models.PositiveIntegerField(default=0)),
                ("seen_at", models.DateTimeField(db_index=True)),
            ],
            options={"verbose_name": "worker heartbeat"},
        ),
        migrations.RunPython(schedule, unschedule),
    ]
