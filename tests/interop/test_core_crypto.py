"""On-the-wire interop with Wire's CoreCrypto (OpenMLS), cipher suite 1, basic credentials.

Cove (this process) and CoreCrypto (``@wireapp/core-crypto``, its WASM build run by
Node through ``core_crypto_harness.mjs``) exchange real MLS bytes: KeyPackages,
Welcomes, GroupInfos, external commits, Commits and proposals (as PublicMessage: that is
all CoreCrypto accepts for handshake messages) and application PrivateMessages, each side
accepting what the other produced. docs/protocol/interop.md has the results.

The harness speaks newline-delimited JSON over stdin/stdout, bytes as hex:

    -> {"id": 7, "op": "encrypt", "client": "bob", "group_id": "…", "data": "…"}
    <- {"id": 7, "ok": true, "result": {"message": "…"}}
    <- {"id": 7, "ok": false, "error": "…"}            (on failure)

The ops and their arguments are listed at the top of ``core_crypto_harness.mjs``.
Every call has a timeout (:data:`CALL_TIMEOUT`); the harness refuses any network
access, and Cove's side here is in-process, so nothing leaves this machine.

Set-up: if ``tests/interop/node_modules`` is missing the module runs ``npm ci`` there
(the only network use: the npm registry). Without node or npm the tests fail under
``CI=true`` and are skipped otherwise. ``COVE_INTEROP_DEBUG=1`` sends CoreCrypto's
log to stderr. ``COVE_INTEROP_SEED``, ``COVE_INTEROP_STEPS`` and
``COVE_INTEROP_MAX_MEMBERS`` change the seeded run of :func:`test_mixed_group_many_epochs`
(defaults 9420, 40, 8) for longer explorations.
"""

from __future__ import annotations

import json
import os
import queue
import random
import shutil
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cove.protocol.crypto import OsRandom
from cove.protocol.mls.credentials import Credential
from cove.protocol.mls.framing import MLSMessage, WireFormat
from cove.protocol.mls.group import (
    ApplicationMessage,
    AppliedCommit,
    Group,
    GroupConfig,
    ProposalMessage,
)
from cove.protocol.mls.key_package import KeyPackage
from cove.protocol.mls.key_package_bundle import KeyPackageBundle
from cove.protocol.mls.leaf_node import Capabilities
from cove.protocol.mls.validation import required_capabilities
from cove.protocol.mls.welcome import GroupInfo
from tests.support.ci import IN_CI

pytestmark = pytest.mark.interop

HERE = Path(__file__).resolve().parent
HARNESS = HERE / "core_crypto_harness.mjs"
CORE_CRYPTO_VERSION = "10.3.0"
SUITE = 1
#: Seconds for one request to the harness; the first (WASM start-up) gets START_TIMEOUT.
CALL_TIMEOUT = 30.0
START_TIMEOUT = 60.0
INSTALL_TIMEOUT = 300.0
#: CoreCrypto's exporter: MLS-Exporter("exporter", "", length) (see harness "export").
EXPORTER_LABEL = b"exporter"
#: RFC 9420 §6: MLSMessage = version mls10 (0x0001) || wire_format || body.
MLS10 = b"\x00\x01"

HANDSHAKE_FORMATS = {
    "public": WireFormat.PUBLIC_MESSAGE,
    "private": WireFormat.PRIVATE_MESSAGE,
}


# -- harness process -----------------------------------------------------------------


class HarnessError(RuntimeError):
    """CoreCrypto refused a request; the message is its error."""


def _unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"interop test cannot run under CI=true: {reason}", pytrace=False)
    pytest.skip(reason)


def _ensure_installed() -> tuple[str, str]:
    node = shutil.which("node")
    npm = shutil.which("npm")
    if node is None or npm is None:
        _unavailable("node and npm are needed to run the CoreCrypto interop harness")
    assert node is not None and npm is not None
    if not (HERE / "node_modules" / "@wireapp" / "core-crypto" / "package.json").exists():
        cmd = [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"]
        try:
            done = subprocess.run(
                cmd, cwd=HERE, capture_output=True, text=True, timeout=INSTALL_TIMEOUT
            )
        except subprocess.TimeoutExpired:
            _unavailable(f"`npm ci` in {HERE} took more than {INSTALL_TIMEOUT:.0f}s")
        if done.returncode != 0:
            _unavailable(f"`npm ci` in {HERE} failed:\n{done.stdout}\n{done.stderr}")
    return node, npm


class Harness:
    """The Node process; :meth:`call` sends one request and waits for its answer."""

    def __init__(self, node: str) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("npm_")}
        self.proc = subprocess.Popen(
            [node, str(HARNESS)],
            cwd=HERE,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            bufsize=1,
            env=env,
        )
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._stderr: list[str] = []
        self._next_id = 0
        threading.Thread(target=self._read_stdout, daemon=True).start()
        threading.Thread(target=self._read_stderr, daemon=True).start()

    def _read_stdout(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self._stderr.append(line)

    def stderr_tail(self) -> str:
        return "".join(self._stderr[-40:])

    def call(self, op: str, timeout: float = CALL_TIMEOUT, **args: Any) -> dict[str, Any]:
        self._next_id += 1
        req = {"id": self._next_id, "op": op, **args}
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(json.dumps(req) + "\n")
            self.proc.stdin.flush()
        except BrokenPipeError as e:
            raise RuntimeError(f"harness exited:\n{self.stderr_tail()}") from e
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            raise RuntimeError(f"harness gave no answer to {op!r} within {timeout}s") from None
        if line is None:
            raise RuntimeError(f"harness exited during {op!r}:\n{self.stderr_tail()}")
        resp = json.loads(line)
        assert resp["id"] == req["id"], (resp, req)
        if not resp["ok"]:
            raise HarnessError(f"{op}: {resp['error']}")
        result: dict[str, Any] = resp["result"]
        return result

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.call("quit", timeout=5)
                self.proc.wait(timeout=5)
            except (RuntimeError, subprocess.TimeoutExpired, OSError):
                self.proc.kill()
                self.proc.wait(timeout=5)


@pytest.fixture(scope="module")
def cc() -> Iterator[CoreCrypto]:
    node, _ = _ensure_installed()
    h = Harness(node)
    try:
        info = h.call("version", timeout=START_TIMEOUT)
        assert info["version"] == CORE_CRYPTO_VERSION, info
        yield CoreCrypto(h)
    finally:
        h.close()


# -- typed wrapper over the harness ---------------------------------------------------


class CoreCrypto:
    """CoreCrypto clients in the harness; bytes in, bytes out."""

    def __init__(self, h: Harness) -> None:
        self.h = h
        self._n = 0

    def client(self, prefix: str) -> CcClient:
        self._n += 1
        name = f"{prefix}{self._n}"
        r = self.h.call("init", client=name)
        return CcClient(self.h, name, bytes.fromhex(r["client_id"]))


class CcClient:
    def __init__(self, h: Harness, name: str, client_id: bytes) -> None:
        self.h = h
        self.name = name
        self.client_id = client_id

    def _call(self, op: str, **args: Any) -> dict[str, Any]:
        return self.h.call(op, client=self.name, **args)

    def key_package(self) -> bytes:
        """As an MLSMessage (CoreCrypto hands out the bare KeyPackage struct)."""
        bare = bytes.fromhex(self._call("key_package")["key_package"])
        return MLS10 + WireFormat.KEY_PACKAGE.to_bytes(2, "big") + bare

    def create(self, group_id: bytes) -> None:
        self._call("create", group_id=group_id.hex())

    def add(self, group_id: bytes, key_packages: list[bytes]) -> Bundle:
        bare = [_strip(kp, WireFormat.KEY_PACKAGE).hex() for kp in key_packages]
        return Bundle(self._call("add", group_id=group_id.hex(), key_packages=bare))

    def update(self, group_id: bytes) -> Bundle:
        return Bundle(self._call("update", group_id=group_id.hex()))

    def remove(self, group_id: bytes, client_ids: list[bytes]) -> Bundle:
        ids = [c.hex() for c in client_ids]
        return Bundle(self._call("remove", group_id=group_id.hex(), client_ids=ids))

    def commit_pending(self, group_id: bytes) -> Bundle:
        return Bundle(self._call("commit_pending", group_id=group_id.hex()))

    def join_welcome(self, welcome: bytes) -> bytes:
        return bytes.fromhex(self._call("join_welcome", welcome=welcome.hex())["group_id"])

    def join_external(self, group_info: bytes) -> tuple[bytes, Bundle]:
        """From a GroupInfo MLSMessage (CoreCrypto parses the bare GroupInfo struct)."""
        bare = _strip(group_info, WireFormat.GROUP_INFO)
        r = self._call("join_external", group_info=bare.hex())
        return bytes.fromhex(r["group_id"]), Bundle(r)

    def encrypt(self, group_id: bytes, data: bytes) -> bytes:
        r = self._call("encrypt", group_id=group_id.hex(), data=data.hex())
        return bytes.fromhex(r["message"])

    def decrypt(self, group_id: bytes, message: bytes) -> dict[str, Any]:
        return self._call("decrypt", group_id=group_id.hex(), message=message.hex())

    def epoch(self, group_id: bytes) -> int:
        return int(self._call("epoch", group_id=group_id.hex())["epoch"])

    def export(self, group_id: bytes, length: int = 32) -> bytes:
        r = self._call("export", group_id=group_id.hex(), length=length)
        return bytes.fromhex(r["secret"])

    def members(self, group_id: bytes) -> set[bytes]:
        r = self._call("members", group_id=group_id.hex())
        return {bytes.fromhex(x) for x in r["client_ids"]}


class Bundle:
    """A commit CoreCrypto made (and merged), with its Welcome and GroupInfo."""

    def __init__(self, r: dict[str, Any]) -> None:
        self.commit = bytes.fromhex(r["commit"])
        self.welcome = bytes.fromhex(r["welcome"]) if r["welcome"] else None
        self.group_info = bytes.fromhex(r["group_info"])
        self.ratchet_tree_type = int(r["ratchet_tree_type"])


def _strip(message: bytes, wire_format: WireFormat) -> bytes:
    head = MLS10 + wire_format.to_bytes(2, "big")
    assert message[:4] == head, f"not an MLSMessage of {wire_format.name}: {message[:4].hex()}"
    return message[4:]


def _wire_format(message: bytes) -> WireFormat:
    assert message[:2] == MLS10
    return WireFormat(int.from_bytes(message[2:4], "big"))


# -- Cove side -------------------------------------------------------------------------


def _now() -> int:
    return int(time.time())


def cove_identity(name: str) -> bytes:
    """A Wire-shaped client id (``<uuid>:<device hex>@<domain>``): CoreCrypto parses
    every member's basic identity as one (see :func:`test_plain_identity`)."""
    return f"{uuid.uuid4()}:{os.urandom(8).hex()}@cove.test/{name}".encode()


#: CoreCrypto's groups carry required_capabilities with credential types basic (1) and
#: x509 (2) (RFC 9420 §11.1), so a Cove leaf in such a group must list both.
CC_CAPABILITIES = Capabilities(
    versions=(1,), cipher_suites=(SUITE,), extensions=(), proposals=(), credentials=(1, 2)
)


def cove_bundle(name: str, capabilities: Capabilities | None = CC_CAPABILITIES) -> KeyPackageBundle:
    return KeyPackageBundle.create(
        SUITE,
        Credential.basic(cove_identity(name)),
        OsRandom(),
        now=_now(),
        capabilities=capabilities,
    )


def cove_group(name: str, group_id: bytes, handshake: str = "private") -> Group:
    return Group.create(
        SUITE,
        group_id,
        Credential.basic(cove_identity(name)),
        OsRandom(),
        now=_now(),
        config=GroupConfig(handshake_wire_format=HANDSHAKE_FORMATS[handshake]),
    )


def _gid() -> bytes:
    return os.urandom(16)


def assert_in_sync(group: Group, cc_client: CcClient) -> None:
    gid = group.group_id
    assert cc_client.epoch(gid) == group.epoch
    assert cc_client.export(gid, 32) == group.export_secret(EXPORTER_LABEL, b"", 32)
    assert cc_client.members(gid) == {m.identity for m in group.members()}


def exchange(group: Group, cc_client: CcClient, tag: str) -> None:
    """One application message each way; both decrypt the other's."""
    gid = group.group_id
    to_cc = f"from Cove: {tag}".encode()
    r = cc_client.decrypt(gid, group.encrypt(to_cc))
    assert r["kind"] == "application"
    assert bytes.fromhex(r["data"]) == to_cc
    assert bytes.fromhex(r["sender"]) == group.member(group.my_leaf_index).identity

    to_cove = f"from CoreCrypto: {tag}".encode()
    wire = cc_client.encrypt(gid, to_cove)
    assert _wire_format(wire) is WireFormat.PRIVATE_MESSAGE
    got = group.process(wire)
    assert isinstance(got, ApplicationMessage)
    assert got.data == to_cove
    assert got.sender.identity == cc_client.client_id


def cove_commit_to_cc(group: Group, out_commit: bytes, *receivers: CcClient) -> None:
    for r in receivers:
        got = r.decrypt(group.group_id, out_commit)
        assert got["kind"] == "commit", got


# -- scenarios -------------------------------------------------------------------------


def test_cove_creates_group_core_crypto_joins(cc: CoreCrypto) -> None:
    """Scenario 1: Cove adds two CoreCrypto clients from their KeyPackages in one commit;
    they join from Cove's Welcome (tree in the ratchet_tree extension); messages every
    way; then a Cove commit that both CoreCrypto clients process."""
    bob = cc.client("bob")
    carol = cc.client("carol")
    gid = _gid()
    alice = cove_group("alice", gid, "public")
    out = alice.add([bob.key_package(), carol.key_package()], now=_now())
    alice.apply_pending_commit()
    assert out.welcome is not None
    assert _wire_format(out.welcome) is WireFormat.WELCOME
    assert bob.join_welcome(out.welcome) == gid
    assert carol.join_welcome(out.welcome) == gid
    assert_in_sync(alice, bob)
    assert_in_sync(alice, carol)
    exchange(alice, bob, "hello bob")
    exchange(alice, carol, "hello carol")
    msg = bob.encrypt(gid, b"bob to all")
    assert bytes.fromhex(carol.decrypt(gid, msg)["data"]) == b"bob to all"
    got = alice.process(msg)
    assert isinstance(got, ApplicationMessage) and got.data == b"bob to all"

    out = alice.update()
    alice.apply_pending_commit()
    cove_commit_to_cc(alice, out.commit, bob, carol)
    assert_in_sync(alice, bob)
    assert_in_sync(alice, carol)
    exchange(alice, bob, "after alice's update")


def test_core_crypto_refuses_private_handshake(cc: CoreCrypto) -> None:
    """CoreCrypto 10.3 offers no wire-format setting: its groups accept handshake
    messages only as PublicMessage, so it refuses a Cove commit sent as PrivateMessage
    (a local policy, RFC 9420 §6; not a decoding failure). Cove's default is
    PrivateMessage; in groups with CoreCrypto members Cove must use PUBLIC_MESSAGE."""
    bob = cc.client("bob")
    gid = _gid()
    alice = cove_group("alice", gid, "private")
    out = alice.add([bob.key_package()], now=_now())
    alice.apply_pending_commit()
    assert out.welcome is not None
    bob.join_welcome(out.welcome)
    out = alice.update()
    assert _wire_format(out.commit) is WireFormat.PRIVATE_MESSAGE
    with pytest.raises(HarnessError, match="wire format policy"):
        bob.decrypt(gid, out.commit)
    # CoreCrypto's own commits are PublicMessage; Cove (which accepts both) follows.
    alice.discard_pending_commit()
    b = bob.update(gid)
    assert _wire_format(b.commit) is WireFormat.PUBLIC_MESSAGE
    assert isinstance(alice.process(b.commit), AppliedCommit)
    assert_in_sync(alice, bob)
    exchange(alice, bob, "after bob's update")


def test_core_crypto_creates_group_cove_joins(cc: CoreCrypto) -> None:
    """Scenario 2: CoreCrypto adds two Cove clients from their KeyPackages in one
    commit; both join from CoreCrypto's Welcome; messages every way."""
    bob = cc.client("bob")
    gid = _gid()
    bob.create(gid)
    akp, dkp = cove_bundle("alice"), cove_bundle("dave")
    b = bob.add(gid, [akp.key_package_bytes(), dkp.key_package_bytes()])
    assert b.welcome is not None
    assert _wire_format(b.welcome) is WireFormat.WELCOME
    alice = Group.join(b.welcome, akp, OsRandom())
    dave = Group.join(b.welcome, dkp, OsRandom())
    for g in (alice, dave):
        assert g.group_id == gid
        assert g.epoch == 1
        assert g.epoch_authenticator == alice.epoch_authenticator
        assert_in_sync(g, bob)
    exchange(alice, bob, "hello alice")
    exchange(dave, bob, "hello dave")
    got = dave.process(alice.encrypt(b"alice to all"))
    assert isinstance(got, ApplicationMessage) and got.data == b"alice to all"


def test_core_crypto_requires_x509_capability(cc: CoreCrypto) -> None:
    """CoreCrypto's groups require credential types basic and x509 (required_capabilities
    in the GroupContext), so it refuses a Cove KeyPackage that lists basic only, as
    RFC 9420 §12.1.1 says it must; Cove joins CoreCrypto groups with CC_CAPABILITIES."""
    bob = cc.client("bob")
    gid = _gid()
    bob.create(gid)
    with pytest.raises(HarnessError, match="Credentials are not acceptable"):
        bob.add(gid, [cove_bundle("alice", capabilities=None).key_package_bytes()])
    b = bob.update(gid)
    info = MLSMessage.from_bytes(b.group_info).body
    assert isinstance(info, GroupInfo)
    req = required_capabilities(info.group_context.extensions)
    assert req is not None and tuple(req.credential_types) == (1, 2)


def test_commits_both_ways(cc: CoreCrypto) -> None:
    """Scenario 3: updates, adds and removes committed by each side, processed by the
    other, in a group of Cove + two CoreCrypto clients (+ a second Cove member).
    Cove sends its commits as PublicMessage (see the test above)."""
    handshake = "public"
    bob = cc.client("bob")
    carol = cc.client("carol")
    gid = _gid()
    cfg = GroupConfig(handshake_wire_format=HANDSHAKE_FORMATS[handshake])

    # CoreCrypto creates, adds Cove's alice.
    bob.create(gid)
    akp = cove_bundle("alice")
    b = bob.add(gid, [akp.key_package_bytes()])
    assert b.welcome is not None
    alice = Group.join(b.welcome, akp, OsRandom(), config=cfg)

    # CoreCrypto commits an update; Cove processes it.
    b = bob.update(gid)
    got = alice.process(b.commit)
    assert isinstance(got, AppliedCommit)
    assert got.committer.identity == bob.client_id
    assert_in_sync(alice, bob)
    exchange(alice, bob, "after bob's update")

    # Cove commits an update; CoreCrypto processes it.
    out = alice.update()
    alice.apply_pending_commit()
    assert _wire_format(out.commit) is HANDSHAKE_FORMATS[handshake]
    cove_commit_to_cc(alice, out.commit, bob)
    assert_in_sync(alice, bob)
    exchange(alice, bob, "after alice's update")

    # Cove adds CoreCrypto's carol; bob processes the Add commit, carol the Welcome.
    out = alice.add([carol.key_package()], now=_now())
    alice.apply_pending_commit()
    assert out.welcome is not None
    cove_commit_to_cc(alice, out.commit, bob)
    assert carol.join_welcome(out.welcome) == gid
    assert_in_sync(alice, bob)
    assert_in_sync(alice, carol)
    exchange(alice, carol, "carol joined")
    msg = bob.encrypt(gid, b"bob to all")
    assert isinstance(alice.process(msg), ApplicationMessage)
    assert bytes.fromhex(carol.decrypt(gid, msg)["data"]) == b"bob to all"

    # CoreCrypto adds a second Cove member (dave); alice processes, dave joins.
    dkp = cove_bundle("dave")
    b = bob.add(gid, [dkp.key_package_bytes()])
    assert b.welcome is not None
    got = alice.process(b.commit)
    assert isinstance(got, AppliedCommit)
    assert [m.identity for m in got.added] == [dkp.key_package.leaf_node.credential.identity]
    carol.decrypt(gid, b.commit)
    dave = Group.join(b.welcome, dkp, OsRandom(), config=cfg)
    assert_in_sync(dave, bob)
    assert_in_sync(alice, carol)
    exchange(dave, carol, "dave joined")

    # CoreCrypto removes Cove's dave: alice and carol process; dave learns it is out.
    b = bob.remove(gid, [dave.member(dave.my_leaf_index).identity])
    got = alice.process(b.commit)
    assert isinstance(got, AppliedCommit)
    assert [m.identity for m in got.removed] == [dave.member(dave.my_leaf_index).identity]
    carol.decrypt(gid, b.commit)
    gone = dave.process(b.commit)
    assert isinstance(gone, AppliedCommit) and gone.removed_me
    assert_in_sync(alice, carol)

    # Cove removes CoreCrypto's carol: bob processes, carol sees herself removed.
    carol_leaf = next(m.leaf_index for m in alice.members() if m.identity == carol.client_id)
    out = alice.remove([carol_leaf])
    alice.apply_pending_commit()
    cove_commit_to_cc(alice, out.commit, bob)
    r = carol.decrypt(gid, out.commit)
    assert r["kind"] == "commit" and r["is_active"] is False, r
    assert_in_sync(alice, bob)
    exchange(alice, bob, "two left")

    # CoreCrypto removes Cove's alice.
    b = bob.remove(gid, [alice.member(alice.my_leaf_index).identity])
    gone = alice.process(b.commit)
    assert isinstance(gone, AppliedCommit) and gone.removed_me
    assert bob.members(gid) == {bob.client_id}


def test_proposals_by_reference(cc: CoreCrypto) -> None:
    """Cove sends Add and Remove proposals (and a self-remove, i.e. leaving);
    CoreCrypto commits them by reference, and Cove commits by reference proposals it
    received. CoreCrypto 10.3 has no API to send a proposal, so none go the other way."""
    bob, carol, erin = cc.client("bob"), cc.client("carol"), cc.client("erin")
    gid = _gid()
    cfg = GroupConfig(handshake_wire_format=WireFormat.PUBLIC_MESSAGE)
    bob.create(gid)
    akp, dkp = cove_bundle("alice"), cove_bundle("dave")
    b = bob.add(gid, [akp.key_package_bytes(), dkp.key_package_bytes(), carol.key_package()])
    assert b.welcome is not None
    alice = Group.join(b.welcome, akp, OsRandom(), config=cfg)
    dave = Group.join(b.welcome, dkp, OsRandom(), config=cfg)
    carol.join_welcome(b.welcome)

    # alice proposes adding erin; bob commits it by reference.
    erin_kp = MLSMessage.from_bytes(erin.key_package()).body
    assert isinstance(erin_kp, KeyPackage)
    prop = alice.propose_add(erin_kp)
    assert _wire_format(prop) is WireFormat.PUBLIC_MESSAGE
    assert isinstance(dave.process(prop), ProposalMessage)
    for c in (bob, carol):
        assert c.decrypt(gid, prop)["kind"] == "proposal"
    b = bob.commit_pending(gid)
    assert b.welcome is not None
    for g in (alice, dave):
        got = g.process(b.commit)
        assert isinstance(got, AppliedCommit)
        assert [m.identity for m in got.added] == [erin.client_id]
    carol.decrypt(gid, b.commit)
    erin.join_welcome(b.welcome)
    for c in (bob, carol, erin):
        assert_in_sync(alice, c)

    # dave leaves (a Remove proposal for himself); carol commits it.
    prop = dave.leave()
    assert isinstance(alice.process(prop), ProposalMessage)
    for c in (bob, carol, erin):
        assert c.decrypt(gid, prop)["kind"] == "proposal"
    b = carol.commit_pending(gid)
    got = alice.process(b.commit)
    assert isinstance(got, AppliedCommit)
    assert [m.identity for m in got.removed] == [_identity(dave)]
    gone = dave.process(b.commit)
    assert isinstance(gone, AppliedCommit) and gone.removed_me
    for c in (bob, erin):
        c.decrypt(gid, b.commit)
    for c in (bob, carol, erin):
        assert_in_sync(alice, c)

    # alice proposes removing carol, then commits her own pending proposal by reference.
    carol_leaf = next(m.leaf_index for m in alice.members() if m.identity == carol.client_id)
    prop = alice.propose_remove(carol_leaf)
    for c in (bob, carol, erin):
        assert c.decrypt(gid, prop)["kind"] == "proposal"
    out = alice.commit()
    alice.apply_pending_commit()
    cove_commit_to_cc(alice, out.commit, bob, erin)
    assert carol.decrypt(gid, out.commit)["is_active"] is False
    for c in (bob, erin):
        assert_in_sync(alice, c)
        exchange(alice, c, "after the proposals")


def test_message_order(cc: CoreCrypto) -> None:
    """Application messages out of order within an epoch, late (from the previous epoch)
    and early (of the next epoch, before its commit), both ways."""
    bob = cc.client("bob")
    gid = _gid()
    alice = cove_group("alice", gid, "public")
    out = alice.add([bob.key_package()], now=_now())
    alice.apply_pending_commit()
    assert out.welcome is not None
    bob.join_welcome(out.welcome)

    # Out of order. CoreCrypto refuses (DuplicateMessage) a generation more than one
    # behind the newest it has seen, from Cove and from CoreCrypto alike, so the order
    # here is one that it accepts; Cove takes any order within its window.
    sent = [alice.encrypt(b"a%d" % i) for i in range(4)]
    for i in (1, 0, 3, 2):
        assert bytes.fromhex(bob.decrypt(gid, sent[i])["data"]) == b"a%d" % i
    sent = [bob.encrypt(gid, b"b%d" % i) for i in range(4)]
    for i in (3, 0, 2, 1):
        got = alice.process(sent[i])
        assert isinstance(got, ApplicationMessage) and got.data == b"b%d" % i

    # Late: sent in epoch n, read after the commit to n + 1.
    late_from_alice = alice.encrypt(b"late from alice")
    b = bob.update(gid)
    assert isinstance(alice.process(b.commit), AppliedCommit)
    assert bytes.fromhex(bob.decrypt(gid, late_from_alice)["data"]) == b"late from alice"
    late_from_bob = bob.encrypt(gid, b"late from bob")
    out = alice.update()
    alice.apply_pending_commit()
    cove_commit_to_cc(alice, out.commit, bob)
    got = alice.process(late_from_bob)
    assert isinstance(got, ApplicationMessage) and got.data == b"late from bob"
    assert got.epoch == alice.epoch - 1

    # Early: CoreCrypto buffers Cove's message of epoch n + 1 and hands it out with
    # the commit.
    out = alice.update()
    alice.apply_pending_commit()
    early = alice.encrypt(b"early")
    assert bob.decrypt(gid, early)["kind"] == "buffered"
    got_commit = bob.decrypt(gid, out.commit)
    assert got_commit["buffered"] == [b"early".hex()]
    assert_in_sync(alice, bob)


def test_cove_joins_externally(cc: CoreCrypto) -> None:
    """Scenario 4a: Cove joins by external commit from CoreCrypto's GroupInfo;
    CoreCrypto processes the external commit."""
    bob = cc.client("bob")
    gid = _gid()
    bob.create(gid)
    b = bob.update(gid)  # any commit hands out the GroupInfo
    assert b.ratchet_tree_type == 1  # full tree in the GroupInfo
    alice, commit = Group.join_external(
        b.group_info,
        Credential.basic(cove_identity("alice")),
        OsRandom(),
        capabilities=CC_CAPABILITIES,
        config=GroupConfig(handshake_wire_format=WireFormat.PUBLIC_MESSAGE),
    )
    assert alice.group_id == gid
    assert _wire_format(commit) is WireFormat.PUBLIC_MESSAGE
    got = bob.decrypt(gid, commit)
    assert got["kind"] == "commit", got
    assert_in_sync(alice, bob)
    exchange(alice, bob, "external join")

    # Life goes on in the new epoch: a commit each way.
    b = bob.update(gid)
    assert isinstance(alice.process(b.commit), AppliedCommit)
    out = alice.update()
    alice.apply_pending_commit()
    cove_commit_to_cc(alice, out.commit, bob)
    assert_in_sync(alice, bob)
    exchange(alice, bob, "two commits later")


def test_core_crypto_joins_externally(cc: CoreCrypto) -> None:
    """Scenario 4b: CoreCrypto joins by external commit from Cove's GroupInfo; Cove
    processes the external commit."""
    bob = cc.client("bob")
    gid = _gid()
    alice = cove_group("alice", gid, "public")
    out = alice.update()
    alice.apply_pending_commit()
    got_gid, b = bob.join_external(alice.group_info_bytes())
    assert got_gid == gid
    assert _wire_format(b.commit) is WireFormat.PUBLIC_MESSAGE
    got = alice.process(b.commit)
    assert isinstance(got, AppliedCommit)
    assert got.committer.identity == bob.client_id  # an external joiner commits itself
    assert got.epoch == out.epoch + 1 == 2
    assert_in_sync(alice, bob)
    exchange(alice, bob, "external join")

    b = bob.update(gid)
    assert isinstance(alice.process(b.commit), AppliedCommit)
    out = alice.update()
    alice.apply_pending_commit()
    cove_commit_to_cc(alice, out.commit, bob)
    assert_in_sync(alice, bob)
    exchange(alice, bob, "two commits later")


def test_plain_identity(cc: CoreCrypto) -> None:
    """CoreCrypto needs every member's basic identity to be a Wire client id
    (<user-id>:<device-id>@<domain>). With a plain one (b"alice") it still joins Cove's
    group and its messages reach Cove, but it refuses to decrypt the plain member's
    messages and to list the members. Hence :func:`cove_identity` in the other tests."""
    bob = cc.client("bob")
    gid = _gid()
    alice = Group.create(SUITE, gid, Credential.basic(b"alice"), OsRandom(), now=_now())
    out = alice.add([bob.key_package()], now=_now())
    alice.apply_pending_commit()
    assert out.welcome is not None
    bob.join_welcome(out.welcome)
    assert bob.epoch(gid) == alice.epoch
    assert bob.export(gid) == alice.export_secret(EXPORTER_LABEL, b"", 32)
    got = alice.process(bob.encrypt(gid, b"to alice"))
    assert isinstance(got, ApplicationMessage) and got.data == b"to alice"
    refused = "Supplied client id was not of the format"
    with pytest.raises(HarnessError, match=refused):
        bob.decrypt(gid, alice.encrypt(b"to bob"))
    with pytest.raises(HarnessError, match=refused):
        bob.members(gid)


# -- mixed group, many epochs -------------------------------------------------------------


class _Mixed:
    """A group of Cove and CoreCrypto members driven one commit at a time; every commit
    goes to every other member and every member must end in the same epoch with the
    same exporter secret and the same member list."""

    def __init__(self, cc: CoreCrypto, gid: bytes, creator: CcClient) -> None:
        self.cc = cc
        self.gid = gid
        self.cove: list[Group] = []
        self.ccs: list[CcClient] = [creator]
        self.n = 0

    def name(self) -> str:
        self.n += 1
        return f"m{self.n}"

    def identities(self) -> set[bytes]:
        return {g.member(g.my_leaf_index).identity for g in self.cove} | {
            c.client_id for c in self.ccs
        }

    def deliver(self, commit: bytes, sender: Group | CcClient, removed: set[bytes]) -> None:
        for g in list(self.cove):
            if g is sender:
                continue
            got = g.process(commit)
            assert isinstance(got, AppliedCommit)
            me = g.member(g.my_leaf_index).identity
            assert got.removed_me == (me in removed)
            if got.removed_me:
                self.cove.remove(g)
        for c in list(self.ccs):
            if c is sender:
                continue
            got = c.decrypt(self.gid, commit)
            assert got["kind"] == "commit"
            assert got["is_active"] == (c.client_id not in removed)
            if c.client_id in removed:
                self.ccs.remove(c)

    def check(self) -> None:
        ids = self.identities()
        ref = self.cove[0] if self.cove else None
        secret = ref.export_secret(EXPORTER_LABEL, b"", 32) if ref else self.ccs[0].export(self.gid)
        epoch = ref.epoch if ref else self.ccs[0].epoch(self.gid)
        for g in self.cove:
            assert g.epoch == epoch
            assert g.export_secret(EXPORTER_LABEL, b"", 32) == secret
            assert {m.identity for m in g.members()} == ids
            assert g.epoch_authenticator == self.cove[0].epoch_authenticator
        for c in self.ccs:
            assert c.epoch(self.gid) == epoch
            assert c.export(self.gid) == secret
            assert c.members(self.gid) == ids

    def broadcast(self, rng: random.Random, step: int) -> None:
        senders: list[Group | CcClient] = [*self.cove, *self.ccs]
        sender = rng.choice(senders)
        data = f"step {step}".encode()
        wire = sender.encrypt(data) if isinstance(sender, Group) else sender.encrypt(self.gid, data)
        for g in self.cove:
            if g is not sender:
                got = g.process(wire)
                assert isinstance(got, ApplicationMessage) and got.data == data
        for c in self.ccs:
            if c is not sender:
                assert bytes.fromhex(c.decrypt(self.gid, wire)["data"]) == data


def _commit(
    by: Group | CcClient, gid: bytes, action: str, arg: list[bytes]
) -> tuple[bytes, bytes | None]:
    """``by`` commits ``action`` (update / add KeyPackages / remove identities)."""
    if isinstance(by, Group):
        if action == "update":
            out = by.update()
        elif action == "add":
            out = by.add(arg, now=_now())
        else:
            out = by.remove([m.leaf_index for m in by.members() if m.identity in arg])
        by.apply_pending_commit()
        return out.commit, out.welcome
    if action == "update":
        b = by.update(gid)
    elif action == "add":
        b = by.add(gid, arg)
    else:
        b = by.remove(gid, arg)
    return b.commit, b.welcome


def _identity(x: Group | CcClient) -> bytes:
    return x.member(x.my_leaf_index).identity if isinstance(x, Group) else x.client_id


def test_mixed_group_many_epochs(cc: CoreCrypto) -> None:
    """Both sides commit adds (one or two joiners), removes (one or two), updates and
    external joins, chosen by a seeded RNG, in one group of up to 8 members, so that
    the tree gets blanks, unmerged leaves, truncation and parent hashes made by both
    implementations. Every member checks every commit and message."""
    seed = int(os.environ.get("COVE_INTEROP_SEED", "9420"))
    steps = int(os.environ.get("COVE_INTEROP_STEPS", "40"))
    largest = int(os.environ.get("COVE_INTEROP_MAX_MEMBERS", "8"))
    rng = random.Random(seed)
    gid = _gid()
    creator = cc.client("cc")
    creator.create(gid)
    m = _Mixed(cc, gid, creator)
    cove_cfg = GroupConfig(handshake_wire_format=WireFormat.PUBLIC_MESSAGE)
    counts: dict[str, int] = {}
    for step in range(steps):
        everyone: list[Group | CcClient] = [*m.cove, *m.ccs]
        actions = ["update", "add"]
        if len(everyone) >= 3:
            actions += ["remove", "external"]
        if len(everyone) >= largest:
            actions.remove("add")
        action = rng.choice(actions)
        by = rng.choice(everyone)
        kind = f"{action} by {'cove' if isinstance(by, Group) else 'cc'}"
        if action == "update":
            commit, _ = _commit(by, gid, "update", [])
            m.deliver(commit, by, set())
        elif action == "add":
            new_cove: list[KeyPackageBundle] = []
            new_cc: list[CcClient] = []
            for _ in range(rng.choice([1, 2])):
                if rng.random() < 0.5:
                    new_cove.append(cove_bundle(m.name()))
                else:
                    new_cc.append(cc.client("cc"))
            kps = [k.key_package_bytes() for k in new_cove] + [c.key_package() for c in new_cc]
            commit, welcome = _commit(by, gid, "add", kps)
            assert welcome is not None
            m.deliver(commit, by, set())
            m.cove += [Group.join(welcome, k, OsRandom(), config=cove_cfg) for k in new_cove]
            for c in new_cc:
                assert c.join_welcome(welcome) == gid
                m.ccs.append(c)
        elif action == "remove":
            others = [x for x in everyone if x is not by]
            victims = rng.sample(others, 2 if len(others) > 2 and rng.random() < 0.5 else 1)
            removed = {_identity(v) for v in victims}
            commit, _ = _commit(by, gid, "remove", sorted(removed))
            m.deliver(commit, by, removed)
        else:
            # A GroupInfo of the current epoch from ``by``: Cove makes one on demand,
            # CoreCrypto hands one out with each commit (so it commits an update first).
            if isinstance(by, Group):
                info = by.group_info_bytes()
            else:
                b = by.update(gid)
                m.deliver(b.commit, by, set())
                info = b.group_info
            if rng.random() < 0.5:
                g, commit = Group.join_external(
                    info,
                    Credential.basic(cove_identity(m.name())),
                    OsRandom(),
                    capabilities=CC_CAPABILITIES,
                    config=cove_cfg,
                )
                m.deliver(commit, g, set())
                m.cove.append(g)
                kind += " -> cove"
            else:
                c = cc.client("cc")
                _, b = c.join_external(info)
                m.deliver(b.commit, c, set())
                m.ccs.append(c)
                kind += " -> cc"
        counts[kind] = counts.get(kind, 0) + 1
        m.check()
        m.broadcast(rng, step)
    print(f"seed {seed}, {steps} steps:", sorted(counts.items()))
    if (seed, steps, largest) != (9420, 40, 8):
        return
    # The default run exercises every kind of step from both sides.
    for k in ("update", "add", "remove", "external"):
        for who in ("cove", "cc"):
            assert any(x.startswith(f"{k} by {who}") for x in counts), (k, who, counts)
