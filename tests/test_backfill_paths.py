"""
The two ways patch 3 fills token_checksum: in the database (one UPDATE per primary key range) where
the backend has a SHA-256 function, in Python (keyset batches) everywhere else. Both must store what
hashlib computes, and the choice must never break the migration.
"""

import importlib
import logging

import pytest
from django.db import connections
from oauth2_provider.models import AccessToken

from tests.tokens import BEFORE_0012, MIGRATION_0012, checksum, generate_tokens, insert_tokens, migrate


MIGRATION_MODULE = "oauth2_provider.migrations.0012_add_token_checksum"
# Every kind of token of token_kinds(), over more than two batches of the patch's BATCH_SIZE (2000).
TOKEN_COUNT = 4100


@pytest.fixture
def migration():
    return importlib.import_module(MIGRATION_MODULE)


@pytest.fixture
def tokens(before_0012):
    tokens = list(generate_tokens(TOKEN_COUNT))
    insert_tokens(tokens)
    return tokens


def stored_by_pk():
    return dict(AccessToken.objects.values_list("pk", "token_checksum"))


def expected_by_pk():
    return {pk: checksum(token) for pk, token in AccessToken.objects.values_list("pk", "token")}


def refuse(name):
    def backfill(*args):
        raise AssertionError(f"{name} must not run here")

    return backfill


@pytest.fixture
def in_database(migration, monkeypatch):
    monkeypatch.setattr(migration, "backfill_in_python", refuse("backfill_in_python"))


@pytest.fixture
def in_python(migration, monkeypatch):
    monkeypatch.setattr(migration, "backfill_in_database", refuse("backfill_in_database"))
    monkeypatch.setattr(migration, "CHECKSUM_SQL", {})


def vendor():
    return connections["default"].vendor


def test_database_computes_the_checksums_hashlib_does(tokens, in_database):
    migrate(MIGRATION_0012)

    assert stored_by_pk() == expected_by_pk()
    assert len(stored_by_pk()) == TOKEN_COUNT


def test_python_computes_the_checksums_hashlib_does(tokens, in_python):
    migrate(MIGRATION_0012)

    assert stored_by_pk() == expected_by_pk()
    assert len(stored_by_pk()) == TOKEN_COUNT


def test_both_paths_store_the_same_checksums(before_0012, migration, monkeypatch):
    insert_tokens(generate_tokens(TOKEN_COUNT))
    migrate(MIGRATION_0012)
    in_database = stored_by_pk()
    migrate(BEFORE_0012)
    monkeypatch.setattr(migration, "CHECKSUM_SQL", {})

    migrate(MIGRATION_0012)

    assert stored_by_pk() == in_database


@pytest.mark.parametrize(
    "sql",
    [
        pytest.param("oauth2_provider_no_such_function(%s)", id="missing-function"),
        pytest.param("UPPER(%s)", id="wrong-result"),
    ],
)
def test_unusable_database_function_falls_back_to_python(tokens, migration, monkeypatch, caplog, sql):
    # On PostgreSQL the failed probe must not abort the migration's transaction.
    monkeypatch.setattr(migration, "CHECKSUM_SQL", {vendor(): sql})
    monkeypatch.setattr(migration, "backfill_in_database", refuse("backfill_in_database"))
    caplog.set_level(logging.INFO, logger=MIGRATION_MODULE)

    migrate(MIGRATION_0012)

    assert stored_by_pk() == expected_by_pk()
    assert any(record.message.startswith("Computing token checksums in Python") for record in caplog.records)


def test_vendor_without_sql_falls_back_to_python(tokens, migration, monkeypatch):
    monkeypatch.setattr(migration, "CHECKSUM_SQL", {"some-other-vendor": "SHA256(%s)"})
    monkeypatch.setattr(migration, "backfill_in_database", refuse("backfill_in_database"))

    migrate(MIGRATION_0012)

    assert stored_by_pk() == expected_by_pk()


@pytest.mark.parametrize("path", ["in_database", "in_python"])
def test_progress_is_logged(tokens, migration, monkeypatch, caplog, request, path):
    request.getfixturevalue(path)
    monkeypatch.setattr(migration, "PROGRESS_INTERVAL", 0)
    caplog.set_level(logging.INFO, logger=MIGRATION_MODULE)

    migrate(MIGRATION_0012)

    progress = [record.getMessage() for record in caplog.records if record.name == MIGRATION_MODULE]
    assert progress[:2] == [
        f"backfilled 2000 of {TOKEN_COUNT} tokens",
        f"backfilled 4000 of {TOKEN_COUNT} tokens",
    ]
    assert progress[-1] == f"backfilled {TOKEN_COUNT} of {TOKEN_COUNT} tokens"


def test_progress_is_logged_once_at_the_end_of_a_short_backfill(tokens, caplog):
    caplog.set_level(logging.INFO, logger=MIGRATION_MODULE)

    migrate(MIGRATION_0012)

    progress = [record.getMessage() for record in caplog.records if record.name == MIGRATION_MODULE]
    assert progress == [f"backfilled {TOKEN_COUNT} of {TOKEN_COUNT} tokens"]
