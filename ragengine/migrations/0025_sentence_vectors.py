"""Sentence vectors: the embedding cache keeps them, and an hourly task gives the chunks
that have none theirs (ragengine/services/sentence_vectors.py). Its first run comes with
the first worker start after this migration, so existing data dirs get them without
anyone asking."""

from django.db import migrations, models

SCHEDULE = "arandu: sentence vectors for existing chunks"


def schedule(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.get_or_create(
        name=SCHEDULE,
        defaults={
            "func": "ragengine.tasks.sentence_vectors_backfill_task",
            "schedule_type": "H",
            "repeats": -1,
        },
    )


def unschedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=SCHEDULE).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("ragengine", "0024_knowledge_set_reembed"),
        ("django_q", "0018_task_success_index"),
    ]

    operations = [
        migrations.AddField(
            model_name="embeddingcacheentry",
            name="sentences",
            field=models.BinaryField(blank=True, null=True),
        ),
        migrations.RunPython(schedule, unschedule),
    ]
