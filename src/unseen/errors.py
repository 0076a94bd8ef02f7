"""Exceptions a user can meet; the CLI turns them into one line and an exit code."""


class UnseenError(Exception):
    """An error caused by the user's input or environment, with a message saying what to do."""


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP arrived: unwound like Ctrl-C (temporary outputs removed), exit status 128 + signal."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def interrupt_in(exc: BaseException) -> KeyboardInterrupt | None:
    """The Ctrl-C (or SIGTERM/SIGHUP) behind `exc`, if any: an extension module interrupted while it loads surfaces as
    an ImportError caused by the KeyboardInterrupt, which a broad `except Exception` would otherwise swallow."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, KeyboardInterrupt):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None
