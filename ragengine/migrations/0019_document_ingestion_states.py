"""Documents move queued → parsing → embedding → ready | failed (was pending/processing),
count their ingestion attempts, and a sweep every 5 minutes re-queues ingestions whose
worker died (django-q2 schedule, run by the worker `serve` starts)."""

from django.db import migrations, models

SWEEP = "arandu: sweep stale document ingestions"
RENAMED = {"pending": "queued", "processing": "parsing"}


def rename_states(apps, schema_editor):
    Document = apps.get_model("ragengine", "Document")
    for old, new in RENAMED.items():
        Document.objects.filter(status=old).update(status=new)


def restore_states(apps, schema_editor):
    Document = apps.get_model("ragengine", "Document")
    for old, new in RENAMED.items():
        Document.objects.filter(status=new).update(status=old)
    Document.objects.filter(status="embedding").update(status="processing")


def schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.get_or_create(
        name=SWEEP,
        defaults={
            "func": "ragengine.tasks.documents_sweep_task",
            "schedule_type": "I",
            "minutes": 5,
            "repeats": -1,
        },
    )


def unschedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=SWEEP).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("ragengine", "0018_question_history_admin"),
        ("django_q", "0018_task_success_index"),
    ]

    operations = [
        migrations.AlterField(
            model_name="document",
            name="status",
            field=models.CharField(
                choices=[
                    ("queued", "Queued"),
                    ("parsing", "Parsing"),
                    ("embedding", "Embedding"),
                    ("ready", "Ready"),
                    ("failed", "Failed"),
                ],
                default="queued",
                max_length=20,
            ),
        ),
        migrations.AddField(
            model_name="document",
            name="ingest_attempts",
            field=models.PositiveSmallIntegerField(
                default=0, help_text="Ingestions started since it was last queued by a person."
            ),
        ),
        migrations.AddField(
            model_name="document",
            name="uploaded_by",
            field=models.CharField(
                blank=True, help_text="Who uploaded it (admin user or API token).", max_length=200
            ),
        ),
        migrations.RunPython(rename_states, restore_states),
        migrations.RunPython(schedule, unschedule),
    ]
