"""Ctrl-C and SIGTERM end a run cleanly: they set a flag that the optimisation loop polls, so the run
writes its best result so far; a second Ctrl-C falls through to Python's default and stops at once."""
from __future__ import annotations

import contextlib
import signal
import sys
from typing import Any


class StopRequest:
    """The pending stop signal, if any (true once SIGINT or SIGTERM arrived)."""

    def __init__(self) -> None:
        self.signal: int | None = None
        self._old: dict[int, Any] = {}

    def __bool__(self) -> bool:
        return self.signal is not None

    @property
    def exit_code(self) -> int:
        return 128 + self.signal if self.signal else 0

    def _handle(self, signum: int, frame: Any) -> None:
        if self.signal is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.signal = signum
        print(f"\n{signal.Signals(signum).name} received: finishing with the best result so far "
              "(Ctrl-C again to abort)", file=sys.stderr)

    def __enter__(self) -> StopRequest:
        for s in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(ValueError):  # not the main thread: leave signals alone
                self._old[s] = signal.signal(s, self._handle)
        return self

    def __exit__(self, *exc: Any) -> None:
        for s, h in self._old.items():
            signal.signal(s, h)
        self._old.clear()


STOP = StopRequest()
