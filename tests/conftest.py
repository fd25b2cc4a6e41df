import os

import pytest

from tests.tokens import BEFORE_0012, delete_all_tokens, migrate


def installed_dot_version():
    import oauth2_provider

    return oauth2_provider.__version__


def pytest_report_header(config):
    series = os.environ.get("DOT0012_SERIES", "all")
    backend = os.environ.get("DOT0012_BACKEND", "sqlite")
    return f"django-oauth-toolkit {installed_dot_version()}, dot0012 series: {series}, backend: {backend}"


def is_wanted(item, version, series, backend):
    """
    Against DOT patched with the whole series (DOT0012_SERIES=all, the default) run the specification
    and leave the controls out. Against an unpatched or partly patched DOT run only the controls
    marked for that version, series and backend: they prove that the specification fails there.
    """
    controls = list(item.iter_markers("control"))
    if series == "all":
        return not controls
    return any(
        control.args[0] == version
        and control.kwargs.get("series", "none") == series
        and backend in control.kwargs.get("backends", [backend])
        for control in controls
    )


def pytest_collection_modifyitems(config, items):
    version = installed_dot_version()
    series = os.environ.get("DOT0012_SERIES", "all")
    backend = os.environ.get("DOT0012_BACKEND", "sqlite")
    selected, deselected = [], []
    for item in items:
        (selected if is_wanted(item, version, series, backend) else deselected).append(item)
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = selected


def restore_latest(alias):
    # The rest of the suite expects the latest schema. The tokens go first: an unpatched 0012 cannot
    # migrate them, and the flush that follows the test would remove them anyway.
    delete_all_tokens(alias)
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
