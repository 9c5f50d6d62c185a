"""The wire version carried in every Cove envelope (key ``"v"``).

A relay and a client that disagree on it refuse each other's envelopes with
:attr:`~cove.protocol.wire.codes.ErrorCode.UNSUPPORTED_VERSION` instead of
guessing. Bump it for any change that an older peer would misread.
"""

from __future__ import annotations

from typing import Final

#: The one wire version this code speaks.
WIRE_VERSION: Final = 1

__all__ = ["WIRE_VERSION"]
