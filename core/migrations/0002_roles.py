"""Create the three role groups with their model permissions.

Later migrations that add models extend the grants by calling ``grant_role_permissions``
again with their app labels; it is idempotent.
"""

from django.db import migrations

from core.migrations._role_grants import grant_role_permissions, remove_roles


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("leads", "0001_initial"),
        ("campaigns", "0001_initial"),
    ]

    operations = [migrations.RunPython(grant_role_permissions, remove_roles)]
