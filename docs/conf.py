"""Sphinx configuration for the dot0012 documentation (`tox -e docs`)."""

project = "dot0012"
author = "dot0012 contributors"
copyright = "dot0012 contributors"

extensions = ["sphinx.ext.extlinks"]

# Upstream django-oauth-toolkit issues and pull requests: :issue:`1521`, :pr:`1522`.
extlinks = {
    "issue": ("https://github.com/django-oauth/django-oauth-toolkit/issues/%s", "#%s"),
    "pr": ("https://github.com/django-oauth/django-oauth-toolkit/pull/%s", "#%s"),
}

exclude_patterns = ["_build", "_includes"]
html_theme = "sphinx_rtd_theme"
html_static_path = []
highlight_language = "none"
