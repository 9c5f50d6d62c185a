"""Credentials (RFC 9420 §5.3).

Only the two credential types of the RFC can be decoded: the body of a
credential is not length-delimited, so a credential of any other type cannot be
skipped and is refused with :class:`~cove.protocol.errors.DecodeError`.
Credential types *listed* elsewhere (``Capabilities.credentials``,
``RequiredCapabilities.credential_types``) are plain ``int`` values and
round-trip whatever they are.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from ..codec import Reader, Struct, Writer, read_opaque_item, write_opaque_item
from ..errors import UsageError


class CredentialType(IntEnum):
    """IANA "MLS Credential Types" registry (§17.5): the decodable ones."""

    BASIC = 0x0001
    X509 = 0x0002


@dataclass(frozen=True, slots=True)
class Credential(Struct):
    """::

        struct {
            opaque cert_data<V>;
        } Certificate;

        struct {
            CredentialType credential_type;
            select (Credential.credential_type) {
                case basic:
                    opaque identity<V>;
                case x509:
                    Certificate certificates<V>;
            };
        } Credential;

    A basic credential carries ``identity`` (and no certificates); an X.509
    credential carries ``certificates``, each the ``cert_data`` of one
    ``Certificate`` (leaf first), and an empty ``identity``. Build them with
    :meth:`basic` and :meth:`x509`.
    """

    credential_type: CredentialType
    identity: bytes = b""
    certificates: tuple[bytes, ...] = ()

    def __post_init__(self) -> None:
        if self.credential_type == CredentialType.BASIC:
            if self.certificates:
                raise UsageError("a basic credential has no certificates")
        elif self.credential_type == CredentialType.X509:
            if self.identity:
                raise UsageError("an x509 credential carries certificates, not an identity")
        else:
            raise UsageError(f"credential type {self.credential_type} cannot be encoded")

    @classmethod
    def basic(cls, identity: bytes) -> Credential:
        """A ``basic`` credential for ``identity``."""
        return cls(CredentialType.BASIC, identity=identity)

    @classmethod
    def x509(cls, certificates: tuple[bytes, ...]) -> Credential:
        """An ``x509`` credential: DER certificates, the end-entity one first."""
        return cls(CredentialType.X509, certificates=tuple(certificates))

    @property
    def is_basic(self) -> bool:
        return self.credential_type == CredentialType.BASIC

    def encode(self, w: Writer) -> None:
        w.uint16(self.credential_type)
        if self.credential_type == CredentialType.BASIC:
            w.opaque(self.identity)
        else:
            w.vector(self.certificates, write_opaque_item)

    @classmethod
    def decode(cls, r: Reader) -> Credential:
        credential_type = r.uint16()
        if credential_type == CredentialType.BASIC:
            return cls(CredentialType.BASIC, identity=r.opaque())
        if credential_type == CredentialType.X509:
            return cls(CredentialType.X509, certificates=tuple(r.vector(read_opaque_item)))
        raise r.error(f"unknown credential type {credential_type}")


__all__ = ["Credential", "CredentialType"]
