"""Sphinx configuration for the dot0012 documentation (`tox -e docs`)."""

import sys
from pathlib import Path


sys.path.insert(0, str(Path(__file__).parent / "_ext"))

project = "dot0012"
author = "dot0012 contributors"
copyright = "dot0012 contributors"

extensions = ["sphinx.ext.extlinks", "results"]

# The results files the :result: role and the result-table directive render figures from (_ext/results.py).
results_files = {
    "shipped": "_static/bench-shipped/results.json",
    "stack": "_static/bench-stack/results.json",
    "bench-0015": "_static/bench-0015/results.json",
    "releases": "_static/bench-releases/results.json",
    "orm-writes": "_static/orm-writes/results.json",
    "online": "_static/online/results.json",
}

# Upstream django-oauth-toolkit issues and pull requests: :issue:`1521`, :pr:`1522`.
extlinks = {
    "issue": ("https://github.com/django-oauth/django-oauth-toolkit/issues/%s", "#%s"),
    "pr": ("https://github.com/django-oauth/django-oauth-toolkit/pull/%s", "#%s"),
}

exclude_patterns = ["_build", "_includes"]
html_theme = "sphinx_rtd_theme"
html_static_path = []
highlight_language = "none"
