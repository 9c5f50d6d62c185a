"""GroupContext (RFC 9420 §8.1): the state every member of an epoch agrees on."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..codec import Reader, Struct, Writer
from .extensions import Extension, read_extensions, write_extensions

#: ProtocolVersion mls10 (§6).
MLS10 = 1


@dataclass(frozen=True, slots=True)
class GroupContext(Struct):
    """::

    struct {
        ProtocolVersion version = mls10;
        CipherSuite cipher_suite;
        opaque group_id<V>;
        uint64 epoch;
        opaque tree_hash<V>;
        opaque confirmed_transcript_hash<V>;
        Extension extensions<V>;
    } GroupContext;
    """

    cipher_suite: int
    group_id: bytes
    epoch: int
    tree_hash: bytes
    confirmed_transcript_hash: bytes
    extensions: tuple[Extension, ...] = ()
    version: int = MLS10
    #: The encoding, made once: every message of the epoch signs over it (FramedContentTBS).
    #: The struct is immutable, so the cache never goes stale.
    _encoded: bytes | None = field(default=None, init=False, repr=False, compare=False)

    def to_bytes(self) -> bytes:
        encoded = self._encoded
        if encoded is None:
            w = Writer()
            self._encode_fields(w)
            encoded = w.getvalue()
            object.__setattr__(self, "_encoded", encoded)
        return encoded

    def encode(self, w: Writer) -> None:
        w.fixed(self.to_bytes())

    def _encode_fields(self, w: Writer) -> None:
        w.uint16(self.version)
        w.uint16(self.cipher_suite)
        w.opaque(self.group_id)
        w.uint64(self.epoch)
        w.opaque(self.tree_hash)
        w.opaque(self.confirmed_transcript_hash)
        write_extensions(w, self.extensions)

    @classmethod
    def decode(cls, r: Reader) -> GroupContext:
        version = r.uint16()
        if version != MLS10:
            raise r.error(f"unsupported protocol version {version}")
        return cls(
            cipher_suite=r.uint16(),
            group_id=r.opaque(),
            epoch=r.uint64(),
            tree_hash=r.opaque(),
            confirmed_transcript_hash=r.opaque(),
            extensions=read_extensions(r),
            version=version,
        )
