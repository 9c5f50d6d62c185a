"""Randomness providers: the only way randomness enters :mod:`cove.protocol`.

Every operation that needs fresh randomness (key generation, HPKE encapsulation)
takes a :class:`RandomProvider` argument. Production code passes
:class:`OsRandom`; tests pass :class:`SeededRandom` (a reproducible stream) or
:class:`FixedRandom` (exact bytes, for reproducing published test vectors).

:class:`OsRandom` is the only place in :mod:`cove.protocol` that reads the
operating system's random number generator.
"""

from __future__ import annotations

import hashlib
import os
from typing import Protocol, runtime_checkable

from ..errors import UsageError

__all__ = ["FixedRandom", "OsRandom", "RandomProvider", "SeededRandom"]


@runtime_checkable
class RandomProvider(Protocol):
    """A source of random bytes."""

    def random_bytes(self, n: int) -> bytes:
        """Return ``n`` bytes (``n >= 0``)."""
        ...


def _check_count(n: int) -> None:
    if not isinstance(n, int) or isinstance(n, bool) or n < 0:
        raise UsageError("random_bytes needs a non-negative int")


class OsRandom:
    """Cryptographically secure randomness from the operating system (``os.urandom``)."""

    __slots__ = ()

    def random_bytes(self, n: int) -> bytes:
        _check_count(n)
        return os.urandom(n)

    def __repr__(self) -> str:
        return "OsRandom()"


#: Domain-separation prefix of :class:`SeededRandom` blocks.
_SEEDED_DOMAIN = b"cove SeededRandom v1"
#: Bytes produced per SHAKE-256 call of :class:`SeededRandom` (the SHAKE-256 rate).
_SEEDED_BLOCK = 136


class SeededRandom:
    """A deterministic byte stream from a seed. For tests and vector reproduction ONLY.

    The stream is the concatenation of the blocks
    ``SHAKE-256(b"cove SeededRandom v1" || uint32(len(seed)) || seed || uint64(i), 136 bytes)``
    for ``i = 0, 1, 2, ...``. ``random_bytes(a)`` followed by ``random_bytes(b)``
    returns the same bytes as one ``random_bytes(a + b)``: only the total count
    matters, not how it is split into calls.

    The repr never shows the seed.
    """

    __slots__ = ("_buffer", "_counter", "_prefix")

    def __init__(self, seed: bytes | int | str) -> None:
        if isinstance(seed, bool):
            raise UsageError("SeededRandom seed must be bytes, str or int")
        if isinstance(seed, int):
            if seed < 0:
                raise UsageError("SeededRandom int seed must be non-negative")
            seed = seed.to_bytes((seed.bit_length() + 7) // 8 or 1, "big")
        elif isinstance(seed, str):
            seed = seed.encode("utf-8")
        elif not isinstance(seed, bytes | bytearray):
            raise UsageError("SeededRandom seed must be bytes, str or int")
        seed = bytes(seed)
        self._prefix = _SEEDED_DOMAIN + len(seed).to_bytes(4, "big") + seed
        self._counter = 0
        self._buffer = bytearray()

    def random_bytes(self, n: int) -> bytes:
        _check_count(n)
        buf = self._buffer
        while len(buf) < n:
            block = hashlib.shake_256(self._prefix + self._counter.to_bytes(8, "big"))
            buf += block.digest(_SEEDED_BLOCK)
            self._counter += 1
        out = bytes(buf[:n])
        del buf[:n]
        return out

    def __repr__(self) -> str:
        return "SeededRandom(<seed hidden>)"


class FixedRandom:
    """Returns exactly the bytes it was given, in order, then refuses.

    For reproducing test vectors whose "random" inputs are published (for
    example HPKE's ``ikmE``). Asking for more bytes than remain raises
    :class:`~cove.protocol.errors.UsageError`. The repr never shows the bytes.
    """

    __slots__ = ("_data",)

    def __init__(self, *chunks: bytes) -> None:
        self._data = bytearray(b"".join(chunks))

    @property
    def remaining(self) -> int:
        return len(self._data)

    def random_bytes(self, n: int) -> bytes:
        _check_count(n)
        if n > len(self._data):
            raise UsageError(f"FixedRandom exhausted: {n} bytes asked, {len(self._data)} left")
        out = bytes(self._data[:n])
        del self._data[:n]
        return out

    def __repr__(self) -> str:
        return f"FixedRandom(<{len(self._data)} bytes hidden>)"
