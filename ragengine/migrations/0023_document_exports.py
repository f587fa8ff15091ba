"""Uploaded JSON/JSONL exports: a document's kind (file, export, record) and the export a
record came from. Rows ingested before are classified by their source: `file#id` is a
record, a .json/.jsonl/.ndjson file without `#` an export (a file that failed as a whole)."""

import django.db.models.deletion
from django.db import migrations, models

RECORD_SUFFIXES = (".json", ".jsonl", ".ndjson")


def classify(apps, schema_editor):
    Document = apps.get_model("ragengine", "Document")
    Document.objects.filter(source__contains="#").update(kind="record")
    exports = models.Q()
    for suffix in RECORD_SUFFIXES:
        exports |= models.Q(source__iendswith=suffix)
    Document.objects.filter(exports).exclude(source__contains="#").update(kind="export")


class Migration(migrations.Migration):
    dependencies = [
        ("ragengine", "0022_dashboard_daily_rollups"),
    ]

    operations = [
        migrations.AddField(
            model_name="document",
            name="kind",
            field=models.CharField(
                choices=[("file", "File"), ("export", "Export"), ("record", "Record")],
                db_index=True,
                default="file",
                max_length=10,
            ),
        ),
        migrations.AddField(
            model_name="document",
            name="parent",
            field=models.ForeignKey(
                blank=True,
                help_text="The export this record came from.",
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="records",
                to="ragengine.document",
            ),
        ),
        migrations.RunPython(classify, migrations.RunPython.noop),
    ]
