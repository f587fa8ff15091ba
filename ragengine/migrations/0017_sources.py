"""Folder sources (a folder re-scanned into a knowledge set on a schedule) and their sync runs."""

import django.core.validators
import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('django_q', '0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more'),
        ('ragengine', '0016_alerts'),
    ]

    operations = [
        migrations.CreateModel(
            name='Source',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('name', models.CharField(max_length=120, unique=True)),
                ('path', models.CharField(help_text='A folder under one of the allowed folders (ARANDU_SOURCE_ROOTS); a relative path is taken under the first of them.', max_length=1000)),
                ('enabled', models.BooleanField(default=True, help_text='Scanned on its schedule.')),
                ('interval_minutes', models.PositiveIntegerField(default=60, help_text='Minutes between scans (1 to 10080, a week).', validators=[django.core.validators.MinValueValidator(1), django.core.validators.MaxValueValidator(10080)])),
                ('prune', models.BooleanField(default=False, help_text="Remove the set's documents whose files were deleted from the folder.")),
                ('syncing_since', models.DateTimeField(blank=True, editable=False, null=True)),
                ('last_synced_at', models.DateTimeField(blank=True, editable=False, null=True)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('updated_at', models.DateTimeField(auto_now=True)),
                ('knowledge_set', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='sources', to='ragengine.knowledgeset')),
                ('q_schedule', models.OneToOneField(blank=True, editable=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='django_q.schedule')),
            ],
            options={
                'verbose_name': 'folder source',
                'ordering': ['name'],
            },
        ),
        migrations.CreateModel(
            name='SyncRun',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('trigger', models.CharField(choices=[('scheduled', 'Schedule'), ('manual', 'Sync now')], default='scheduled', max_length=10)),
                ('status', models.CharField(choices=[('running', 'Running'), ('succeeded', 'Succeeded'), ('partial', 'Finished with failed files'), ('failed', 'Failed')], default='running', max_length=10)),
                ('started_at', models.DateTimeField(db_index=True)),
                ('finished_at', models.DateTimeField(blank=True, null=True)),
                ('added', models.PositiveIntegerField(default=0)),
                ('changed', models.PositiveIntegerField(default=0)),
                ('unchanged', models.PositiveIntegerField(default=0)),
                ('removed', models.PositiveIntegerField(default=0)),
                ('failed', models.PositiveIntegerField(default=0)),
                ('failures', models.JSONField(blank=True, default=list, help_text='[{"source": path, "error": reason}, ...]')),
                ('error', models.TextField(blank=True, help_text='Why the sync could not run.')),
                ('source', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='runs', to='ragengine.source')),
            ],
            options={
                'verbose_name': 'source sync run',
                'ordering': ['-started_at', '-pk'],
            },
        ),
    ]
