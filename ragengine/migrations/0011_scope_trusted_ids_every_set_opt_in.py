"""Knowledge-set scope from trusted ids only.

- A channel binding is matched by platform and channel id, whichever workspace asks, so a
  channel has one binding. Where several workspaces bound the same channel id, one row
  remains (the oldest with a workspace id, else the oldest) and it keeps only the sets
  *every* duplicate allowed: merging never lets anyone read a set they could not before;
  an empty intersection switches the bot off there until an admin decides.
- Workspaces get `answers_from_every_set` (off): reading every set is an explicit choice,
  no longer what happens when no scope is found.
"""

import logging

from django.db import migrations, models

logger = logging.getLogger(__name__)


def merge_duplicate_bindings(apps, schema_editor):
    ChannelBinding = apps.get_model("ragengine", "ChannelBinding")
    seen: dict[tuple[str, str], list] = {}
    for row in ChannelBinding.objects.order_by("pk").prefetch_related("knowledge_sets"):
        seen.setdefault((row.platform, row.channel_id), []).append(row)
    for (platform, channel_id), rows in seen.items():
        if len(rows) < 2:
            continue
        keep = next((r for r in rows if r.workspace_id), rows[0])
        allowed = set.intersection(*({s.pk for s in r.knowledge_sets.all()} for r in rows))
        keep.knowledge_sets.set(allowed)
        if not keep.name:
            keep.name = next((r.name for r in rows if r.name), "")
            keep.save(update_fields=["name"])
        ChannelBinding.objects.filter(pk__in=[r.pk for r in rows if r.pk != keep.pk]).delete()
        logger.warning(
            "channel bindings merged",
            extra={
                "platform": platform,
                "channel": channel_id,
                "merged": len(rows),
                "kept": keep.pk,
                "sets": len(allowed),
            },
        )
    if schema_editor.connection.vendor == "postgresql":
        # the deletes leave deferred foreign-key checks pending, and PostgreSQL won't
        # ALTER a table with pending trigger events in the same transaction
        schema_editor.execute("SET CONSTRAINTS ALL IMMEDIATE")


class Migration(migrations.Migration):

    dependencies = [
        ('ragengine', '0010_channel_bindings_feedback'),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name='channelbinding',
            name='channel_binding_unique',
        ),
        migrations.AddField(
            model_name='workspace',
            name='answers_from_every_set',
            field=models.BooleanField(default=False, help_text='On: unbound channels and direct messages read every knowledge set when this workspace has no default sets. Off (recommended): they are refused with a message asking for an admin.', verbose_name='answer from every set when nothing narrower applies'),
        ),
        migrations.AlterField(
            model_name='channelbinding',
            name='workspace_id',
            field=models.CharField(blank=True, help_text='For your reference: the Slack team or Discord server the channel belongs to. The binding applies to everyone asking in the channel, whatever their team.', max_length=100),
        ),
        migrations.AlterField(
            model_name='member',
            name='knowledge_sets',
            field=models.ManyToManyField(blank=True, help_text="Sets this person's direct messages use. Empty = their workspace's default sets.", related_name='members', to='ragengine.knowledgeset'),
        ),
        migrations.AlterField(
            model_name='workspace',
            name='default_knowledge_sets',
            field=models.ManyToManyField(blank=True, help_text='Sets used in channels without a binding and in the direct messages of members who have no sets of their own. Empty = those questions are refused, unless “answer from every set” is on.', related_name='default_for_workspaces', to='ragengine.knowledgeset'),
        ),
        migrations.RunPython(merge_duplicate_bindings, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name='channelbinding',
            constraint=models.UniqueConstraint(fields=('platform', 'channel_id'), name='channel_binding_one_per_channel'),
        ),
    ]
