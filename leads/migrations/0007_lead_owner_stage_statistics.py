"""Extended statistics on (owner, stage) for PostgreSQL's planner.

Owner and stage are correlated (a lead in new or recycled has no owner; a rep's leads sit in
sales stages), but the planner multiplies their selectivities: for "rep X's leads in new" it
expected ~50,000 rows at 1M leads and walked the created_at index over the whole table (2 s)
instead of the (owner, stage) index (0.05 ms). The MCV list tells it which pairs occur.
"""

from django.db import migrations

CREATE = (
    "CREATE STATISTICS IF NOT EXISTS lead_owner_stage_stats (mcv) ON owner_id, stage "
    "FROM leads_lead"
)
DROP = "DROP STATISTICS IF EXISTS lead_owner_stage_stats"


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)
        schema_editor.execute("ANALYZE leads_lead")


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("leads", "0006_feedback_moment_working")]

    operations = [migrations.RunPython(create, drop)]
