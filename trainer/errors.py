"""Errors the command line shows as one line with exit code 2."""


class UserError(Exception):
    """An error in what the user asked for; shown as one line, exit code 2."""
