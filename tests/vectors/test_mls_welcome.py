"""Runner for welcome.json (RFC 9420 §12.4.3.1, §5.1.3, §8).

Format: per case ``cipher_suite``, ``init_priv`` (the new member's HPKE init
private key), ``signer_pub`` (the committer's signature key), ``key_package``
and ``welcome`` (both MLSMessages). We find our entry in the Welcome by
KeyPackageRef, decrypt the GroupSecrets, derive the welcome key and nonce,
decrypt the GroupInfo, verify its signature, run the key schedule from the
joiner secret (no PSKs) with the GroupInfo's GroupContext and check the
GroupInfo's confirmation tag.
"""

from __future__ import annotations

from typing import Any

import pytest

from cove.protocol.crypto import SeededRandom, suite_for
from cove.protocol.errors import CryptoError, StateError
from cove.protocol.mls.framing import MLSMessage
from cove.protocol.mls.joining import (
    decrypt_group_info,
    decrypt_group_secrets,
    find_group_secrets,
    key_package_ref,
    verify_group_info,
    welcome_secret,
)
from cove.protocol.mls.key_package import KeyPackage
from cove.protocol.mls.key_schedule import epoch_secrets_from_joiner
from cove.protocol.mls.transcript import verify_confirmation_tag
from cove.protocol.mls.welcome import Welcome
from tests.support.vectors import cases, h


@pytest.mark.vectors
@pytest.mark.parametrize("case", cases("welcome.json"))
def test_welcome(case: dict[str, Any]) -> None:
    suite = suite_for(case["cipher_suite"])
    kp = MLSMessage.from_bytes(h(case["key_package"])).body
    welcome = MLSMessage.from_bytes(h(case["welcome"])).body
    assert isinstance(kp, KeyPackage) and isinstance(welcome, Welcome)

    entry = find_group_secrets(welcome, key_package_ref(suite, kp))
    secrets = decrypt_group_secrets(suite, welcome, entry, h(case["init_priv"]))
    assert secrets.psks == ()
    ws = welcome_secret(suite, secrets.joiner_secret, None)
    info = decrypt_group_info(suite, ws, welcome.encrypted_group_info)
    verify_group_info(suite, info, h(case["signer_pub"]))

    ctx = info.group_context
    epoch = epoch_secrets_from_joiner(suite, secrets.joiner_secret, None, ctx.to_bytes())
    verify_confirmation_tag(
        suite, epoch.confirmation_key, ctx.confirmed_transcript_hash, info.confirmation_tag
    )

    # Negative: a wrong init key, a wrong signer and an unknown KeyPackage are refused.
    with pytest.raises(CryptoError):
        decrypt_group_secrets(suite, welcome, entry, suite.derive_key_pair(b"x" * 32)[0])
    with pytest.raises(StateError):
        find_group_secrets(welcome, b"\x00" * len(entry.new_member))
    _, stranger = suite.generate_signature_key_pair(SeededRandom(b"stranger"))
    with pytest.raises(CryptoError):
        verify_group_info(suite, info, stranger)
