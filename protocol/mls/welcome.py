"""Joining a group: GroupInfo, GroupSecrets and Welcome (RFC 9420 §12.4.3).

:meth:`GroupInfo.tbs` gives the ``GroupInfoTBS`` bytes the signer signs.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..codec import Reader, Struct, Writer
from .commit import HPKECiphertext
from .extensions import Extension, read_extensions, write_extensions
from .group_context import GroupContext
from .psk import PreSharedKeyID


@dataclass(frozen=True, slots=True)
class GroupInfo(Struct):
    """::

    struct {
        GroupContext group_context;
        Extension extensions<V>;
        MAC confirmation_tag;
        uint32 signer;
        /* SignWithLabel(., "GroupInfoTBS", GroupInfoTBS) */
        opaque signature<V>;
    } GroupInfo;
    """

    group_context: GroupContext
    extensions: tuple[Extension, ...]
    confirmation_tag: bytes
    signer: int
    signature: bytes = b""

    def _encode_content(self, w: Writer) -> None:
        self.group_context.encode(w)
        write_extensions(w, self.extensions)
        w.opaque(self.confirmation_tag)
        w.uint32(self.signer)

    def encode(self, w: Writer) -> None:
        self._encode_content(w)
        w.opaque(self.signature)

    @classmethod
    def decode(cls, r: Reader) -> GroupInfo:
        return cls(
            group_context=GroupContext.decode(r),
            extensions=read_extensions(r),
            confirmation_tag=r.opaque(),
            signer=r.uint32(),
            signature=r.opaque(),
        )

    def tbs(self) -> bytes:
        """The ``GroupInfoTBS`` bytes: every field but ``signature``."""
        w = Writer()
        self._encode_content(w)
        return w.getvalue()


@dataclass(frozen=True, slots=True, repr=False)
class PathSecret(Struct):
    """``struct { opaque path_secret<V>; } PathSecret;`` (secret: the repr is redacted)"""

    path_secret: bytes

    def __repr__(self) -> str:
        return "PathSecret(<redacted>)"

    def encode(self, w: Writer) -> None:
        w.opaque(self.path_secret)

    @classmethod
    def decode(cls, r: Reader) -> PathSecret:
        return cls(r.opaque())


@dataclass(frozen=True, slots=True, repr=False)
class GroupSecrets(Struct):
    """::

    struct {
      opaque joiner_secret<V>;
      optional<PathSecret> path_secret;
      PreSharedKeyID psks<V>;
    } GroupSecrets;
    """

    joiner_secret: bytes
    path_secret: PathSecret | None = None
    psks: tuple[PreSharedKeyID, ...] = ()

    def __repr__(self) -> str:
        path = "<redacted>" if self.path_secret is not None else None
        return f"GroupSecrets(joiner_secret=<redacted>, path_secret={path}, psks={len(self.psks)})"

    def encode(self, w: Writer) -> None:
        w.opaque(self.joiner_secret)
        w.optional(self.path_secret, Writer.struct)
        w.vector(self.psks, Writer.struct)

    @classmethod
    def decode(cls, r: Reader) -> GroupSecrets:
        return cls(
            r.opaque(),
            r.optional(PathSecret.decode),
            tuple(r.vector(PreSharedKeyID.decode)),
        )


@dataclass(frozen=True, slots=True)
class EncryptedGroupSecrets(Struct):
    """::

    struct {
      KeyPackageRef new_member;
      HPKECiphertext encrypted_group_secrets;
    } EncryptedGroupSecrets;
    """

    new_member: bytes
    encrypted_group_secrets: HPKECiphertext

    def encode(self, w: Writer) -> None:
        w.opaque(self.new_member)
        self.encrypted_group_secrets.encode(w)

    @classmethod
    def decode(cls, r: Reader) -> EncryptedGroupSecrets:
        return cls(r.opaque(), HPKECiphertext.decode(r))


@dataclass(frozen=True, slots=True)
class Welcome(Struct):
    """::

    struct {
      CipherSuite cipher_suite;
      EncryptedGroupSecrets secrets<V>;
      opaque encrypted_group_info<V>;
    } Welcome;
    """

    cipher_suite: int
    secrets: tuple[EncryptedGroupSecrets, ...]
    encrypted_group_info: bytes

    def encode(self, w: Writer) -> None:
        w.uint16(self.cipher_suite)
        w.vector(self.secrets, Writer.struct)
        w.opaque(self.encrypted_group_info)

    @classmethod
    def decode(cls, r: Reader) -> Welcome:
        return cls(r.uint16(), tuple(r.vector(EncryptedGroupSecrets.decode)), r.opaque())


__all__ = ["EncryptedGroupSecrets", "GroupInfo", "GroupSecrets", "PathSecret", "Welcome"]
