"""
Which tests run, from the environment tox sets:

- DOT0012_TESTS=tool: only the tool's own tests (TOOL_TESTS, marked tool: they run the dot0012 command,
  which prepares DOT trees of its own, and need no installed DOT, nor Django's settings); the other test
  modules are not even collected. DOT0012_TESTS=dot: every test but those, against the installed DOT.
  Unset: both.
- DOT0012_QUICK=1: leaves out the tests marked slow (they populate 100,000 tokens; the tests that measure
  memory with memray are among them) and any marked limit_memory or limit_leaks (pytest-memray), for a
  first run that answers in minutes.
- DOT0012_SERIES and DOT0012_BACKEND: the specification or the controls (see is_wanted).
"""

import os
from pathlib import Path

import pytest


TOOL_TESTS = ("test_patching.py", "test_bench.py", "test_demo.py")
MEMRAY_MARKERS = ("limit_memory", "limit_leaks")


def installed_dot_version():
    import oauth2_provider

    return oauth2_provider.__version__


def pytest_report_header(config):
    series = os.environ.get("DOT0012_SERIES", "all")
    backend = os.environ.get("DOT0012_BACKEND", "sqlite")
    tests = os.environ.get("DOT0012_TESTS", "dot and tool")
    quick = ", quick: no slow or memray tests" if os.environ.get("DOT0012_QUICK") else ""
    if tests == "tool":
        return f"dot0012 tests: tool, backend: {backend}{quick}"
    return (
        f"django-oauth-toolkit {installed_dot_version()}, dot0012 series: {series}, backend: {backend}, "
        f"tests: {tests}{quick}"
    )


def pytest_ignore_collect(collection_path, config):
    # The tool's tests run where no DOT is installed: the other test modules could not be imported.
    if os.environ.get("DOT0012_TESTS") == "tool" and collection_path.name.startswith("test_"):
        return collection_path.suffix == ".py" and collection_path.name not in TOOL_TESTS
    return None


@pytest.hookimpl(tryfirst=True)
def pytest_itemcollected(item):
    if Path(str(item.path)).name in TOOL_TESTS:
        item.add_marker(pytest.mark.tool)


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


def is_quick(item):
    return item.get_closest_marker("slow") is None and not any(
        item.get_closest_marker(name) for name in MEMRAY_MARKERS
    )


def pytest_collection_modifyitems(config, items):
    tests = os.environ.get("DOT0012_TESTS", "")
    quick = bool(os.environ.get("DOT0012_QUICK"))
    series = os.environ.get("DOT0012_SERIES", "all")
    backend = os.environ.get("DOT0012_BACKEND", "sqlite")
    version = None if tests == "tool" else installed_dot_version()

    def wanted(item):
        tool = item.get_closest_marker("tool") is not None
        if quick and not is_quick(item):
            return False
        if tests == "tool":
            return tool
        if tests == "dot" and tool:
            return False
        return is_wanted(item, version, series, backend)

    selected, deselected = [], []
    for item in items:
        (selected if wanted(item) else deselected).append(item)
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = selected


def restore_latest(alias):
    from tests.tokens import delete_all_tokens, migrate

    # The rest of the suite expects the latest schema. The tokens go first: an unpatched 0012 cannot
    # migrate them, and the flush that follows the test would remove them anyway.
    delete_all_tokens(alias)
    migrate(None, alias)


@pytest.fixture
def before_0012(transactional_db):
    """The default database, empty, at migration 0011: the state 0012 upgrades from."""
    from tests.tokens import BEFORE_0012, migrate

    migrate(BEFORE_0012)
    yield
    restore_latest("default")


@pytest.fixture
def other_before_0012(transactional_db):
    """The "other" database, empty, at migration 0011. Tests using it must list it in django_db."""
    from tests.tokens import BEFORE_0012, migrate

    migrate(BEFORE_0012, "other")
    yield
    restore_latest("other")
