"""What a knowledge set's chunk vectors were embedded from. Sets built before this
migration embedded the chunk text alone ("text"); a new one records, at its first
ingestion, what ARANDU_EMBED_TITLES gives its embedder ("titled": the document's title
and heading path, then the text). A set whose vectors are not
of the configured kind keeps answering from them while a background re-embed rebuilds
them (ragengine/services/reembed.py); the hourly schedule added here queues those
re-embeds, so existing data dirs move over after the first worker start without anyone
asking."""

from django.db import migrations, models

SCHEDULE = "arandu: re-embed knowledge sets whose vectors are outdated"
CHOICES = [("text", "Chunk text"), ("titled", "Title and headings, then the chunk text")]


def schedule(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.get_or_create(
        name=SCHEDULE,
        defaults={
            "func": "ragengine.tasks.knowledge_sets_reembed_outdated_task",
            "schedule_type": "H",
            "repeats": -1,
        },
    )


def unschedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=SCHEDULE).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("ragengine", "0025_sentence_vectors"),
        ("django_q", "0018_task_success_index"),
    ]

    operations = [
        migrations.AddField(
            model_name="knowledgeset",
            name="vector_text",
            field=models.CharField(
                choices=CHOICES,
                default="text",  # every set that exists now was embedded so
                help_text="What the chunk vectors were embedded from.",
                max_length=10,
            ),
        ),
        migrations.RunPython(schedule, unschedule),
    ]
