"""Token buckets kept in memory, keyed by account, target or client address.

Keys are never logged or stored; buckets that are full again are dropped so the
table stays small. A bucket of ``count`` per ``window`` seconds allows a burst of
``count`` and refills at ``count / window`` per second.
"""

from __future__ import annotations

import math

from .clock import Clock


class RateLimiter:
    __slots__ = ("_buckets", "_clock", "_count", "_max_keys", "_rate")

    def __init__(self, clock: Clock, count: int, window: float, *, max_keys: int = 100_000):
        self._clock = clock
        self._count = float(count)
        self._rate = count / window
        self._buckets: dict[object, tuple[float, float]] = {}
        self._max_keys = max_keys

    def _level(self, key: object, now: float) -> float:
        tokens, stamp = self._buckets.get(key, (self._count, now))
        return min(self._count, tokens + (now - stamp) * self._rate)

    def retry_after(self, key: object) -> int:
        """0 if a request for ``key`` may go now, else whole seconds to wait. Spends a token."""
        now = self._clock.monotonic()
        tokens = self._level(key, now)
        if tokens < 1.0:
            return max(1, math.ceil((1.0 - tokens) / self._rate))
        if len(self._buckets) >= self._max_keys:
            self._sweep(now)
        self._buckets[key] = (tokens - 1.0, now)
        return 0

    def _sweep(self, now: float) -> None:
        full = [k for k in self._buckets if self._level(k, now) >= self._count]
        for k in full:
            del self._buckets[k]
        if len(self._buckets) >= self._max_keys:  # still full: forget the oldest half
            for k in list(self._buckets)[: self._max_keys // 2]:
                del self._buckets[k]
