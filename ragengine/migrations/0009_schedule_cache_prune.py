"""Schedule the hourly cache prune in django-q2 (the worker started by `serve` runs it)."""

from django.db import migrations


def schedule(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.get_or_create(
        name="arandu: prune answer cache",
        defaults={"func": "ragengine.tasks.cache_prune_task", "schedule_type": "H", "repeats": -1},
    )


def unschedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(
        name="arandu: prune answer cache"
    ).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("ragengine", "0008_tier_cache_flags"),
        ("django_q", "0018_task_success_index"),
    ]
    operations = [migrations.RunPython(schedule, unschedule)]
