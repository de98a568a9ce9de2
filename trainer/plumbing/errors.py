"""Errors the command line shows as one line with exit code 2."""


class UserError(Exception):
    """An error in what the user asked for; shown as one line, exit code 2."""


def causes(error: BaseException | None):
    """``error`` and the exceptions it was raised from or during, each once (newest first)."""
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        yield error
        error = error.__cause__ or error.__context__
