"""Role grants shared by the migrations that add models (idempotent)."""

from django.contrib.auth.management import create_permissions

ROLE_GRANTS = {
    "Sales rep": {
        "leads": ("view", "change"),
        "campaigns": ("view",),
        "slas": ("view",),
    },
    "Marketer": {
        "leads": ("view", "add", "change"),
        "campaigns": ("view", "add", "change", "delete"),
        "slas": ("view",),
    },
    "Manager": {
        "leads": ("view", "add", "change", "delete"),
        "campaigns": ("view", "add", "change", "delete"),
        "slas": ("view", "add", "change", "delete"),
    },
}


def grant_role_permissions(apps, schema_editor):
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, verbosity=0, apps=apps)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, grants in ROLE_GRANTS.items():
        group, _ = Group.objects.get_or_create(name=role)
        for app_label, actions in grants.items():
            perms = Permission.objects.filter(
                content_type__app_label=app_label,
                codename__regex=r"^(%s)_" % "|".join(actions),
            )
            group.permissions.add(*perms)


def remove_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=ROLE_GRANTS).delete()
