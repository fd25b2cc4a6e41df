"""The exception dot0012's library raises for anything the user can put right."""


class CommandError(Exception):
    """A one-line error for the user; the command exits with status 2 and has changed nothing."""
