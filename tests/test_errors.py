"""The Ctrl-C behind an exception is found through its causes."""

from unseen.errors import Terminated, interrupt_in


def _chained(first: BaseException) -> Exception:
    try:
        try:
            raise first
        except BaseException as inner:
            raise ImportError("initialization failed") from inner
    except ImportError as outer:
        try:
            raise AttributeError("half-loaded module") from None
        except AttributeError as last:
            last.__context__ = outer  # as raised while handling it
            return last


def test_the_interrupt_behind_an_import_error_is_found() -> None:
    stop = KeyboardInterrupt()
    assert interrupt_in(_chained(stop)) is stop
    term = Terminated(15)
    assert interrupt_in(_chained(term)) is term


def test_an_error_with_no_interrupt_behind_it_is_not_one() -> None:
    assert interrupt_in(_chained(ValueError("bad"))) is None
    assert interrupt_in(RuntimeError("plain")) is None
