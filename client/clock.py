"""The client's clock, injected: nothing in ``cove.client`` reads the time another way.

Times are whole seconds since the Unix epoch (what app records carry in
``sent_at`` and what the key-update schedule compares).
"""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    """Something that tells the time in seconds since the Unix epoch."""

    def now(self) -> int: ...


class SystemClock:
    """The computer's clock."""

    def now(self) -> int:
        return int(time.time())

    def __repr__(self) -> str:
        return "SystemClock()"


class FixedClock:
    """A clock that only moves when told to (tests, benchmarks)."""

    def __init__(self, start: int = 1_800_000_000) -> None:
        self.time = start

    def now(self) -> int:
        return self.time

    def advance(self, seconds: int) -> None:
        self.time += seconds

    def __repr__(self) -> str:
        return f"FixedClock({self.time})"
