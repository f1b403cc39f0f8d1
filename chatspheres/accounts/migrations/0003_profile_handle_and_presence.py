from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_adult_confirmation_optional"),
    ]

    operations = [
        # Empty at first: 0004 gives every existing profile one, 0005 requires it.
        migrations.AddField(
            model_name="profile",
            name="handle",
            field=models.CharField(max_length=30, null=True),
        ),
        migrations.AddField(
            model_name="profile",
            name="handle_changed_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="profile",
            name="presence_visible_to",
            field=models.CharField(
                choices=[
                    ("connections", "My connections"),
                    ("following", "People I follow"),
                    ("nobody", "Nobody"),
                ],
                default="connections",
                max_length=12,
                verbose_name="Who can see when I'm online",
            ),
        ),
        migrations.AddField(
            model_name="profile",
            name="announce_follows",
            field=models.BooleanField(
                default=True, verbose_name="Let people know when I follow them"
            ),
        ),
    ]
