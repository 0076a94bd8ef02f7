"""Exceptions a user can meet; the CLI turns them into one line and an exit code."""


class UnseenError(Exception):
    """An error caused by the user's input or environment, with a message saying what to do."""


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP arrived: unwound like Ctrl-C (temporary outputs removed), exit status 128 + signal."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum
