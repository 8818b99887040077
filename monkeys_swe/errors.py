"""Errors that reach the user as one line, naming what to fix."""


class UserError(Exception):
    """Bad input or environment: printed as `error: <message>`, exit code 2, no traceback."""
