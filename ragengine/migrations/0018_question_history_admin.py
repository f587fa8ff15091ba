"""Schedule the daily question-history clean-up in django-q2 (text past the retention is
emptied), and let evaluation cases say they came from the history."""

from django.db import migrations, models

NAME = "arandu: question history retention"


def schedule(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.get_or_create(
        name=NAME,
        defaults={
            "func": "ragengine.tasks.question_history_prune_task",
            "schedule_type": "D",
            "repeats": -1,
        },
    )


def unschedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("ragengine", "0017_sources"),
        ("django_q", "0018_task_success_index"),
    ]
    operations = [
        migrations.AlterModelOptions(
            name="questionrecord",
            options={
                "ordering": ["-created_at"],
                "verbose_name": "question",
                "verbose_name_plural": "question history",
            },
        ),
        migrations.AlterField(
            model_name="evalcase",
            name="origin",
            field=models.CharField(
                choices=[
                    ("manual", "Written in the admin"),
                    ("import", "Imported"),
                    ("feedback", "From 👎 feedback"),
                    ("history", "From the question history"),
                ],
                default="manual",
                max_length=10,
            ),
        ),
        migrations.RunPython(schedule, unschedule),
    ]
