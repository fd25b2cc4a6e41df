"""
The Django project the tests run in, apart from the tests, as pytest-django keeps its own: settings
(one module for every backend: dot0012.databases reads DOT0012_BACKEND, which tox sets, and the tests
read it too to choose what runs), a URLconf, and an app with a swapped access token model for the
upgrade guide's example migration (accounts/).
"""
