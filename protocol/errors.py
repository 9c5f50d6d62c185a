"""The one error hierarchy of :mod:`cove.protocol`.

::

    CoveError
      ProtocolError         the peer (or the bytes) are at fault
        DecodeError         malformed bytes; names the type being decoded and the offset
        ValidationError     well-formed but breaks a rule; carries the rule id
        CryptoError         a signature, AEAD tag, MAC or HPKE operation failed
        StateError          not allowed now (wrong epoch, pending commit, removed, replay)
      UsageError            the caller passed something wrong
        UnsupportedCipherSuite
      InternalError         our bug; raised where the code would otherwise crash

Verification raises; nothing in ``cove.protocol`` returns a "valid?" boolean.
Messages never contain key material or plaintext.
"""

from __future__ import annotations


class CoveError(Exception):
    """Base of every error raised on purpose by Cove."""


class ProtocolError(CoveError):
    """Something received from a peer is wrong."""


class DecodeError(ProtocolError):
    """Bytes that do not decode as the expected structure."""

    def __init__(self, message: str, *, type_name: str = "", offset: int = -1) -> None:
        self.type_name = type_name
        self.offset = offset
        where = []
        if type_name:
            where.append(type_name)
        if offset >= 0:
            where.append(f"offset {offset}")
        super().__init__(f"{message} ({', '.join(where)})" if where else message)


class ValidationError(ProtocolError):
    """A well-formed structure that breaks a rule of RFC 9420 or of Cove."""

    def __init__(self, rule: str, message: str) -> None:
        self.rule = rule
        super().__init__(f"[{rule}] {message}")


class CryptoError(ProtocolError):
    """A cryptographic check failed (signature, AEAD tag, MAC, HPKE).

    The message says which check, never why: there is no oracle.
    """


class StateError(ProtocolError):
    """The operation is not allowed in the current state."""


class UsageError(CoveError):
    """The caller used the API wrongly."""


class UnsupportedCipherSuite(UsageError):
    """A cipher suite Cove does not implement (yet)."""

    def __init__(self, suite: int) -> None:
        self.suite = suite
        super().__init__(f"cipher suite {suite} is not supported")


class InternalError(CoveError):
    """A bug in Cove."""
