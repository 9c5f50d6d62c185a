"""The moderators' intake key: an HPKE key pair only the group's moderators hold.

Decision 0016: the group's moderators share a small **moderators' MLS group**
(the "moderators' room": every moderator and owner of the main group, nobody
else). The intake key of generation ``g`` is derived from that group's exporter
at the epoch in which it was made::

    ikm               = MLS-Exporter("cove intake key v1", V(main_group_id) || uint32(g), 32)
                        (of the moderators' group, RFC 9420 §8.5)
    (intake_sk, intake_pk) = DeriveKeyPair_X25519(ikm)     (RFC 9180 §7.1.3)

Every moderator in that epoch derives the same pair; the moderator who changes
the moderator set (an Add or Remove in the moderators' group) derives
generation ``g + 1`` in the new epoch and publishes ``(g + 1, intake_pk)`` in
the main group's join settings (and re-seals her links' previews). Moderators
keep the private keys of the generations that active links still name, for the
request lifetime, in their encrypted stores (a later exporter value cannot
reproduce an earlier epoch's). A removed moderator never learns a later
generation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from ..codec import Writer
from ..errors import UsageError
from .fields import U32_MAX, check_uint
from .join_settings import IntakeKey
from .link import INVITE_SUITE

INTAKE_EXPORTER_LABEL: Final = b"cove intake key v1"


def intake_exporter_context(main_group_id: bytes, generation: int) -> bytes:
    """The exporter context: ``V(main_group_id) || uint32(generation)``."""
    check_uint("intake generation", generation, U32_MAX)
    w = Writer()
    w.opaque(main_group_id)
    w.uint32(generation)
    return w.getvalue()


@dataclass(frozen=True, slots=True)
class IntakeKeyPair:
    generation: int
    private_key: bytes
    public_key: bytes

    @property
    def public(self) -> IntakeKey:
        return IntakeKey(self.generation, self.public_key)

    def __repr__(self) -> str:
        return f"IntakeKeyPair(generation={self.generation}, <private key hidden>)"


def derive_intake_key(exporter_value: bytes, generation: int) -> IntakeKeyPair:
    """The key pair from the moderators' group's exporter output (32 bytes) for
    :func:`intake_exporter_context`."""
    if type(exporter_value) is not bytes or len(exporter_value) != 32:
        raise UsageError("the exporter value is 32 bytes")
    check_uint("intake generation", generation, U32_MAX)
    private, public = INVITE_SUITE.derive_key_pair(exporter_value)
    return IntakeKeyPair(generation, private, public)


__all__ = [
    "INTAKE_EXPORTER_LABEL",
    "IntakeKeyPair",
    "derive_intake_key",
    "intake_exporter_context",
]
