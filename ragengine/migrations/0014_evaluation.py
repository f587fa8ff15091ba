"""Evaluation sets, cases, runs (targets, results), schedules and report deliveries;
schedules the sweep that marks runs whose worker died as failed, and the retry of report
deliveries left pending."""

import django.core.validators
import django.db.models.deletion
from decimal import Decimal
from django.conf import settings
from django.db import migrations, models


SWEEP = "arandu: sweep stale evaluation runs"


def schedule_sweep(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.get_or_create(
        name=SWEEP,
        defaults={
            "func": "ragengine.tasks.evaluation_sweep_task",
            "schedule_type": "I",
            "minutes": 5,
            "repeats": -1,
        },
    )


def unschedule_sweep(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=SWEEP).delete()


class Migration(migrations.Migration):

    dependencies = [
        ('django_q', '0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more'),
        ('ragengine', '0013_api_tokens'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='EvalRun',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('status', models.CharField(choices=[('queued', 'Queued'), ('running', 'Running'), ('done', 'Done'), ('failed', 'Failed'), ('cancelled', 'Cancelled')], default='queued', max_length=10)),
                ('use_cache', models.BooleanField(default=False, help_text='Off (the default): answers never come from or go to the answer cache, so the run measures answering, not the cache.')),
                ('budget_cap', models.DecimalField(decimal_places=4, default=Decimal('1'), help_text="Most each target may spend in this run (its evaluation member's budget).", max_digits=12, validators=[django.core.validators.MinValueValidator(Decimal('0'))])),
                ('concurrency', models.PositiveSmallIntegerField(default=4, help_text='Questions asked at once, over all targets.', validators=[django.core.validators.MinValueValidator(1), django.core.validators.MaxValueValidator(32)])),
                ('k', models.PositiveSmallIntegerField(default=5, help_text='Rank cut-off of the retrieval metrics (hit@k, MRR@k, …).', validators=[django.core.validators.MinValueValidator(1), django.core.validators.MaxValueValidator(50)])),
                ('cases_total', models.PositiveIntegerField(default=0)),
                ('cases_done', models.PositiveIntegerField(default=0)),
                ('cancel_requested', models.BooleanField(default=False)),
                ('flagged', models.BooleanField(default=False, help_text='A metric regressed or drifted beyond its threshold.')),
                ('error', models.TextField(blank=True)),
                ('summary', models.JSONField(blank=True, default=dict)),
                ('task_id', models.CharField(blank=True, max_length=64)),
                ('created_at', models.DateTimeField(auto_now_add=True, db_index=True)),
                ('started_at', models.DateTimeField(blank=True, null=True)),
                ('heartbeat_at', models.DateTimeField(blank=True, null=True)),
                ('finished_at', models.DateTimeField(blank=True, null=True)),
                ('created_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, to=settings.AUTH_USER_MODEL)),
                ('judge_tier', models.ForeignKey(blank=True, help_text='Optional: a tier whose first model judges faithfulness and relevance.', null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='ragengine.tier')),
            ],
            options={
                'verbose_name': 'evaluation run',
                'ordering': ['-created_at', '-pk'],
            },
        ),
        migrations.CreateModel(
            name='EvalRunTarget',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('position', models.PositiveSmallIntegerField(default=0)),
                ('kind', models.CharField(choices=[('tier', 'A tier (its models, in order)'), ('model', 'One model (endpoint + model)'), ('extractive', 'Extractive (no model)')], max_length=12)),
                ('spec', models.CharField(help_text='tier:NAME, model:ENDPOINT:MODEL or extractive', max_length=250)),
                ('model', models.CharField(blank=True, max_length=120)),
                ('error', models.TextField(blank=True)),
                ('endpoint', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='ragengine.providerendpoint')),
                ('member', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='ragengine.member')),
                ('run', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='targets', to='ragengine.evalrun')),
                ('source_tier', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='ragengine.tier')),
                ('tier', models.ForeignKey(blank=True, help_text='The evaluation tier built for this target.', null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='ragengine.tier')),
            ],
            options={
                'ordering': ['run', 'position', 'pk'],
            },
        ),
        migrations.CreateModel(
            name='EvalSchedule',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('name', models.CharField(max_length=120, unique=True)),
                ('targets', models.JSONField(default=list, help_text='Target specs: "extractive", "tier:NAME" or "model:ENDPOINT:MODEL".')),
                ('frequency', models.CharField(choices=[('daily', 'Daily'), ('weekly', 'Weekly'), ('cron', 'Cron expression')], default='daily', max_length=10)),
                ('cron', models.CharField(blank=True, help_text='For "cron": e.g. "0 6 * * 1-5" (06:00 on weekdays).', max_length=100)),
                ('use_cache', models.BooleanField(default=False)),
                ('budget_cap', models.DecimalField(decimal_places=4, default=Decimal('1'), help_text='Most each target may spend per run.', max_digits=12, validators=[django.core.validators.MinValueValidator(Decimal('0'))])),
                ('slack_channel', models.CharField(blank=True, help_text='Channel id, C0123ABCD', max_length=100)),
                ('discord_channel', models.CharField(blank=True, help_text='Channel id', max_length=100)),
                ('email_to', models.CharField(blank=True, help_text='Comma-separated e-mail addresses.', max_length=500)),
                ('enabled', models.BooleanField(default=True)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('updated_at', models.DateTimeField(auto_now=True)),
                ('q_schedule', models.OneToOneField(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='django_q.schedule')),
            ],
            options={
                'verbose_name': 'evaluation schedule',
                'ordering': ['name'],
            },
        ),
        migrations.AddField(
            model_name='evalrun',
            name='schedule',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='runs', to='ragengine.evalschedule'),
        ),
        migrations.CreateModel(
            name='EvalSet',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('name', models.CharField(max_length=120, unique=True)),
                ('description', models.TextField(blank=True)),
                ('thresholds', models.JSONField(blank=True, default=dict, help_text='Regression threshold per metric, e.g. {"fact_recall": 0.05, "latency_p95_ms": 500}; metrics left out use the defaults.')),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('updated_at', models.DateTimeField(auto_now=True)),
                ('baseline_run', models.ForeignKey(blank=True, help_text='Scheduled runs are compared with this run to call out drift.', null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='ragengine.evalrun')),
                ('knowledge_sets', models.ManyToManyField(blank=True, help_text='The knowledge sets every case is asked against.', related_name='eval_sets', to='ragengine.knowledgeset')),
            ],
            options={
                'verbose_name': 'evaluation set',
                'ordering': ['name'],
            },
        ),
        migrations.AddField(
            model_name='evalschedule',
            name='eval_set',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='schedules', to='ragengine.evalset'),
        ),
        migrations.AddField(
            model_name='evalrun',
            name='eval_set',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='runs', to='ragengine.evalset'),
        ),
        migrations.CreateModel(
            name='EvalCase',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('position', models.PositiveIntegerField(default=0)),
                ('question', models.TextField()),
                ('language', models.CharField(blank=True, choices=[('en', 'English'), ('pt', 'Portuguese')], max_length=8)),
                ('expected_documents', models.JSONField(blank=True, default=list)),
                ('expected_facts', models.JSONField(blank=True, default=list)),
                ('reference_answer', models.TextField(blank=True)),
                ('must_refuse', models.BooleanField(default=False, help_text="The documents don't answer this: the right answer declines.")),
                ('tags', models.JSONField(blank=True, default=list)),
                ('enabled', models.BooleanField(default=True)),
                ('origin', models.CharField(choices=[('manual', 'Written in the admin'), ('import', 'Imported'), ('feedback', 'From 👎 feedback')], default='manual', max_length=10)),
                ('notes', models.TextField(blank=True, help_text="Why this case exists (a member's comment, for a 👎 answer).")),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('updated_at', models.DateTimeField(auto_now=True)),
                ('feedback', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='eval_cases', to='ragengine.feedback')),
                ('eval_set', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='cases', to='ragengine.evalset')),
            ],
            options={
                'verbose_name': 'evaluation case',
                'ordering': ['eval_set', 'position', 'pk'],
            },
        ),
        migrations.CreateModel(
            name='ReportDelivery',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('channel', models.CharField(choices=[('slack', 'Slack'), ('discord', 'Discord'), ('email', 'E-mail')], max_length=10)),
                ('destination', models.CharField(max_length=500)),
                ('status', models.CharField(choices=[('pending', 'Pending'), ('sent', 'Sent'), ('failed', 'Failed')], default='pending', max_length=10)),
                ('attempts', models.PositiveSmallIntegerField(default=0)),
                ('error', models.TextField(blank=True)),
                ('created_at', models.DateTimeField(auto_now_add=True, db_index=True)),
                ('sent_at', models.DateTimeField(blank=True, null=True)),
                ('run', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='deliveries', to='ragengine.evalrun')),
            ],
            options={
                'verbose_name_plural': 'report deliveries',
                'ordering': ['-created_at', 'pk'],
            },
        ),
        migrations.CreateModel(
            name='EvalResult',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('position', models.PositiveIntegerField(default=0)),
                ('question', models.TextField()),
                ('language', models.CharField(blank=True, max_length=8)),
                ('tags', models.JSONField(blank=True, default=list)),
                ('must_refuse', models.BooleanField(default=False)),
                ('status', models.CharField(choices=[('ok', 'Answered'), ('failed', 'Failed')], default='ok', max_length=8)),
                ('error', models.TextField(blank=True)),
                ('mode', models.CharField(blank=True, max_length=12)),
                ('answer', models.TextField(blank=True)),
                ('sources', models.JSONField(blank=True, default=list)),
                ('notices', models.JSONField(blank=True, default=list)),
                ('retrieved', models.JSONField(blank=True, default=list, help_text='Ranked document ids.')),
                ('expected_document_ids', models.JSONField(blank=True, default=list)),
                ('facts_found', models.JSONField(blank=True, default=list)),
                ('facts_missed', models.JSONField(blank=True, default=list)),
                ('metrics', models.JSONField(blank=True, default=dict)),
                ('judge', models.JSONField(blank=True, default=dict)),
                ('tokens_in', models.PositiveIntegerField(default=0)),
                ('tokens_out', models.PositiveIntegerField(default=0)),
                ('cost', models.DecimalField(decimal_places=8, default=Decimal('0'), max_digits=14)),
                ('timings_ms', models.JSONField(blank=True, default=dict)),
                ('request_id', models.CharField(blank=True, max_length=32)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('case', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='results', to='ragengine.evalcase')),
                ('run', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='results', to='ragengine.evalrun')),
                ('target', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='results', to='ragengine.evalruntarget')),
            ],
            options={
                'ordering': ['run', 'position', 'target__position', 'pk'],
                'constraints': [models.UniqueConstraint(fields=('target', 'case'), name='eval_result_one_per_case')],
            },
        ),
        migrations.AddIndex(
            model_name='evalrun',
            index=models.Index(fields=['status', 'heartbeat_at'], name='ragengine_e_status_f4ca58_idx'),
        ),
        migrations.AddConstraint(
            model_name='reportdelivery',
            constraint=models.UniqueConstraint(fields=('run', 'channel', 'destination'), name='report_delivery_unique'),
        ),
        migrations.RunPython(schedule_sweep, unschedule_sweep),
    ]
