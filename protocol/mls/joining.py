"""The cryptography of joining a group (RFC 9420 §12.4.3, §8.3, §10.2).

::

    committer                                           new member
    GroupSecrets --EncryptWithLabel(init_key, "Welcome",
                     encrypted_group_info)-----------> DecryptWithLabel(init_priv, ...)
    GroupInfo --SignWithLabel("GroupInfoTBS")
              --AEAD(welcome_key, welcome_nonce)-----> decrypt, verify signer's signature

    welcome_secret = DeriveSecret(KDF.Extract(joiner_secret, psk_secret), "welcome")
    welcome_key    = ExpandWithLabel(welcome_secret, "key",   "", AEAD.Nk)
    welcome_nonce  = ExpandWithLabel(welcome_secret, "nonce", "", AEAD.Nn)

An external joiner derives the new epoch's ``init_secret`` from the group's
``external_pub`` (§8.3): ``SetupBaseS(external_pub, "")`` gives ``kem_output``
(sent in the ExternalInit proposal) and a context whose
``Export("MLS 1.0 external init secret", KDF.Nh)`` is the init secret; members
compute the same with ``SetupBaseR`` and the external private key.
"""

from __future__ import annotations

from dataclasses import replace

from ..crypto import RandomProvider, Suite
from ..crypto.labels import (
    decrypt_with_label,
    derive_secret,
    encrypt_with_label,
    ref_hash,
    sign_with_label,
    verify_with_label,
)
from ..errors import StateError
from .commit import HPKECiphertext
from .key_package import KEY_PACKAGE_REF_LABEL, KeyPackage
from .key_schedule import welcome_key_nonce, zeros
from .welcome import EncryptedGroupSecrets, GroupInfo, GroupSecrets, Welcome

WELCOME_LABEL = b"Welcome"
GROUP_INFO_LABEL = b"GroupInfoTBS"
EXTERNAL_INIT_LABEL = b"MLS 1.0 external init secret"


def key_package_ref(suite: Suite, key_package: KeyPackage) -> bytes:
    """KeyPackageRef = RefHash("MLS 1.0 KeyPackage Reference", KeyPackage) (§5.2)."""
    return ref_hash(suite, KEY_PACKAGE_REF_LABEL, key_package.to_bytes())


def welcome_secret(suite: Suite, joiner_secret: bytes, psk_secret: bytes | None) -> bytes:
    prk = suite.kdf_extract(joiner_secret, psk_secret if psk_secret is not None else zeros(suite))
    return derive_secret(suite, prk, b"welcome")


# -- GroupInfo ----------------------------------------------------------------


def sign_group_info(suite: Suite, info: GroupInfo, signature_private: bytes) -> GroupInfo:
    return replace(
        info, signature=sign_with_label(suite, signature_private, GROUP_INFO_LABEL, info.tbs())
    )


def verify_group_info(suite: Suite, info: GroupInfo, signer_public: bytes) -> None:
    """Rule V-WELCOME-003: the GroupInfo signature verifies under the signer's key."""
    verify_with_label(suite, signer_public, GROUP_INFO_LABEL, info.tbs(), info.signature)


def encrypt_group_info(suite: Suite, welcome_secret_: bytes, info: GroupInfo) -> bytes:
    key, nonce = welcome_key_nonce(suite, welcome_secret_)
    return suite.aead_encrypt(key, nonce, b"", info.to_bytes())


def decrypt_group_info(suite: Suite, welcome_secret_: bytes, encrypted: bytes) -> GroupInfo:
    key, nonce = welcome_key_nonce(suite, welcome_secret_)
    return GroupInfo.from_bytes(suite.aead_decrypt(key, nonce, b"", encrypted))


# -- GroupSecrets ---------------------------------------------------------------


def encrypt_group_secrets(
    suite: Suite,
    key_package: KeyPackage,
    encrypted_group_info: bytes,
    secrets: GroupSecrets,
    rng: RandomProvider,
) -> EncryptedGroupSecrets:
    kem_output, ciphertext = encrypt_with_label(
        suite, key_package.init_key, WELCOME_LABEL, encrypted_group_info, secrets.to_bytes(), rng
    )
    return EncryptedGroupSecrets(
        key_package_ref(suite, key_package), HPKECiphertext(kem_output, ciphertext)
    )


def find_group_secrets(welcome: Welcome, ref: bytes) -> EncryptedGroupSecrets:
    """Rule V-WELCOME-001: the Welcome has an entry for our KeyPackage."""
    for entry in welcome.secrets:
        if entry.new_member == ref:
            return entry
    raise StateError("this Welcome is not for any of our KeyPackages")


def decrypt_group_secrets(
    suite: Suite, welcome: Welcome, entry: EncryptedGroupSecrets, init_private: bytes
) -> GroupSecrets:
    ct = entry.encrypted_group_secrets
    plain = decrypt_with_label(
        suite,
        init_private,
        WELCOME_LABEL,
        welcome.encrypted_group_info,
        ct.kem_output,
        ct.ciphertext,
    )
    return GroupSecrets.from_bytes(plain)


# -- external init (§8.3) ------------------------------------------------------


def external_init_sender(
    suite: Suite, external_pub: bytes, rng: RandomProvider
) -> tuple[bytes, bytes]:
    """(kem_output, init_secret) for an external joiner."""
    kem_output, ctx = suite.hpke_setup_sender(external_pub, b"", rng)
    return kem_output, ctx.export(EXTERNAL_INIT_LABEL, suite.hash_length)


def external_init_receiver(suite: Suite, external_private: bytes, kem_output: bytes) -> bytes:
    """init_secret of an external commit, as computed by a member."""
    ctx = suite.hpke_setup_receiver(external_private, kem_output, b"")
    return ctx.export(EXTERNAL_INIT_LABEL, suite.hash_length)
