"""
Add and fill token_checksum on a swapped access token model (OAUTH2_PROVIDER_ACCESS_TOKEN_MODEL), in
the three steps of django-oauth-toolkit's migration 0012 as the dot0012 series writes it.
"""

import hashlib

import oauth2_provider.models
from django.db import migrations, models, transaction


BATCH_SIZE = 2000


def backfill_token_checksum(apps, schema_editor):
    """Fill token_checksum in primary key order, BATCH_SIZE rows at a time, one transaction per batch."""
    AccessToken = apps.get_model("accounts", "AccessToken")
    db_alias = schema_editor.connection.alias
    table = schema_editor.quote_name(AccessToken._meta.db_table)
    checksum = schema_editor.quote_name(AccessToken._meta.get_field("token_checksum").column)
    pk = schema_editor.quote_name(AccessToken._meta.pk.column)
    update_sql = f"UPDATE {table} SET {checksum} = %s WHERE {pk} = %s"
    pending = AccessToken._default_manager.using(db_alias).filter(token_checksum__isnull=True).order_by("pk")
    last_pk = None
    while True:
        batch = pending if last_pk is None else pending.filter(pk__gt=last_pk)
        rows = list(batch.values_list("pk", "token")[:BATCH_SIZE])
        if not rows:
            break
        params = [(hashlib.sha256(token.encode("utf-8")).hexdigest(), pk) for pk, token in rows]
        with transaction.atomic(using=db_alias), schema_editor.connection.cursor() as cursor:
            cursor.executemany(update_sql, params)
        last_pk = rows[-1][0]


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0004_previous"),
    ]

    operations = [
        migrations.AddField(
            model_name="accesstoken",
            name="token_checksum",
            field=oauth2_provider.models.TokenChecksumField(blank=True, null=True, max_length=64),
        ),
        migrations.AlterField(
            model_name="accesstoken",
            name="token",
            field=models.TextField(),
        ),
        migrations.RunPython(backfill_token_checksum, migrations.RunPython.noop, atomic=False),
        migrations.AlterField(
            model_name="accesstoken",
            name="token_checksum",
            field=oauth2_provider.models.TokenChecksumField(db_index=True, max_length=64, unique=True),
        ),
    ]
