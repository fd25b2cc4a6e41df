"""Access tokens as they existed before migration 0012, created through the historical models."""

import hashlib
import itertools
import random
from datetime import timedelta

from django.core.management import call_command
from django.db import connections
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone
from oauthlib.common import UNICODE_ASCII_CHARACTER_SET


BEFORE_0012 = "0011_refreshtoken_token_family"
MIGRATION_0012 = "0012_add_token_checksum"
TOKEN_MAX_LENGTH_BEFORE_0012 = 255


def migrate(target, alias="default"):
    """Migrate oauth2_provider on `alias` to `target`, or to its latest migration for None."""
    targets = ["oauth2_provider"] if target is None else ["oauth2_provider", target]
    call_command("migrate", *targets, database=alias, verbosity=0, interactive=False)


def checksum(token):
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def token_kinds(index, rng):
    """Four tokens of the kinds a production table holds, all distinct for distinct indexes."""
    ascii_token = "".join(rng.choice(UNICODE_ASCII_CHARACTER_SET) for _ in range(30)) + f"{index:x}"
    non_ascii = f"tøken-日本-ÿ-🔑-{index}-" + ascii_token[:10]
    longest = f"{index:09d}-" + "".join(rng.choice(UNICODE_ASCII_CHARACTER_SET) for _ in range(245))
    longest_multibyte = (f"{index:09d}-" + "é日🔑" * 100)[:TOKEN_MAX_LENGTH_BEFORE_0012]
    return [ascii_token, non_ascii, longest, longest_multibyte]


def generate_tokens(count, seed=0):
    """Yield `count` distinct tokens, cycling through the kinds of token_kinds()."""
    rng = random.Random(seed)
    tokens = (token for index in itertools.count() for token in token_kinds(index, rng))
    return itertools.islice(tokens, count)


def historical_apps(migration, alias="default", app_label="oauth2_provider"):
    """The models as they were at `app_label`'s `migration`."""
    return MigrationExecutor(connections[alias]).loader.project_state((app_label, migration)).apps


def historical_access_token(alias="default"):
    return historical_apps(BEFORE_0012, alias).get_model("oauth2_provider", "AccessToken")


def insert_tokens(tokens, alias="default", batch_size=5000):
    """Insert access tokens at migration 0011, `batch_size` at a time, consuming `tokens` lazily."""
    AccessToken = historical_access_token(alias)
    expires = timezone.now() + timedelta(days=1)
    tokens = iter(tokens)
    while batch := list(itertools.islice(tokens, batch_size)):
        AccessToken.objects.using(alias).bulk_create(
            AccessToken(token=token, expires=expires, scope="read write") for token in batch
        )


def insert_refresh_tokens(tokens, migration, batch_size=5000):
    """Insert refresh tokens at `migration` (before 0015), for one user and one application."""
    apps = historical_apps(migration)
    RefreshToken = apps.get_model("oauth2_provider", "RefreshToken")
    Application = apps.get_model("oauth2_provider", "Application")
    user = apps.get_model("auth", "User").objects.create(username="refresh-token-owner")
    application = Application.objects.create(
        name="refresh tokens", client_type="confidential", authorization_grant_type="password"
    )
    tokens = iter(tokens)
    while batch := list(itertools.islice(tokens, batch_size)):
        RefreshToken.objects.bulk_create(
            RefreshToken(token=token, user=user, application=application) for token in batch
        )


def delete_all_tokens(alias="default"):
    """Empty the token tables with plain SQL, whatever migration the schema is at."""
    connection = connections[alias]
    with connection.cursor() as cursor:
        for table in ("oauth2_provider_refreshtoken", "oauth2_provider_accesstoken"):
            cursor.execute(f"DELETE FROM {connection.ops.quote_name(table)}")
