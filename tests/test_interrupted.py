"""
A `migrate` killed with SIGKILL in the middle of 0012, then run again, loses no token.

PostgreSQL and SQLite roll 0012 back as a whole. MySQL and MariaDB commit each schema change at once
and the backfill commits batch by batch, so the rerun starts from a table that already has the new
column, partly filled, while 0012 is not recorded.
"""

import os
import re
import signal
import subprocess
import sys
import time

import pytest
from django.db import DatabaseError, connection
from django.db.migrations.executor import MigrationExecutor

from dot0012.migrate_child import BEFORE_0012, MIGRATION_0012
from tests.tokens import (
    applied,
    checksum,
    columns,
    delete_all_tokens,
    generate_tokens,
    insert_tokens,
    migrate,
    stored_checksums,
)


TOKEN_COUNT = 100_000
TABLE = "oauth2_provider_accesstoken"


def start_migrate():
    """`manage.py migrate oauth2_provider 0012` in a process of its own, on this test's database."""
    env = dict(os.environ, PYTHONUNBUFFERED="1", DJANGO_SETTINGS_MODULE="testproject.settings")
    # The child's settings name the test database that pytest-django created from ours.
    env["DOT0012_DB_NAME"] = "test_" + re.sub(r"\W", "_", os.environ.get("DOT0012_DB_NAME", "dot0012"))
    return subprocess.Popen(
        [sys.executable, "-m", "django", "migrate", "oauth2_provider", MIGRATION_0012],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def checksums_filled():
    """Committed rows with a checksum, or None while the column does not exist for us."""
    try:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT COUNT(*) FROM {TABLE} WHERE token_checksum IS NOT NULL")
            return cursor.fetchone()[0]
    except DatabaseError:
        return None


def backfill_running_on_postgresql():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT COUNT(*) FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND query ILIKE %s",
            [f'UPDATE "{TABLE}"%'],
        )
        return cursor.fetchone()[0] > 0


def kill_during_backfill(child):
    """SIGKILL the child once its backfill is under way; return the rows it had committed by then."""
    deadline = time.monotonic() + 300
    if connection.vendor == "sqlite":
        # The backfill holds SQLite's write lock: nothing shows from outside, so wait for migrate to
        # announce 0012 (the line is only finished once 0012 is), then give it time to get going.
        output = ""
        while "Applying oauth2_provider.0012" not in output and child.poll() is None:
            output += os.read(child.stdout.fileno(), 4096).decode(errors="replace")
        time.sleep(0.5)
    while time.monotonic() < deadline and child.poll() is None:
        if connection.vendor == "mysql" and (checksums_filled() or 0) > 0:
            break
        if connection.vendor == "postgresql" and backfill_running_on_postgresql():
            break
        if connection.vendor == "sqlite":
            break
        time.sleep(0.02)
    assert child.poll() is None, "0012 finished before it could be interrupted"
    child.send_signal(signal.SIGKILL)
    child.wait()
    return checksums_filled()


@pytest.mark.slow
def test_migrate_killed_during_backfill_completes_when_run_again(before_0012):
    insert_tokens(generate_tokens(TOKEN_COUNT))

    filled_at_kill = kill_during_backfill(start_migrate())

    assert MIGRATION_0012 not in applied()
    if connection.vendor == "mysql":
        assert 0 < filled_at_kill < TOKEN_COUNT
    else:
        assert "token_checksum" not in columns()

    migrate(MIGRATION_0012)

    assert MIGRATION_0012 in applied()
    stored = stored_checksums()
    assert len(stored) == TOKEN_COUNT
    assert all(stored_checksum == checksum(token) for token, stored_checksum in stored.items())


def run_operations_without_recording(operation_count, backwards=False):
    """
    Run the first operations of 0012 as an interrupted MySQL run leaves them: done, not recorded. With
    backwards, undo them again, in reverse order, back to the schema of 0011.
    """
    loader = MigrationExecutor(connection).loader
    state = loader.project_state(("oauth2_provider", BEFORE_0012))
    steps = []
    for operation in loader.get_migration("oauth2_provider", MIGRATION_0012).operations[:operation_count]:
        new_state = state.clone()
        operation.state_forwards("oauth2_provider", new_state)
        steps.append((operation, state, new_state))
        state = new_state
    for operation, from_state, to_state in reversed(steps) if backwards else steps:
        with connection.schema_editor(atomic=False) as schema_editor:
            if backwards:
                operation.database_backwards("oauth2_provider", schema_editor, to_state, from_state)
            else:
                operation.database_forwards("oauth2_provider", schema_editor, from_state, to_state)


def interrupt_then_rerun(operations_done):
    """Leave 0012 interrupted after `operations_done` operations, then `migrate` to 0012 again."""
    tokens = list(generate_tokens(3000))
    insert_tokens(tokens)
    run_operations_without_recording(operations_done)
    if operations_done == 3:
        with connection.cursor() as cursor:
            cursor.execute(f"UPDATE {TABLE} SET token_checksum = NULL WHERE id % 2 = 0")

    migrate(MIGRATION_0012)
    return tokens


INTERRUPTED_AFTER = pytest.mark.parametrize(
    "operations_done",
    [1, 2, 3, 4],
    ids=["column-added", "token-altered", "backfill-half-done", "unique-added"],
)


@INTERRUPTED_AFTER
def test_0012_goes_on_from_what_an_interrupted_run_left(before_0012, operations_done):
    tokens = interrupt_then_rerun(operations_done)

    assert MIGRATION_0012 in applied()
    assert stored_checksums() == {token: checksum(token) for token in tokens}


@pytest.mark.control("3.4.1", series="none", backends=["mysql"])
@pytest.mark.control("3.0.1", series="none", backends=["mysql"])
@INTERRUPTED_AFTER
def test_rerun_after_an_interrupted_run_fails_without_the_series(before_0012, operations_done):
    """
    The same interrupted runs, against 0012 as released on MySQL/MariaDB: the rerun stops at once on
    the column the interrupted run added, and every rerun after it does too.
    """
    try:
        with pytest.raises(DatabaseError) as failure:
            interrupt_then_rerun(operations_done)

        assert failure.value.args[:2] == (1060, "Duplicate column name 'token_checksum'")
        assert MIGRATION_0012 not in applied()
    finally:
        # What an operator would have to do by hand, so that the fixture can migrate to the latest.
        delete_all_tokens()
        if MIGRATION_0012 in applied():
            migrate(BEFORE_0012)
        else:
            run_operations_without_recording(operations_done, backwards=True)
