"""
What the tests share: access and refresh tokens as they existed before migrations 0012 and 0015, created
through the historical models, migrating oauth2_provider on an alias, and reading back what a backfill
stored and which path it took.

BEFORE_0012, MIGRATION_0012, the names around 0015 (its BACKFILLS) and historical_apps() are
dot0012.migrate_child's, the demo's and the benchmark's. migrate() is the tests' own: it migrates
oauth2_provider on any alias, where the child's migrates any app on the default database.
"""

import hashlib
import importlib
import itertools
import random
from datetime import timedelta

import oauth2_provider
from django.core.management import call_command
from django.db import connections
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.recorder import MigrationRecorder
from django.db.models import Value
from django.utils import timezone
from oauth2_provider.models import AccessToken
from oauthlib.common import UNICODE_ASCII_CHARACTER_SET

from dot0012.migrate_child import BACKFILLS, BEFORE_0012, MIGRATION_0012, historical_apps


BEFORE_0015 = BACKFILLS["0015"].before
MIGRATION_0015 = BACKFILLS["0015"].migration
TOKEN_MAX_LENGTH_BEFORE_0012 = 255

# The series of DOT 3.0.0 and 3.0.1 (five patches each) give three things more than the 3.4.1 series,
# which tools/generate_series.py writes from the upstream stack: a probe of the database's SHA-256
# that falls back to Python, "backfilled N of M tokens" progress logging, and empty checksums treated
# as missing, with one more backfill after the NOT NULL step. Tests of those three say so.
FIVE_PATCH_SERIES_VERSIONS = ("3.0.0", "3.0.1")


def migrate(target, alias="default"):
    """Migrate oauth2_provider on `alias` to `target`, or to its latest migration for None."""
    targets = ["oauth2_provider"] if target is None else ["oauth2_provider", target]
    call_command("migrate", *targets, database=alias, verbosity=0, interactive=False)


def applied(alias="default"):
    """The names of the oauth2_provider migrations recorded as applied on `alias`."""
    recorded = MigrationRecorder(connections[alias]).applied_migrations()
    return {name for app, name in recorded if app == "oauth2_provider"}


def checksum(token):
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def stored_checksums(alias="default"):
    """{token: token_checksum} of the access tokens on `alias`, read through the installed DOT's model."""
    return dict(AccessToken.objects.using(alias).values_list("token", "token_checksum"))


def stored_refresh_token_checksums():
    """{token: token_checksum} of the refresh tokens, read through the model as 0015 leaves it."""
    RefreshToken = historical_apps(MIGRATION_0015).get_model("oauth2_provider", "RefreshToken")
    return dict(RefreshToken.objects.values_list("token", "token_checksum"))


def columns(alias="default"):
    """The column names of the access token table on `alias`."""
    connection = connections[alias]
    with connection.cursor() as cursor:
        description = connection.introspection.get_table_description(cursor, AccessToken._meta.db_table)
    return {column.name for column in description}


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


def has_five_patch_series():
    """Whether the installed DOT is one whose series is the five-patch one (see above)."""
    return oauth2_provider.__version__ in FIVE_PATCH_SERIES_VERSIONS


def has_migration(migration):
    loader = MigrationLoader(None, ignore_no_migrations=True)
    return ("oauth2_provider", migration) in loader.disk_migrations


def backfill_migrations():
    """The migrations of the installed DOT that backfill a token checksum: 0012, and 0015 from 3.4."""
    return [migration for migration in (MIGRATION_0012, MIGRATION_0015) if has_migration(migration)]


BACKFILL_PATHS = ("database", "python")


def migration_module(migration):
    return importlib.import_module(f"oauth2_provider.migrations.{migration}")


def checksum_api(module):
    """
    Which of the two shapes of the series `module` (a patched migration) has:

    - "CHECKSUM_SQL" (3.0.0 and 3.0.1): a SQL template per vendor, probed by database_checksum_sql(),
      which returns None (and the backfill goes to Python) for a vendor without one or a failed probe;
    - "DATABASE_SHA256_VENDORS" (3.4.1): the vendors whose database computes the checksum with the
      migration's TokenSHA256 expression, without a probe; any other vendor goes to Python.
    """
    for api in ("CHECKSUM_SQL", "DATABASE_SHA256_VENDORS"):
        if hasattr(module, api):
            return api
    raise AssertionError(f"{module.__name__} has neither CHECKSUM_SQL nor DATABASE_SHA256_VENDORS")


def force_backfill_path(monkeypatch, path, alias="default"):
    """
    Have every backfill of the installed series (0012, and 0015 in the 3.4.1 series) compute the
    checksums `path`, "database" or "python", on `alias`'s vendor, whichever shape the series has.

    "database" can only be asked of a series whose database path covers the vendor (all of ours do):
    the 3.0.x series may still fall back to Python if its probe fails, which the tests detect by
    looking for tokens read into Python (token_reads()).
    """
    if path not in BACKFILL_PATHS:
        raise ValueError(f"unknown backfill path {path!r}")
    vendor = connections[alias].vendor
    for migration in backfill_migrations():
        module = migration_module(migration)
        if checksum_api(module) == "DATABASE_SHA256_VENDORS":
            monkeypatch.setattr(module, "DATABASE_SHA256_VENDORS", {vendor} if path == "database" else set())
        elif path == "python":
            monkeypatch.setattr(module, "CHECKSUM_SQL", {})
        else:
            assert vendor in module.CHECKSUM_SQL, f"the series has no database checksum for {vendor}"


def database_checksum(text, migration=MIGRATION_0012, alias="default"):
    """
    The checksum of `text` as `migration`'s database path computes it on `alias`: the CHECKSUM_SQL
    template the probe accepts (3.0.x), or the migration's TokenSHA256 (3.4.1), here on a string
    value annotated on a row of django_migrations, which any migrated database has.
    """
    module = migration_module(migration)
    connection = connections[alias]
    if checksum_api(module) == "CHECKSUM_SQL":
        template = module.database_checksum_sql(connection)
        assert template is not None, f"{connection.vendor} cannot compute the checksum in the database"
        with connection.cursor() as cursor:
            cursor.execute("SELECT " + template % "%s", [text])
            return cursor.fetchone()[0]
    rows = MigrationRecorder(connection).migration_qs.annotate(checksum=module.TokenSHA256(Value(text)))
    return rows.values_list("checksum", flat=True).first()


def token_reads(queries, table, alias="default"):
    """
    The SELECTs among `queries` (a CaptureQueriesContext) that read the token column of `table` into
    Python. The database path reads none: its UPDATEs compute the checksum from the column in place,
    and the table rebuilds of SQLite are INSERT ... SELECT.
    """
    quote = connections[alias].ops.quote_name
    column = f"{quote(table)}.{quote('token')}"
    return [query["sql"] for query in queries if query["sql"].startswith("SELECT") and column in query["sql"]]
