from django.db import migrations, models


class Migration(migrations.Migration):
    """The access token table as DOT < 3.0 declared its token: varchar(255), unique."""

    initial = True
    dependencies = []

    operations = [
        migrations.CreateModel(
            name="AccessToken",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("token", models.CharField(max_length=255, unique=True)),
            ],
        ),
    ]
