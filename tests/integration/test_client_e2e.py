"""End to end: a real ``cove-relay`` subprocess and members in separate homes.

Driven through the ``cove`` command (a subprocess per call, as a member would)
and through the Python API. Covers groups, themed threads, posts, replies,
reactions, edits, deletions, private messages, attachments, removal (the
removed member reads nothing posted afterwards), an offline member catching
up, concurrent adds, exit codes, and a canary scan of everything the relay
wrote.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from cove.client import CoveClient
from tests.support.canary import Canaries, scan_tree
from tests.support.relay_process import RelayProcess

pytestmark = pytest.mark.integration

TIMEOUT = 120


def cove(home: Path, *args: str, passphrase: str = "correct horse", check: bool = True) -> Any:
    """Run ``cove --home HOME --json ARGS``; the parsed JSON (or the CompletedProcess)."""
    env = {**os.environ, "COVE_PASSPHRASE": passphrase}
    proc = subprocess.run(
        [sys.executable, "-m", "cove.client.cli", "--home", str(home), "--json", *args],
        capture_output=True, text=True, env=env, timeout=TIMEOUT, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    if not check:
        return proc
    assert proc.returncode == 0, f"cove {' '.join(args)} failed: {proc.stderr}{proc.stdout}"
    return json.loads(proc.stdout.strip().splitlines()[-1])


def invite(relay: RelayProcess, uses: int = 10) -> str:
    return relay.cli("invite", "create", "--uses", str(uses)).strip().splitlines()[-1]


def by_id(messages: list[dict[str, Any]], mid: str) -> dict[str, Any]:
    return next(m for m in messages if m["id"] == mid)


def test_members_through_the_cove_command(tmp_path: Path) -> None:
    canaries = Canaries()
    with RelayProcess.start(tmp_path / "relay") as relay:
        code = invite(relay)
        homes = {name: tmp_path / name for name in ("alice", "bob", "carol")}
        for name, home in homes.items():
            cove(home, "init", "--relay", relay.url, "--handle", name, "--invite", code)
        a, b, c = homes.values()

        gid = cove(a, "group", "create", canaries.new("group name"))["id"]
        cove(a, "group", "add", gid, "bob", "carol")
        for home in (b, c):
            assert cove(home, "sync")["joined"] == 1
        assert [g["name"] for g in cove(b, "groups")] == [canaries["group name"]]

        # Two themed threads, posts, a reply, a reaction, an edit, a deletion.
        t1 = cove(a, "thread", "new", gid, canaries.new("title 1"), "--body", canaries.new("body"))[
            "id"
        ]
        cove(b, "sync")
        t2 = cove(b, "thread", "new", gid, canaries.new("title 2"))["id"]
        p1 = cove(b, "post", gid, t1, canaries.new("post"))["id"]
        cove(c, "sync")
        p2 = cove(c, "post", gid, t1, canaries.new("reply"), "--reply-to", p1)["id"]
        cove(a, "sync")
        cove(a, "react", p1, "💜")
        cove(b, "sync")
        cove(b, "edit", p1, canaries.new("edited post"))
        cove(c, "delete", p2)
        cove(a, "sync")
        threads = cove(a, "threads", gid)
        assert {t["title"] for t in threads} == {canaries["title 1"], canaries["title 2"]}
        thread1 = cove(a, "read", gid, t1)
        assert by_id(thread1, p1)["body"] == canaries["edited post"]
        assert by_id(thread1, p1)["edited"] and by_id(thread1, p1)["reactions"] == {"💜": ["alice"]}
        assert by_id(thread1, p2)["deleted"] and by_id(thread1, p2)["reply_to"] == p1
        assert all(m["thread"] == t1 for m in thread1)
        assert [m["id"] for m in cove(a, "read", gid, t2)] == [t2]
        # Only the author may edit or delete.
        proc = cove(a, "edit", p1, "not mine", check=False)
        assert proc.returncode == 5

        # Private messages.
        cove(a, "dm", "bob", canaries.new("private message"))
        cove(b, "sync")
        assert [d["with"] for d in cove(b, "dms")] == ["alice"]
        dm = cove(b, "read", "--dm", "alice")
        assert [m["body"] for m in dm] == [canaries["private message"]]
        cove(b, "dm", "alice", "thank you")
        cove(a, "sync")
        assert [m["body"] for m in cove(a, "read", "--dm", "bob")][-1] == "thank you"

        # An attachment.
        secret_file = tmp_path / canaries.new("file name", token_only=True)
        secret_file.write_bytes(canaries.new("file content").encode() * 3000)
        cove(a, "post", gid, t2, "a file", "--attach", str(secret_file))
        cove(b, "sync")
        posted = [m for m in cove(b, "read", gid, t2) if m["attachments"]]
        (att,) = posted[0]["attachments"]
        assert att["name"] == secret_file.name and att["size"] == secret_file.stat().st_size
        out = tmp_path / "downloaded"
        cove(b, "attachment", "get", att["id"], "--out", str(out))
        assert out.read_bytes() == secret_file.read_bytes()

        # Safety numbers agree on both sides.
        number_a = cove(a, "verify", "bob")["safety_number"]
        assert cove(b, "verify", "alice")["safety_number"] == number_a
        members = cove(a, "members", gid)
        assert {m["handle"] for m in members} == {"alice", "bob", "carol"}

        # Removal: carol reads nothing posted afterwards.
        cove(a, "group", "remove", gid, "carol")
        cove(c, "sync")
        after = cove(a, "post", gid, t1, canaries.new("after removal"))["id"]
        cove(c, "sync")
        assert after not in [m["id"] for m in cove(c, "read", gid)]
        assert not next(g for g in cove(c, "groups"))["active"]
        cove(b, "sync")
        assert by_id(cove(b, "read", gid, t1), after)["body"] == canaries["after removal"]

        # Roles and bans: the reason reaches members, encrypted; the relay sees none of it.
        cove(a, "group", "role", gid, "bob", "moderator")
        cove(b, "sync")
        assert {m["handle"]: m["role"] for m in cove(b, "members", gid)} == {
            "alice": "owner",
            "bob": "moderator",
        }
        cove(b, "group", "ban", "--reason", canaries.new("ban reason"), gid, "carol")
        synced = cove(a, "sync")
        assert {"group": gid, "kind": "change", "text": "bob banned carol"} in synced["events"]
        assert cove(b, "group", "bans", gid) == cove(a, "group", "bans", gid) == ["carol"]
        events = [m["body"] for m in cove(a, "read", gid) if m["type"] == "event"]
        assert "bob banned carol" in events
        assert f"bob gave the reason: {canaries['ban reason']}" in events

        # Exit codes.
        assert cove(a, "groups", passphrase="wrong", check=False).returncode == 3
        assert cove(a, "read", "no-such-group", check=False).returncode == 4
        assert cove(c, "group", "remove", gid, "alice", check=False).returncode != 0
        assert cove(b, "group", "remove", gid, "alice", check=False).returncode == 5
        assert cove(tmp_path / "nobody", "groups", check=False).returncode == 8
        relay_url = relay.url
        relay.stop()
        assert cove(a, "sync", check=False).returncode == 6
        del relay_url

    # Nothing a member wrote is readable in anything the relay stored or logged.
    hits = scan_tree(tmp_path / "relay", canaries.values())
    assert hits == []
    decoy = tmp_path / "decoy"
    decoy.mkdir()
    (decoy / "x.bin").write_bytes(b"...." + canaries["post"].encode("utf-16-le") + b"....")
    assert scan_tree(decoy, canaries.values()), "the scanner must find a planted canary"


def test_offline_catch_up_and_concurrent_adds(tmp_path: Path) -> None:
    with RelayProcess.start(tmp_path / "relay", registration="open") as relay:
        asyncio.run(_api_scenario(tmp_path, relay.url))


async def _api_scenario(tmp_path: Path, url: str) -> None:
    clients = {}
    for name in ("alice", "bob", "carol", "dave", "erin"):
        clients[name] = await CoveClient.init(tmp_path / name, "pw", url, name, None)
    a, b, c, d, e = clients.values()
    try:
        gid = await a.create_group("Long COVID Tuesdays")
        await a.add_members(gid, ["bob", "carol"])
        await b.sync()
        await c.sync()
        tid = await a.new_thread(gid, "Pacing", "")
        # carol goes offline; alice and bob talk (and bob updates his keys).
        for i in range(40):
            await (a if i % 2 else b).sync()
            await (a if i % 2 else b).post(gid, tid, f"message {i}")
        await b.update_keys(gid)
        await a.sync()
        await c.sync()
        seen = [m.body for m in await c.read(gid, tid)]
        assert seen == [""] + [f"message {i}" for i in range(40)]

        # alice and bob (a moderator) add people at the same moment: one wins, the
        # other gets a conflict, syncs and retries.
        await a.set_role(gid, "bob", "moderator")
        await asyncio.gather(a.add_members(gid, ["dave"]), b.add_members(gid, ["erin"]))
        for cl in (a, b, c, d, e):
            await cl.sync()
        groups = {}
        for name, cl in clients.items():
            (g,) = [g for g in await cl.groups() if g.group_id == gid]
            groups[name] = g
        assert len({g.epoch for g in groups.values()}) == 1
        assert {g.members for g in groups.values()} == {5}
        members = {m.handle for m in await e.members(gid)}
        assert members == {"alice", "bob", "carol", "dave", "erin"}
        # New members cannot read what was sent before they joined (MLS forward
        # secrecy); what dave starts, everyone reads.
        assert await d.threads(gid) == []
        t2 = await d.new_thread(gid, "Introductions", "hello from dave")
        for cl in (a, b, c, e):
            await cl.sync()
            assert (await cl.read(gid, t2))[-1].body == "hello from dave"
    finally:
        for cl in clients.values():
            await cl.close()


def test_changed_identity_key_blocks_sending_until_trusted(tmp_path: Path) -> None:
    with RelayProcess.start(tmp_path / "relay", registration="open") as relay:
        asyncio.run(_key_change(tmp_path, relay.url))


async def _key_change(tmp_path: Path, url: str) -> None:
    from cove.client.errors import KeyChanged
    from cove.client.trust import Pin

    a = await CoveClient.init(tmp_path / "alice", "pw", url, "alice", None)
    b = await CoveClient.init(tmp_path / "bob", "pw", url, "bob", None)
    try:
        gid = await a.create_group("g")
        await a.add_members(gid, ["bob"])
        await b.sync()
        tid = await b.new_thread(gid, "t")
        number, changed = await b.verify("alice")
        assert not changed and len(number.replace(" ", "")) == 60
        # bob's client had pinned another key for alice (as if alice's key changed).
        async with b.store.transaction() as txn:
            await b.trust_store.put_pin(txn, Pin("alice", b"\x01" * 32))
            assert await b.trust_store.pin(txn, "alice") == Pin("alice", b"\x01" * 32)
        with pytest.raises(KeyChanged):
            await b.post(gid, tid, "blocked")
        _, changed = await b.verify("alice")
        assert changed
        await b.trust("alice")
        await b.post(gid, tid, "sent after checking the safety number")
        await a.sync()
        assert (await a.read(gid, tid))[-1].body == "sent after checking the safety number"
    finally:
        await a.close()
        await b.close()
