"""App records of joining: rules, rules acceptances, welcome messages, history shares.

They travel like every app record (docs/protocol/app-content.md §1: a padded
msgpack map ``{"v": 1, "t": <type>, "id", "sent_at", ...}``) and decode through
:func:`cove.protocol.app.decode`, which finds them in the feature registry of
:mod:`.records`. Numbers come from the reserved blocks: 32–39 group rules,
48–55 roles and moderation (join approvals).

* 32 ``Rules``: ``version`` int 1..2^32−1, ``salt`` bin 16, ``text`` str (text)
  1..16384 bytes;
* 33 ``RulesAcceptance``: ``version`` int 1..2^32−1, ``rules_hash`` bin 32,
  ``signature`` bin 64;
* 34 ``AcceptanceList``: ``version`` int 1..2^32−1, ``rules_hash`` bin 32,
  ``newcomer`` bin 32, ``entries`` bin 96..48000: 1..500 entries of
  ``identity_key (32) || signature (64)``, identity keys strictly ascending;
* 48 ``WelcomeMessage``: ``text`` str (text) 0..2000 bytes, ``newcomer`` bin 32 opt;
* 49 ``HistoryShare``: ``newcomer`` bin 32, ``level`` int 1..2, ``blob_id`` bin 16,
  ``sha256`` bin 32, ``size`` int 0..2^26, ``chunk_size`` int 1024..1048576,
  ``kem_output`` bin 32..65, ``sealed_key`` bin 48.

Receivers' rules (the policy engine registers them; :mod:`cove.protocol.invites`
has the checks): ``Rules`` counts only from a moderator and only if
``(version, rules_hash(group_id, version, salt, text))`` is the join settings'
current pair (:func:`~cove.protocol.invites.rules.check_rules_text`);
``RulesAcceptance`` counts only if the sender's identity key signed it
(:class:`~cove.protocol.invites.rules.RulesLedger`); ``AcceptanceList`` counts
only from a moderator, for the current pair, and only if every entry's signature
verifies under its identity key; ``WelcomeMessage`` and ``HistoryShare`` count
only from a moderator.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from itertools import pairwise
from typing import Annotated, ClassVar, Final, Self

from ..errors import DecodeError
from .codec import Spec, Struct, pack
from .records import decode, register_record_class

_TEXT_BAD: Final = frozenset(chr(c) for c in (*range(0, 9), 11, 12, *range(14, 32), 127))


@dataclass(frozen=True, slots=True)
class _Bin(Spec):
    minimum: int
    maximum: int

    def problem(self, value: object) -> str | None:
        if type(value) is not bytes:
            return "expected bytes"
        if not self.minimum <= len(value) <= self.maximum:
            return f"{len(value)} bytes, not {self.minimum}..{self.maximum}"
        return None

    def describe(self) -> str:
        return f"bin, {self.minimum}..{self.maximum} bytes"


@dataclass(frozen=True, slots=True)
class _Str(Spec):
    minimum: int
    maximum: int

    def problem(self, value: object) -> str | None:
        if type(value) is not str:
            return "expected a string"
        try:
            n = len(value.encode("utf-8"))
        except UnicodeEncodeError:
            return "not valid Unicode (lone surrogate)"
        if not self.minimum <= n <= self.maximum:
            return f"{n} bytes, not {self.minimum}..{self.maximum}"
        if any(c in _TEXT_BAD for c in value):
            return "contains a control character"
        return None

    def describe(self) -> str:
        return f"str (text), {self.minimum}..{self.maximum} UTF-8 bytes"


@dataclass(frozen=True, slots=True)
class _Int(Spec):
    minimum: int
    maximum: int

    def problem(self, value: object) -> str | None:
        if type(value) is not int:
            return "expected an integer"
        if not self.minimum <= value <= self.maximum:
            return f"not in {self.minimum}..{self.maximum}"
        return None

    def describe(self) -> str:
        return f"int, {self.minimum}..{self.maximum}"


#: one entry of an ``AcceptanceList``: identity key (32) || acceptance signature (64)
ACCEPTANCE_ENTRY_LEN: Final = 96
#: entries per ``AcceptanceList`` record (the record stays under the 49 152-byte bucket);
#: a longer list is sent as several records
MAX_LIST_ENTRIES: Final = 500


@dataclass(frozen=True, slots=True)
class _Entries(Spec):
    """Concatenated 96-byte entries, identity keys strictly ascending (so one
    spelling, no duplicates)."""

    def problem(self, value: object) -> str | None:
        if type(value) is not bytes:
            return "expected bytes"
        n, rest = divmod(len(value), ACCEPTANCE_ENTRY_LEN)
        if rest or not 1 <= n <= MAX_LIST_ENTRIES:
            return f"{len(value)} bytes, not 1..{MAX_LIST_ENTRIES} entries of 96"
        keys = [value[i : i + 32] for i in range(0, len(value), ACCEPTANCE_ENTRY_LEN)]
        if any(a >= b for a, b in pairwise(keys)):
            return "identity keys not strictly ascending"
        return None

    def describe(self) -> str:
        return f"bin, 1..{MAX_LIST_ENTRIES} entries of identity key (32) || signature (64)"


_ID = _Bin(16, 16)
_SENT_AT = _Int(0, (1 << 53) - 1)


@dataclass(frozen=True, slots=True, kw_only=True)
class _JoinRecord(Struct):
    RECORD_TYPE: ClassVar[int]

    id: Annotated[bytes, _ID]
    sent_at: Annotated[int, _SENT_AT]

    def encode(self) -> bytes:
        body: dict[str, object] = {"v": 1, "t": self.RECORD_TYPE}
        body.update(self.to_map())
        return pack(body, type(self).__name__)

    @classmethod
    def decode(cls, data: bytes) -> Self:
        record: object = decode(data)
        if not isinstance(record, cls):
            raise DecodeError(f"a {type(record).__name__}, not a {cls.__name__}")
        return record


@dataclass(frozen=True, slots=True, kw_only=True)
class Rules(_JoinRecord):
    """The group's rules text, version ``version`` (set by moderators)."""

    RECORD_TYPE: ClassVar[int] = 32

    version: Annotated[int, _Int(1, 0xFFFFFFFF)]
    salt: Annotated[bytes, _Bin(16, 16)]
    text: Annotated[str, _Str(1, 16384)]

    def __repr__(self) -> str:
        return f"Rules(version={self.version}, <text hidden>)"


@dataclass(frozen=True, slots=True, kw_only=True)
class RulesAcceptance(_JoinRecord):
    """The sender accepts rules ``version`` (signed by her identity key)."""

    RECORD_TYPE: ClassVar[int] = 33

    version: Annotated[int, _Int(1, 0xFFFFFFFF)]
    rules_hash: Annotated[bytes, _Bin(32, 32)]
    signature: Annotated[bytes, _Bin(64, 64)]


@dataclass(frozen=True, slots=True, kw_only=True)
class AcceptanceList(_JoinRecord):
    """The members' signed acceptances of the current rules, sent by a moderator for
    ``newcomer`` (who cannot read the acceptances sent before she joined)."""

    RECORD_TYPE: ClassVar[int] = 34

    version: Annotated[int, _Int(1, 0xFFFFFFFF)]
    rules_hash: Annotated[bytes, _Bin(32, 32)]
    newcomer: Annotated[bytes, _Bin(32, 32)]
    entries: Annotated[bytes, _Entries()]

    def __repr__(self) -> str:
        return f"AcceptanceList(version={self.version}, entries={len(self.pairs())})"

    def pairs(self) -> list[tuple[bytes, bytes]]:
        """The ``(identity key, signature)`` entries, in order."""
        e, n = self.entries, ACCEPTANCE_ENTRY_LEN
        return [(e[i : i + 32], e[i + 32 : i + n]) for i in range(0, len(e), n)]

    @staticmethod
    def pack_entries(pairs: Iterable[tuple[bytes, bytes]]) -> bytes:
        """``entries`` from ``(identity key, signature)`` pairs (sorted here)."""
        return b"".join(k + s for k, s in sorted(pairs))


@dataclass(frozen=True, slots=True, kw_only=True)
class WelcomeMessage(_JoinRecord):
    """The moderators' welcome text; with ``newcomer``, the greeting sent to her."""

    RECORD_TYPE: ClassVar[int] = 48

    text: Annotated[str, _Str(0, 2000)]
    newcomer: Annotated[bytes | None, _Bin(32, 32)] = None

    def __repr__(self) -> str:
        return "WelcomeMessage(<text hidden>)"


@dataclass(frozen=True, slots=True, kw_only=True)
class HistoryShare(_JoinRecord):
    """A newcomer's history bundle: the blob and its key sealed to her leaf."""

    RECORD_TYPE: ClassVar[int] = 49

    newcomer: Annotated[bytes, _Bin(32, 32)]
    level: Annotated[int, _Int(1, 2)]
    blob_id: Annotated[bytes, _Bin(16, 16)]
    sha256: Annotated[bytes, _Bin(32, 32)]
    size: Annotated[int, _Int(0, 64 * 1024 * 1024)]
    chunk_size: Annotated[int, _Int(1024, 1024 * 1024)]
    kem_output: Annotated[bytes, _Bin(32, 65)]
    sealed_key: Annotated[bytes, _Bin(48, 48)]

    def __repr__(self) -> str:
        return f"HistoryShare(level={self.level}, size={self.size}, <key hidden>)"


JOIN_RECORD_CLASSES: Final[tuple[type[_JoinRecord], ...]] = (
    Rules,
    RulesAcceptance,
    AcceptanceList,
    WelcomeMessage,
    HistoryShare,
)

for _cls in JOIN_RECORD_CLASSES:
    register_record_class(_cls.RECORD_TYPE, _cls)


__all__ = [
    "ACCEPTANCE_ENTRY_LEN",
    "JOIN_RECORD_CLASSES",
    "MAX_LIST_ENTRIES",
    "AcceptanceList",
    "HistoryShare",
    "Rules",
    "RulesAcceptance",
    "WelcomeMessage",
]
