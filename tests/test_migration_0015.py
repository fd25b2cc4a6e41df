"""
Migration 0015 (DOT 3.4.0 and later) on a table that already holds refresh tokens: the same backfill
as 0012, for RefreshToken.token_checksum, within the same memory bound, which 3.4.1 as released
exceeds on MariaDB (mysqlclient buffers the whole `iterator()` result).
"""

import pytest

from dot0012.migrate_child import historical_apps, memray_peak_bytes
from tests.memory import BOUND, MB
from tests.tokens import (
    BEFORE_0015,
    MIGRATION_0015,
    checksum,
    generate_tokens,
    has_migration,
    insert_refresh_tokens,
    migrate,
    stored_refresh_token_checksums,
)


pytestmark = pytest.mark.skipif(not has_migration(MIGRATION_0015), reason="this DOT has no migration 0015")


@pytest.fixture
def before_0015(before_0012):
    migrate(BEFORE_0015)


def test_backfill_stores_sha256_of_utf8_refresh_token(before_0015):
    tokens = list(generate_tokens(5000))
    insert_refresh_tokens(tokens, BEFORE_0015)

    migrate(MIGRATION_0015)

    assert stored_refresh_token_checksums() == {token: checksum(token) for token in tokens}


@pytest.fixture
def refresh_tokens_100k(before_0015):
    insert_refresh_tokens(generate_tokens(100_000), BEFORE_0015)


@pytest.mark.slow
@pytest.mark.limit_memory("16 MB")
def test_backfill_of_100k_refresh_tokens_stays_within_bound(refresh_tokens_100k):
    migrate(MIGRATION_0015)

    RefreshToken = historical_apps(MIGRATION_0015).get_model("oauth2_provider", "RefreshToken")
    assert RefreshToken.objects.count() == 100_000
    assert not RefreshToken.objects.filter(token_checksum="").exists()


@pytest.mark.slow
@pytest.mark.control("3.4.1", series="none", backends=["mysql"])
def test_refresh_token_backfill_exceeds_bound_as_released(refresh_tokens_100k):
    """The same 100,000 refresh tokens and bound, against DOT 3.4.1 as released on MySQL/MariaDB."""
    peak = memray_peak_bytes(lambda: migrate(MIGRATION_0015))

    assert peak > BOUND, f"{peak / MB:.1f} MB"
