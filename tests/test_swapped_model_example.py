"""
The upgrade guide's migration for an app with a swapped access token model
(testproject/accounts/migrations/0005_accesstoken_token_checksum.py, which docs/upgrade.rst includes),
run on a table of tokens as DOT < 3.0 left it. The stand-in model has the token fields of DOT's
AbstractAccessToken only: swapping DOT's models in this test project would mean swapping all of them.
"""

import io

import pytest
from django.core.management import call_command
from django.db import IntegrityError, transaction

from dot0012.migrate_child import historical_apps
from tests.tokens import checksum, generate_tokens


BEFORE = "0004_previous"
EXAMPLE = "0005_accesstoken_token_checksum"


def historical_access_token(migration):
    return historical_apps(migration, app_label="accounts").get_model("accounts", "AccessToken")


@pytest.fixture
def accounts_before_example(transactional_db):
    call_command("migrate", "accounts", BEFORE, verbosity=0)
    yield
    historical_access_token(BEFORE).objects.all().delete()
    call_command("migrate", "accounts", verbosity=0)


def test_example_fills_every_checksum_and_makes_it_unique(accounts_before_example):
    tokens = list(generate_tokens(4500))  # three batches of the example's 2000
    AccessToken = historical_access_token(BEFORE)
    AccessToken.objects.bulk_create(AccessToken(token=token) for token in tokens)

    call_command("migrate", "accounts", EXAMPLE, verbosity=0)

    AccessToken = historical_access_token(EXAMPLE)
    assert dict(AccessToken.objects.values_list("token", "token_checksum")) == {
        token: checksum(token) for token in tokens
    }
    # update(), unlike save(), does not recompute the checksum from the token.
    with pytest.raises(IntegrityError), transaction.atomic():
        AccessToken.objects.filter(token=tokens[1]).update(token_checksum=checksum(tokens[0]))


@pytest.mark.django_db  # makemigrations checks the history applied to the database
def test_example_leaves_nothing_for_makemigrations():
    output = io.StringIO()

    call_command("makemigrations", "accounts", check=True, dry_run=True, stdout=output)

    assert output.getvalue().strip() == "No changes detected in app 'accounts'"
