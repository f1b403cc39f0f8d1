"""The "Moderators" group: its members may use /moderation/ (staff may too)."""

from typing import Any

from django.db import migrations

GROUP = "Moderators"


def create_group(apps: Any, schema_editor: Any) -> None:
    group_model = apps.get_model("auth", "Group")
    group_model.objects.get_or_create(name=GROUP)


def remove_group(apps: Any, schema_editor: Any) -> None:
    apps.get_model("auth", "Group").objects.filter(name=GROUP).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("moderation", "0002_interest_reviews_and_log_kinds"),
    ]

    operations = [migrations.RunPython(create_group, remove_group)]
