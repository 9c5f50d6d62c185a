"""The moderators' intake key, derived from a moderators-only MLS group's exporter."""

from __future__ import annotations

import pytest

from cove.protocol.crypto import SeededRandom
from cove.protocol.errors import UsageError
from cove.protocol.invites import (
    INVITE_SUITE,
    IntakeKey,
    derive_intake_key,
    intake_exporter_context,
)
from cove.protocol.invites.intake import INTAKE_EXPORTER_LABEL
from cove.protocol.mls.credentials import Credential
from cove.protocol.mls.group import Group
from cove.protocol.mls.key_package_bundle import KeyPackageBundle

from .helpers import GROUP_ID, NOW


def key_of(group: Group, generation: int) -> bytes:
    value = group.export_secret(
        INTAKE_EXPORTER_LABEL, intake_exporter_context(GROUP_ID, generation), 32
    )
    return derive_intake_key(value, generation).public_key


def test_every_moderator_derives_the_same_key_and_a_new_moderator_set_a_new_one() -> None:
    rng = SeededRandom("moderators' room")
    ana = Group.create(1, b"mods of " + GROUP_ID, Credential.basic(b"ana"), rng, now=NOW)
    ben = KeyPackageBundle.create(1, Credential.basic(b"ben"), rng, now=NOW)
    out = ana.add([ben.key_package], now=NOW)
    ana.apply_pending_commit()
    assert out.welcome is not None
    ben_group = Group.join(out.welcome, ben, rng, ratchet_tree=ana.ratchet_tree())
    assert key_of(ana, 1) == key_of(ben_group, 1)
    assert key_of(ana, 1) != key_of(ana, 2)  # the generation is part of the context
    # removing ben: a new epoch, a new generation he cannot compute
    generation_1 = key_of(ana, 1)
    ana.remove([1])
    ana.apply_pending_commit()
    assert key_of(ana, 2) != generation_1
    # what the main group's join settings publish
    pair = derive_intake_key(bytes(32), 7)
    assert pair.public == IntakeKey(7, pair.public_key)
    assert INVITE_SUITE.kem_public_key(pair.private_key) == pair.public_key
    assert "hidden" in repr(pair) and pair.private_key.hex() not in repr(pair)


def test_misuse() -> None:
    with pytest.raises(UsageError, match="32 bytes"):
        derive_intake_key(b"short", 1)
    with pytest.raises(UsageError, match="generation"):
        derive_intake_key(bytes(32), -1)
    with pytest.raises(UsageError, match="generation"):
        intake_exporter_context(GROUP_ID, 1 << 32)
    assert (
        intake_exporter_context(GROUP_ID, 1)
        == bytes([len(GROUP_ID)]) + GROUP_ID + b"\x00\x00\x00\x01"
    )
