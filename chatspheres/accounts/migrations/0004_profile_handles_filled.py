import re
import secrets
import string

from django.db import migrations
from django.utils.text import slugify

# A frozen copy of accounts.handles at the time of this migration.
RESERVED = {
    "about", "accounts", "admin", "administrator", "api", "call", "calls", "chatspheres",
    "connections", "conversations", "edit", "everyone", "follow", "followers", "following",
    "healthz", "help", "home", "login", "logout", "me", "media", "metrics", "moderator",
    "new", "notes", "notifications", "null", "people", "presence", "privacy", "profile",
    "readyz", "root", "security", "settings", "signup", "spheres", "staff", "static",
    "support", "system", "terms", "undefined", "welcome", "www", "ws",
}  # fmt: skip


def base_for(display_name):
    base = re.sub(r"-{2,}", "-", slugify(display_name).replace("_", "-")).strip("-")
    base = base[:25].strip("-")
    if len(base) < 3 or base in RESERVED:
        base = f"{base}-member".strip("-") if base else "member"
    return base


def fill_handles(apps, schema_editor):
    """Every existing profile gets a handle made from its display name."""
    Profile = apps.get_model("accounts", "Profile")
    taken = set(Profile.objects.exclude(handle=None).values_list("handle", flat=True))
    for profile in Profile.objects.filter(handle=None).order_by("pk").iterator():
        handle = base_for(profile.display_name)
        while handle in taken:
            suffix = "".join(
                secrets.choice(string.ascii_lowercase + string.digits) for _ in range(4)
            )
            handle = f"{base_for(profile.display_name)}-{suffix}"
        taken.add(handle)
        Profile.objects.filter(pk=profile.pk).update(handle=handle)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_profile_handle_and_presence"),
    ]

    operations = [
        migrations.RunPython(fill_handles, migrations.RunPython.noop),
    ]
