"""Each history row records when the stay it ended began, so time in stage is an aggregate
over a period's rows; existing rows take it from the lead's previous row (or, lacking one,
from when the lead was created)."""

from django.conf import settings
from django.db import migrations, models

# PostgreSQL: one pass with a window over each lead's rows.
BACKFILL_POSTGRESQL = """
UPDATE leads_leadstagechange h
SET stage_entered_at = COALESCE(p.previous_at, l.created_at)
FROM (
    SELECT id, lag(created_at) OVER (PARTITION BY lead_id ORDER BY created_at, id) AS previous_at
    FROM leads_leadstagechange
) p, leads_lead l
WHERE p.id = h.id AND l.id = h.lead_id AND h.from_stage <> ''
"""

# Elsewhere (SQLite): the latest earlier row of the same lead, looked up per row.
BACKFILL_OTHER = """
UPDATE leads_leadstagechange
SET stage_entered_at = COALESCE(
    (SELECT MAX(p.created_at) FROM leads_leadstagechange p
     WHERE p.lead_id = leads_leadstagechange.lead_id
       AND (p.created_at < leads_leadstagechange.created_at
            OR (p.created_at = leads_leadstagechange.created_at
                AND p.id < leads_leadstagechange.id))),
    (SELECT l.created_at FROM leads_lead l WHERE l.id = leads_leadstagechange.lead_id))
WHERE from_stage <> ''
"""


def backfill(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    schema_editor.execute(BACKFILL_POSTGRESQL if vendor == "postgresql" else BACKFILL_OTHER)


class Migration(migrations.Migration):
    dependencies = [
        ("leads", "0004_lead_fewer_indexes_fillfactor"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="leadstagechange",
            name="stage_entered_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop, elidable=True),
        migrations.AddConstraint(
            model_name="leadstagechange",
            constraint=models.CheckConstraint(
                condition=models.Q(("from_stage", ""), ("stage_entered_at__isnull", False), _connector="OR"),
                name="stagechange_stay_start_known",
            ),
        ),
    ]
