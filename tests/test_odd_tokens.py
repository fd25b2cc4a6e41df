"""
Whatever text a token holds, the database-side checksum of the series is hashlib's SHA-256 of its UTF-8
bytes, both paths of the backfill store it, and the batches of the backfill are counted in rows without
growing with the tokens' length.

On SQLite the database's SHA-256 is hashlib's, registered on the connection by the 3.0.x series or by
Django (SHA256(), which the 3.4.1 series' TokenSHA256 is there): the comparisons below are weak on
SQLite and real on PostgreSQL and MariaDB, where the database computes the digest itself.
"""

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dot0012.migrate_child import BEFORE_0012, MIGRATION_0012, memray_peak_bytes
from tests.memory import BOUND, MB
from tests.tokens import (
    BACKFILL_PATHS,
    TOKEN_MAX_LENGTH_BEFORE_0012,
    backfill_migrations,
    checksum,
    database_checksum,
    delete_all_tokens,
    force_backfill_path,
    insert_tokens,
    migrate,
    stored_checksums,
)


BACKEND = os.environ.get("DOT0012_BACKEND", "sqlite")

# Any code point UTF-8 can encode (no lone surrogates); PostgreSQL's text cannot hold NUL.
storable_text = st.characters(
    blacklist_categories=["Cs"], blacklist_characters=["\x00"] if BACKEND == "postgres" else []
)
tokens = st.text(storable_text, max_size=TOKEN_MAX_LENGTH_BEFORE_0012)
# The token column is unique before 0012, and MySQL compares strings ignoring trailing spaces.
token_lists = st.lists(tokens, min_size=1, max_size=20, unique_by=lambda token: token.rstrip(" "))

HOSTILE_TOKENS = [
    "",
    # MySQL's unique index takes "" and " " for the same token: the spaces go before something else.
    "  leading and inner  spaces",
    "\t\r\n",
    "'; DROP TABLE oauth2_provider_accesstoken; --",
    "\\' OR 1=1 -- %s %% ?",
    "مرحبا\u200fשלום",  # right-to-left, with a right-to-left mark
    "e\u0301\u0308\u20dd",  # combining marks
    "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 🔑🧪 \U0010fffd",  # astral planes
    "\ufeffBOM",
]


# Each migration with a backfill has its own copy of the database's checksum (0015 in the 3.4.1 series).
with_each_backfill_migration = pytest.mark.parametrize("migration", backfill_migrations())


@pytest.mark.django_db
@with_each_backfill_migration
@settings(max_examples=200, deadline=None)
@given(token=tokens)
def test_database_checksum_is_sha256_of_utf8(migration, token):
    assert database_checksum(token, migration) == checksum(token)


@pytest.mark.parametrize("token", HOSTILE_TOKENS)
@with_each_backfill_migration
@pytest.mark.django_db
def test_database_checksum_of_hostile_tokens(migration, token):
    assert database_checksum(token, migration) == checksum(token)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(stored_tokens=token_lists)
def test_backfill_of_stored_tokens_matches_hashlib(before_0012, stored_tokens):
    delete_all_tokens()
    insert_tokens(stored_tokens)
    try:
        migrate(MIGRATION_0012)
        assert stored_checksums() == {token: checksum(token) for token in stored_tokens}
    finally:
        delete_all_tokens()
        migrate(BEFORE_0012)


@pytest.mark.parametrize("path", BACKFILL_PATHS)
def test_hostile_tokens_survive_the_backfill(before_0012, monkeypatch, path):
    force_backfill_path(monkeypatch, path)
    insert_tokens(HOSTILE_TOKENS)

    migrate(MIGRATION_0012)

    assert stored_checksums() == {token: checksum(token) for token in HOSTILE_TOKENS}


@pytest.mark.skipif(BACKEND != "sqlite", reason="only SQLite stores tokens longer than the 255 of 0011")
def test_64_kb_tokens_on_sqlite(before_0012):
    long_tokens = [f"{index:04d}" + "🔑é" * 32_766 for index in range(20)]
    insert_tokens(long_tokens)

    migrate(MIGRATION_0012)

    assert stored_checksums() == {token: checksum(token) for token in long_tokens}


@pytest.mark.slow
def test_100k_tokens_of_the_maximum_length_stay_within_bound(before_0012):
    length = TOKEN_MAX_LENGTH_BEFORE_0012
    insert_tokens(f"{index:08d}" + "🔑" * (length - 8) for index in range(100_000))

    peak = memray_peak_bytes(lambda: migrate(MIGRATION_0012))

    assert peak < BOUND, f"{peak / MB:.1f} MB"
