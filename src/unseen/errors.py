"""Exceptions a user can meet; the CLI turns them into one line and an exit code."""


class UnseenError(Exception):
    """An error caused by the user's input or environment, with a message saying what to do."""
