"""
During a rolling deploy, app instances still running DOT < 3 keep writing access tokens while 0012
runs, without a checksum. What both series guarantee on MySQL and MariaDB in strict mode (the default
since MySQL 5.7 and MariaDB 10.2.4), where they can write while the backfill runs (PostgreSQL and
SQLite lock the table for the whole of 0012):

- a token written before the backfill's last batch gets its checksum (the last batch has no upper
  bound);
- a token written after it, before 0012 makes the column NOT NULL, gets its checksum too, if need be
  from the next `migrate`, which goes on from where the failed one stopped: with the 3.4.1 series the
  NOT NULL step fails (1138 or 1265) and 0012 is not recorded; with the 3.0.x series the token gets
  "" there, which their last backfill fills (two such tokens fail the unique constraint first);
- after 0012, the old instances can no longer write tokens (the column has no default), see #1495.

No token is lost in any case. Outside strict mode the 3.4.1 series would leave such a token with the ""
the NOT NULL step gives it: only the 3.0.x series treat "" as missing.
"""

import importlib
import os
import threading
from datetime import timedelta

import pytest
from django.db import DatabaseError, connection, connections
from django.utils import timezone

from dot0012.migrate_child import MIGRATION_0012
from tests.tokens import (
    BACKFILL_PATHS,
    applied,
    checksum,
    force_backfill_path,
    generate_tokens,
    insert_tokens,
    migrate,
    stored_checksums,
)


pytestmark = pytest.mark.skipif(
    os.environ.get("DOT0012_BACKEND") != "mysql",
    reason="PostgreSQL and SQLite hold the table locked for the whole of 0012",
)

OLD_INSTANCE_INSERT = (
    "INSERT INTO oauth2_provider_accesstoken (token, expires, scope, created, updated) "
    "VALUES (%s, %s, %s, %s, %s)"
)
# What MySQL (1138, "Invalid use of NULL value") and MariaDB (1265, "Data truncated for column") say
# when a column holding NULL is made NOT NULL in strict mode.
NULL_REFUSED = (1138, 1265)
# Two empty checksums when the unique constraint is added.
DUPLICATE_ENTRY = (1062,)


def write_like_an_old_instance(cursor, token):
    now = timezone.now()
    cursor.execute(OLD_INSTANCE_INSERT, [token, now + timedelta(hours=1), "read", now, now])


def sql_mode():
    with connection.cursor() as cursor:
        cursor.execute("SELECT @@SESSION.sql_mode")
        return cursor.fetchone()[0]


def assert_strict_mode():
    modes = set(sql_mode().split(","))
    assert modes & {"STRICT_TRANS_TABLES", "STRICT_ALL_TABLES"}, f"not in strict mode: {modes}"


class OldInstance(threading.Thread):
    """Writes tokens the way DOT < 3 does, on a connection of its own, until stopped or refused."""

    def __init__(self):
        super().__init__()
        self.stopping = threading.Event()
        self.written = []
        self.refusal = None

    def run(self):
        connection = connections["default"]
        try:
            while not self.stopping.is_set():
                token = f"old-instance-{len(self.written)}"
                try:
                    with connection.cursor() as cursor:
                        write_like_an_old_instance(cursor, token)
                except DatabaseError as error:
                    self.refusal = error
                    return
                self.written.append(token)
        finally:
            connection.close()

    def stop(self):
        self.stopping.set()
        self.join()


class OldInstanceWritesBefore:
    """
    A connection wrapper (connection.execute_wrapper) that has an old instance write `count` tokens,
    on a connection of its own, just before the migrating connection runs the first statement for
    which `when(sql)` holds.
    """

    def __init__(self, when, count=1):
        self.when = when
        self.count = count
        self.written = []

    def __call__(self, execute, sql, params, many, context):
        if not self.written and self.when(sql):
            old_instance = connections.create_connection("default")
            try:
                with old_instance.cursor() as cursor:
                    for number in range(self.count):
                        token = f"old-instance-{number}"
                        write_like_an_old_instance(cursor, token)
                        self.written.append(token)
            finally:
                old_instance.close()
        return execute(sql, params, many, context)


def first_backfill_update(sql):
    return sql.startswith("UPDATE") and "token_checksum" in sql


def not_null_step(sql):
    return sql.startswith("ALTER TABLE") and "`token_checksum`" in sql and "NOT NULL" in sql


# Two or three batches of BATCH_SIZE (2000 in the 3.0.x series, 1000 in the 3.4.1 series): the first
# UPDATE is not the last batch.
TOKEN_COUNT = 3000


@pytest.mark.parametrize("path", BACKFILL_PATHS)
def test_a_token_written_before_the_last_batch_gets_its_checksum(before_0012, monkeypatch, path):
    assert_strict_mode()
    tokens = list(generate_tokens(TOKEN_COUNT))
    insert_tokens(tokens)
    force_backfill_path(monkeypatch, path)
    old_instance = OldInstanceWritesBefore(first_backfill_update)

    with connection.execute_wrapper(old_instance):
        migrate(MIGRATION_0012)

    assert old_instance.written == ["old-instance-0"]
    assert MIGRATION_0012 in applied()
    assert stored_checksums() == {token: checksum(token) for token in tokens + old_instance.written}


def final_checksum_field():
    """token_checksum as the installed 0012 leaves it: its last operation on the field."""
    migration = importlib.import_module(f"oauth2_provider.migrations.{MIGRATION_0012}").Migration
    fields = [
        operation.field
        for operation in migration.operations
        if getattr(operation, "name", None) == "token_checksum"
    ]
    return fields[-1]


def first_refusal(written):
    """
    The error codes the first `migrate` may fail with when `written` tokens were written by old
    instances just before the NOT NULL step, or None if it must complete.
    """
    if final_checksum_field().blank:
        # DOT 3.0.0's 0012 leaves token_checksum blank=True, so for the NOT NULL step Django first
        # gives the column a default of "": the old instances' tokens get "" instead of NULL, which
        # the 3.0.x series' last backfill (after that step) fills, unless there are two of them
        # before the unique constraint is added. DOT 3.0.1's and 3.4.1's 0012 have blank=False, and
        # no such default: strict mode refuses the NULL.
        return None if written == 1 else DUPLICATE_ENTRY
    return NULL_REFUSED


@pytest.mark.parametrize("written", [1, 2])
@pytest.mark.parametrize("path", BACKFILL_PATHS)
def test_tokens_written_after_the_last_batch_get_their_checksums(before_0012, monkeypatch, path, written):
    assert_strict_mode()
    tokens = list(generate_tokens(TOKEN_COUNT))
    insert_tokens(tokens)
    force_backfill_path(monkeypatch, path)
    old_instance = OldInstanceWritesBefore(not_null_step, count=written)

    try:
        with connection.execute_wrapper(old_instance):
            migrate(MIGRATION_0012)
    except DatabaseError as error:
        refusal = error
    else:
        refusal = None

    assert len(old_instance.written) == written
    expected = first_refusal(written)
    if expected is None:
        assert refusal is None
    else:
        assert refusal is not None and refusal.args[0] in expected, refusal
        assert MIGRATION_0012 not in applied()
        migrate(MIGRATION_0012)
    assert MIGRATION_0012 in applied()
    assert stored_checksums() == {token: checksum(token) for token in tokens + old_instance.written}


@pytest.mark.slow
def test_tokens_written_by_old_instances_during_the_backfill_are_not_lost(before_0012):
    assert_strict_mode()
    insert_tokens(generate_tokens(100_000))
    old_instance = OldInstance()
    old_instance.start()
    try:
        migrate(MIGRATION_0012)
    except DatabaseError as error:
        # A token written after the last batch: the NOT NULL step refused to run.
        failure = error
    else:
        failure = None
    finally:
        old_instance.stop()
    written_during_migrate = list(old_instance.written)

    if failure is not None:
        assert failure.args[0] in NULL_REFUSED + DUPLICATE_ENTRY, failure
        assert MIGRATION_0012 not in applied(), failure
        migrate(MIGRATION_0012)

    assert MIGRATION_0012 in applied()
    assert len(written_during_migrate) > 0
    stored = stored_checksums()
    assert len(stored) == 100_000 + len(written_during_migrate)
    assert all(stored_checksum == checksum(token) for token, stored_checksum in stored.items())
    if failure is None and old_instance.refusal is not None:
        # The instance outlived 0012: its next token was refused, not stored without a checksum.
        assert f"old-instance-{len(written_during_migrate)}" not in stored
