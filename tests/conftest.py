import os

import pytest
from django.db import connections

from tests.tokens import BEFORE_0012, migrate


def installed_dot_version():
    import oauth2_provider

    return oauth2_provider.__version__


def pytest_report_header(config):
    series = os.environ.get("DOT0012_SERIES", "all")
    backend = os.environ.get("DOT0012_BACKEND", "sqlite")
    return f"django-oauth-toolkit {installed_dot_version()}, dot0012 series: {series}, backend: {backend}"


def pytest_collection_modifyitems(config, items):
    """
    Against a patched DOT (DOT0012_SERIES=all, the default) run the specification and leave out the
    controls; against an unpatched DOT (DOT0012_SERIES=none) run only the controls for that version,
    which prove that the specification fails there.
    """
    unpatched = os.environ.get("DOT0012_SERIES", "all") == "none"
    version = installed_dot_version()
    selected, deselected = [], []
    for item in items:
        control = item.get_closest_marker("control")
        wanted = control is not None and version in control.args if unpatched else control is None
        (selected if wanted else deselected).append(item)
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = selected


def restore_latest(alias):
    # The rest of the suite expects the latest schema. The tokens go first: an unpatched 0012 cannot
    # migrate them, and the flush that follows the test would remove them anyway.
    with connections[alias].cursor() as cursor:
        cursor.execute("DELETE FROM oauth2_provider_accesstoken")
    migrate(None, alias)


@pytest.fixture
def before_0012(transactional_db):
    """The default database, empty, at migration 0011: the state 0012 upgrades from."""
    migrate(BEFORE_0012)
    yield
    restore_latest("default")


@pytest.fixture
def other_before_0012(transactional_db):
    """The "other" database, empty, at migration 0011. Tests using it must list it in django_db."""
    migrate(BEFORE_0012, "other")
    yield
    restore_latest("other")
