"""Tiers get a floor for capped answers near the budget limit; reservations whose process
died are swept as "abandoned" by a django-q2 schedule (every 5 minutes)."""

import django.core.validators
from django.db import migrations, models

SCHEDULE = "arandu: sweep abandoned reservations"


def schedule(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.get_or_create(
        name=SCHEDULE,
        defaults={
            "func": "ragengine.tasks.usage_sweep_task",
            "schedule_type": "I",  # every `minutes`
            "minutes": 5,
            "repeats": -1,
        },
    )


def unschedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=SCHEDULE).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("ragengine", "0011_scope_trusted_ids_every_set_opt_in"),
        ("django_q", "0018_task_success_index"),
    ]

    operations = [
        migrations.AddField(
            model_name="tier",
            name="min_output_tokens",
            field=models.PositiveIntegerField(
                default=100,
                help_text=(
                    "Near the budget limit an answer's length is capped to what the budget "
                    "left can pay; below this many tokens (or max output tokens, if smaller) "
                    "the hard-limit policy applies instead."
                ),
                validators=[django.core.validators.MinValueValidator(1)],
            ),
        ),
        migrations.AlterField(
            model_name="usagerecord",
            name="status",
            field=models.CharField(
                choices=[
                    ("reserved", "Reserved (call in flight)"),
                    ("settled", "Settled"),
                    ("abandoned", "Abandoned (process died mid-question)"),
                ],
                default="reserved",
                max_length=10,
            ),
        ),
        migrations.RunPython(schedule, unschedule),
    ]
