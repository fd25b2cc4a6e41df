"""
The two ways the series fill token_checksum: in the database (one UPDATE per primary key range, no
token read into Python) on the backends that can compute a SHA-256, in Python (keyset batches)
everywhere else; in 0012 and, in the 3.4.1 series, in 0015 too. Both must store what hashlib
computes, and the choice must never break the migration.

On SQLite the database path runs a SHA-256 that Python registers on the connection (hashlib
underneath: the 3.0.x series' own function, and Django's SHA256() in the 3.4.1 series), so there the
database path's comparison with hashlib checks little more than the plumbing. PostgreSQL and MariaDB
compute their own SHA-256, and their envs make the real comparison.
"""

import logging

import pytest
from django.db import connections
from django.test.utils import CaptureQueriesContext
from oauth2_provider.models import AccessToken

from dot0012.migrate_child import BEFORE_0012, MIGRATION_0012
from tests.tokens import (
    BACKFILL_PATHS,
    BEFORE_0015,
    MIGRATION_0015,
    checksum,
    checksum_api,
    force_backfill_path,
    generate_tokens,
    has_five_patch_series,
    has_migration,
    insert_refresh_tokens,
    insert_tokens,
    migrate,
    migration_module,
    stored_refresh_token_checksums,
    token_reads,
)


MIGRATION_MODULE = "oauth2_provider.migrations.0012_add_token_checksum"
# Every kind of token of token_kinds(), over more than two batches of BATCH_SIZE (2000 in the 3.0.x
# series, 1000 in the 3.4.1 series).
TOKEN_COUNT = 4100

only_with_progress_logging = pytest.mark.skipif(
    not has_five_patch_series(), reason="only the 3.0.x series log the backfill's progress"
)


@pytest.fixture
def tokens(before_0012):
    tokens = list(generate_tokens(TOKEN_COUNT))
    insert_tokens(tokens)
    return tokens


def stored_by_pk():
    return dict(AccessToken.objects.values_list("pk", "token_checksum"))


def expected_by_pk():
    return {pk: checksum(token) for pk, token in AccessToken.objects.values_list("pk", "token")}


def assert_took_path(path, queries, table):
    """The database path reads no token into Python; the Python path has to."""
    reads = token_reads(queries, table)
    if path == "database":
        assert reads == [], f"the database path read tokens into Python: {reads[0][:300]}"
    else:
        assert reads, "the Python path read no token"


@pytest.mark.parametrize("path", BACKFILL_PATHS)
def test_each_path_stores_the_checksums_hashlib_computes(tokens, monkeypatch, path):
    force_backfill_path(monkeypatch, path)

    with CaptureQueriesContext(connections["default"]) as queries:
        migrate(MIGRATION_0012)

    assert stored_by_pk() == expected_by_pk()
    assert len(stored_by_pk()) == TOKEN_COUNT
    assert_took_path(path, queries, AccessToken._meta.db_table)


@pytest.mark.skipif(not has_migration(MIGRATION_0015), reason="this DOT has no migration 0015")
@pytest.mark.parametrize("path", BACKFILL_PATHS)
def test_each_path_stores_the_refresh_token_checksums_hashlib_computes(before_0012, monkeypatch, path):
    migrate(BEFORE_0015)
    tokens = list(generate_tokens(TOKEN_COUNT))
    insert_refresh_tokens(tokens, BEFORE_0015)
    force_backfill_path(monkeypatch, path)

    with CaptureQueriesContext(connections["default"]) as queries:
        migrate(MIGRATION_0015)

    assert stored_refresh_token_checksums() == {token: checksum(token) for token in tokens}
    assert_took_path(path, queries, "oauth2_provider_refreshtoken")


def test_both_paths_store_the_same_checksums(before_0012, monkeypatch):
    insert_tokens(generate_tokens(TOKEN_COUNT))
    force_backfill_path(monkeypatch, "database")
    migrate(MIGRATION_0012)
    in_database = stored_by_pk()
    migrate(BEFORE_0012)
    force_backfill_path(monkeypatch, "python")

    migrate(MIGRATION_0012)

    assert stored_by_pk() == in_database


def probing_series():
    module = migration_module(MIGRATION_0012)
    if checksum_api(module) != "CHECKSUM_SQL":
        pytest.skip(
            "the 3.4.1 series chooses the path by vendor without a probe: the sha256() of PostgreSQL 11"
            " and the SHA2() of MySQL and MariaDB are in every version Django 4.2 and later support"
        )
    return module


@pytest.mark.parametrize(
    "sql",
    [
        pytest.param("oauth2_provider_no_such_function(%s)", id="missing-function"),
        pytest.param("UPPER(%s)", id="wrong-result"),
    ],
)
def test_unusable_database_function_falls_back_to_python(tokens, monkeypatch, caplog, sql):
    migration = probing_series()
    # On PostgreSQL the failed probe must not abort the migration's transaction.
    monkeypatch.setattr(migration, "CHECKSUM_SQL", {connections["default"].vendor: sql})
    caplog.set_level(logging.INFO, logger=MIGRATION_MODULE)

    with CaptureQueriesContext(connections["default"]) as queries:
        migrate(MIGRATION_0012)

    assert stored_by_pk() == expected_by_pk()
    assert any(record.message.startswith("Computing token checksums in Python") for record in caplog.records)
    assert_took_path("python", queries, AccessToken._meta.db_table)


@only_with_progress_logging
@pytest.mark.parametrize("path", BACKFILL_PATHS)
def test_progress_is_logged(tokens, monkeypatch, caplog, path):
    force_backfill_path(monkeypatch, path)
    monkeypatch.setattr(migration_module(MIGRATION_0012), "PROGRESS_INTERVAL", 0)
    caplog.set_level(logging.INFO, logger=MIGRATION_MODULE)

    migrate(MIGRATION_0012)

    progress = [record.getMessage() for record in caplog.records if record.name == MIGRATION_MODULE]
    assert progress[:2] == [
        f"backfilled 2000 of {TOKEN_COUNT} tokens",
        f"backfilled 4000 of {TOKEN_COUNT} tokens",
    ]
    assert progress[-1] == f"backfilled {TOKEN_COUNT} of {TOKEN_COUNT} tokens"


@only_with_progress_logging
def test_progress_is_logged_once_at_the_end_of_a_short_backfill(tokens, caplog):
    caplog.set_level(logging.INFO, logger=MIGRATION_MODULE)

    migrate(MIGRATION_0012)

    progress = [record.getMessage() for record in caplog.records if record.name == MIGRATION_MODULE]
    assert progress == [f"backfilled {TOKEN_COUNT} of {TOKEN_COUNT} tokens"]
