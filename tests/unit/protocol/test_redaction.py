"""Secret-bearing protocol types redact their repr (issue 10 item 6): no secret
shows in any encoding (hex, repr of bytes, base64)."""

from __future__ import annotations

from cove.protocol.crypto import SeededRandom
from cove.protocol.mls.framing import (
    FramedContent,
    FramedContentAuthData,
    PrivateMessageContent,
    Sender,
)
from cove.protocol.mls.group import ApplicationMessage, EpochKeys
from cove.protocol.mls.group.epoch import EPOCH_KEY_NAMES, PastEpoch
from cove.protocol.mls.key_schedule import epoch_secrets
from cove.protocol.mls.psk import ExternalPSK, PreSharedKeyID
from cove.protocol.mls.welcome import GroupSecrets, PathSecret
from tests.support.secrets import assert_redacted, probe_can_fail
from tests.unit.protocol.test_group import bundle, make_group

RNG = SeededRandom(b"redaction")
JOINER = RNG.random_bytes(32)
PATH = RNG.random_bytes(32)


def test_probe() -> None:
    probe_can_fail()


def test_group_secrets_and_path_secret() -> None:
    psk = PreSharedKeyID(ExternalPSK(b"psk-id"), RNG.random_bytes(32))
    gs = GroupSecrets(JOINER, PathSecret(PATH), (psk,))
    for text in (repr(gs), str(gs), repr(PathSecret(PATH)), repr([gs])):
        assert_redacted(text, {"joiner_secret": JOINER, "path_secret": PATH})
    assert "GroupSecrets" in repr(gs) and "PathSecret" in repr(PathSecret(PATH))


def test_epoch_secrets_and_epoch_keys() -> None:
    groups, _ = make_group(1)
    suite = groups[0].suite
    s = epoch_secrets(suite, RNG.random_bytes(32), RNG.random_bytes(32), None, b"ctx")
    keys = EpochKeys.from_schedule(s)
    secrets = {name: getattr(s, name) for name in EPOCH_KEY_NAMES}
    secrets |= {"joiner": s.joiner_secret, "encryption": s.encryption_secret}
    assert_redacted(repr(s), secrets)
    assert_redacted(repr(keys), secrets)


def test_group_and_its_state_objects() -> None:
    groups, rng = make_group(3)
    a, b, _ = groups
    b.process(a.encrypt(b"a late one"))
    out = b.update()  # a pending commit, with its own epoch's secrets
    assert out.welcome is None
    ep, pending = b._epoch, b._pending
    assert pending is not None
    secrets = {f"epoch.{n}": getattr(ep.secrets, n) for n in EPOCH_KEY_NAMES}
    secrets |= {f"pending.{n}": getattr(pending.epoch.secrets, n) for n in EPOCH_KEY_NAMES}
    secrets["signature_private"] = b._signature_private
    for node, key in ep.keys.keys.items():
        secrets[f"tree key {node}"] = key
    for text in (
        repr(b),
        repr(ep),
        repr(pending),
        repr(PastEpoch.of(ep)),
        repr(ep.secret_tree),
        repr(ep.keys),
        repr(out),
        repr(bundle("x", rng)),
    ):
        assert_redacted(text, secrets)


def test_plaintext_is_not_in_reprs() -> None:
    groups, _ = make_group(2)
    a, b = groups
    plain = b"my diagnosis came back today"
    got = b.process(a.encrypt(plain))
    assert isinstance(got, ApplicationMessage)
    content = FramedContent(a.group_id, 0, Sender.member(0), b"", plain)
    private = PrivateMessageContent(plain, FramedContentAuthData(b"s" * 64, None))
    for text in (repr(got), repr(content), repr(private)):
        assert_redacted(text, {"plaintext": plain})
    assert f"{len(plain)} bytes" in repr(got)
