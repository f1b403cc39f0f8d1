from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0004_profile_handles_filled"),
    ]

    operations = [
        migrations.AlterField(
            model_name="profile",
            name="handle",
            field=models.CharField(max_length=30, unique=True),
        ),
    ]
