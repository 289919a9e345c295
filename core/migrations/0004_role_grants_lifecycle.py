from django.db import migrations

from core.migrations import _role_grants


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0003_notification"),
        ("leads", "0002_lifecycle"),
    ]

    operations = [
        migrations.RunPython(_role_grants.grant_role_permissions, migrations.RunPython.noop)
    ]
