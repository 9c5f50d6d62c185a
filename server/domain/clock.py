"""Injected time, so tests and the retention task can control it."""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> int:
        """Wall-clock time in whole seconds (what is stored)."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back (rate limits, expiries in memory)."""
        ...


class SystemClock:
    def now(self) -> int:
        return int(time.time())

    def monotonic(self) -> float:
        return time.monotonic()
