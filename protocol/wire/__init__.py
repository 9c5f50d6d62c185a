"""Cove's own client <-> relay formats (not MLS).

- :mod:`.api` the endpoint table both sides are built from;
- :mod:`.envelopes` the msgpack envelopes (frozen dataclasses, strict decoders);
- :mod:`.codes` the typed error codes;
- :mod:`.limits` the one table of limits;
- :mod:`.auth` what is signed to register and log in;
- :mod:`.mls_header` the relay's peek at an MLS message's cleartext header.
"""

from .codes import ErrorCode
from .version import WIRE_VERSION

__all__ = ["WIRE_VERSION", "ErrorCode"]
