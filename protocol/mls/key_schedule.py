"""The epoch key schedule (RFC 9420 §8, §8.1, §8.3–§8.5, §8.7).

::

                     init_secret_[n-1]
                           |
                           V
      commit_secret --> KDF.Extract
                           |
                           V
                   ExpandWithLabel(., "joiner", GroupContext_[n], KDF.Nh)
                           |
                           V
                      joiner_secret
                           |
                           V
    psk_secret (or 0) --> KDF.Extract
                           |
                           +--> DeriveSecret(., "welcome") = welcome_secret
                           |
                           V
                   ExpandWithLabel(., "epoch", GroupContext_[n], KDF.Nh)
                           |
                           V
                      epoch_secret
                           |
                           +--> DeriveSecret(., <label>) = <secret>   (§8 table 4:
                           |      "sender data", "encryption", "exporter", "external",
                           |      "confirm", "membership", "resumption", "authentication")
                           |
                           V
                     DeriveSecret(., "init")
                           |
                           V
                     init_secret_[n]

Every value derived here is secret except ``external_pub``; the classes holding
them redact their ``repr``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..crypto import Suite
from ..crypto.labels import derive_secret, expand_with_label
from ..errors import UsageError


def zeros(suite: Suite) -> bytes:
    """The all-zero string of length KDF.Nh (the "0" of §8)."""
    return bytes(suite.hash_length)


@dataclass(frozen=True, slots=True, repr=False)
class EpochSecrets:
    """The secrets of one epoch (§8). ``init_secret`` seeds the next epoch."""

    suite: Suite
    joiner_secret: bytes
    welcome_secret: bytes
    epoch_secret: bytes
    sender_data_secret: bytes
    encryption_secret: bytes
    exporter_secret: bytes
    external_secret: bytes
    confirmation_key: bytes
    membership_key: bytes
    resumption_psk: bytes
    epoch_authenticator: bytes
    init_secret: bytes

    def __repr__(self) -> str:
        return f"EpochSecrets(suite={self.suite.suite_id}, <redacted>)"

    @property
    def external_pub(self) -> bytes:
        """``KEM.DeriveKeyPair(external_secret)``'s public key (§8.3)."""
        return self.external_key_pair()[1]

    def external_key_pair(self) -> tuple[bytes, bytes]:
        """(private, public) of the external HPKE key pair (§8.3)."""
        return self.suite.derive_key_pair(self.external_secret)

    def exporter(self, label: bytes, context: bytes, length: int) -> bytes:
        """MLS-Exporter(Label, Context, Length) (§8.5)."""
        return mls_exporter(self.suite, self.exporter_secret, label, context, length)


def joiner_secret(
    suite: Suite, init_secret: bytes, commit_secret: bytes, group_context: bytes
) -> bytes:
    """joiner_secret from the previous init_secret, the commit secret and the new GroupContext."""
    prk = suite.kdf_extract(init_secret, commit_secret)
    return expand_with_label(suite, prk, b"joiner", group_context, suite.hash_length)


def epoch_secrets_from_joiner(
    suite: Suite, joiner: bytes, psk_secret: bytes | None, group_context: bytes
) -> EpochSecrets:
    """Everything below joiner_secret; a new member starts here from its Welcome."""
    member_prk = suite.kdf_extract(joiner, psk_secret if psk_secret is not None else zeros(suite))
    welcome = derive_secret(suite, member_prk, b"welcome")
    epoch = expand_with_label(suite, member_prk, b"epoch", group_context, suite.hash_length)
    return EpochSecrets(
        suite=suite,
        joiner_secret=joiner,
        welcome_secret=welcome,
        epoch_secret=epoch,
        sender_data_secret=derive_secret(suite, epoch, b"sender data"),
        encryption_secret=derive_secret(suite, epoch, b"encryption"),
        exporter_secret=derive_secret(suite, epoch, b"exporter"),
        external_secret=derive_secret(suite, epoch, b"external"),
        confirmation_key=derive_secret(suite, epoch, b"confirm"),
        membership_key=derive_secret(suite, epoch, b"membership"),
        resumption_psk=derive_secret(suite, epoch, b"resumption"),
        epoch_authenticator=derive_secret(suite, epoch, b"authentication"),
        init_secret=derive_secret(suite, epoch, b"init"),
    )


def epoch_secrets(
    suite: Suite,
    init_secret: bytes,
    commit_secret: bytes | None,
    psk_secret: bytes | None,
    group_context: bytes,
) -> EpochSecrets:
    """The full schedule for an epoch; ``None`` stands for the all-zero secret."""
    joiner = joiner_secret(
        suite,
        init_secret,
        commit_secret if commit_secret is not None else zeros(suite),
        group_context,
    )
    return epoch_secrets_from_joiner(suite, joiner, psk_secret, group_context)


def welcome_key_nonce(suite: Suite, welcome_secret: bytes) -> tuple[bytes, bytes]:
    """Key and nonce that encrypt the GroupInfo of a Welcome (§12.4.3.1)."""
    return (
        expand_with_label(suite, welcome_secret, b"key", b"", suite.aead_key_length),
        expand_with_label(suite, welcome_secret, b"nonce", b"", suite.aead_nonce_length),
    )


def mls_exporter(
    suite: Suite, exporter_secret: bytes, label: bytes, context: bytes, length: int
) -> bytes:
    """MLS-Exporter (§8.5): ExpandWithLabel(DeriveSecret(exporter_secret, Label),
    "exported", Hash(Context), Length)."""
    secret = derive_secret(suite, exporter_secret, label)
    return expand_with_label(suite, secret, b"exported", suite.hash(context), length)


def psk_secret(suite: Suite, psks: Sequence[tuple[bytes, bytes]]) -> bytes:
    """Fold pre-shared keys into psk_secret (§8.4).

    ``psks`` lists ``(encoded PreSharedKeyID, psk value)`` in the order of the
    proposals. With no PSK the result is the all-zero string.

    ::

        psk_extracted_[i] = KDF.Extract(0, psk_[i])
        psk_input_[i]     = ExpandWithLabel(psk_extracted_[i], "derived psk", PSKLabel, KDF.Nh)
        psk_secret_[i]    = KDF.Extract(psk_input_[i], psk_secret_[i-1])
        PSKLabel          = struct { PreSharedKeyID id; uint16 index; uint16 count; }
    """
    count = len(psks)
    if count > 0xFFFF:
        raise UsageError("too many PSKs")
    secret = zeros(suite)
    for index, (psk_id, psk) in enumerate(psks):
        extracted = suite.kdf_extract(zeros(suite), psk)
        label = psk_id + index.to_bytes(2, "big") + count.to_bytes(2, "big")
        psk_input = expand_with_label(suite, extracted, b"derived psk", label, suite.hash_length)
        secret = suite.kdf_extract(psk_input, secret)
    return secret
