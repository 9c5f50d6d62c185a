"""Read markers, drafts, attachments as bytes and verified members: kept in the
encrypted store and read back after the client is closed and opened again (a real
relay, real store files)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cove.client import CoveClient
from cove.client.attachments import FileData
from cove.client.errors import UnknownMessage, UsageProblem
from tests.support.canary import Canaries, scan_tree
from tests.support.relay_process import RelayProcess

pytestmark = pytest.mark.integration
PW = "pw"


def test_read_markers_and_drafts_survive_a_restart(tmp_path: Path) -> None:
    with RelayProcess.start(tmp_path / "relay", registration="open") as relay:
        asyncio.run(_reading(tmp_path, relay.url))


async def _reading(tmp_path: Path, url: str) -> None:
    canaries = Canaries()
    a = await CoveClient.init(tmp_path / "ana", PW, url, "ana", None)
    b = await CoveClient.init(tmp_path / "bob", PW, url, "bob", None)
    try:
        gid = await a.create_group("g")
        await a.add_members(gid, ["bob"])
        await b.sync()
        t1 = await a.new_thread(gid, "one", "first")
        t2 = await a.new_thread(gid, "two", "second")
        await a.post(gid, t1, "a reply")
        await b.sync()
        await b.post(gid, t1, "my own post is never new to me")
        await a.sync()
        assert await b.unread(gid) == {t1: 2, t2: 1}
        assert await a.unread(gid) == {t1: 1}
        marked = await b.mark_read(gid, t1)
        assert await b.unread(gid) == {t2: 1}
        assert await b.mark_read(gid, t1, upto=1) == marked  # never moves back
        with pytest.raises(UsageProblem, match="a thread id is 16 bytes"):
            await b.mark_read(gid, b"short", upto=3)

        # Drafts: saved, replaced, deleted when empty and when sent.
        await b.save_draft(f"t:{t2.hex()}", canaries.new("draft reply"))
        await b.save_draft(f"g:{gid.hex()}", canaries.new("draft body"), "A title")
        await b.save_draft("dm:", "   ")
        assert await b.draft("dm:") is None
        with pytest.raises(UsageProblem, match="a draft's place is 1 to 200 characters"):
            await b.save_draft("", "x")
        with pytest.raises(UsageProblem, match="a message is at most 32768 bytes"):
            await b.save_draft("t:x", "x" * 40_000)
    finally:
        await a.close()
        await b.close()

    # The store file holds neither draft in the clear.
    assert scan_tree(tmp_path / "bob", canaries.values()) == []

    b = await CoveClient.open(tmp_path / "bob", PW)
    try:
        assert await b.unread(gid) == {t2: 1}
        d = await b.draft(f"g:{gid.hex()}")
        assert d is not None and (d.text, d.title) == (canaries["draft body"], "A title")
        assert [x.place for x in await b.all_drafts()] == [f"g:{gid.hex()}", f"t:{t2.hex()}"]
        assert canaries["draft body"] not in repr(d)
        await b.post(gid, t2, "sent", draft=f"t:{t2.hex()}")
        assert await b.draft(f"t:{t2.hex()}") is None
        await b.new_thread(gid, "A title", "x", draft=f"g:{gid.hex()}")
        assert await b.all_drafts() == []
        await b.mark_read(gid, t2)
        assert await b.unread(gid) == {}
    finally:
        await b.close()


def test_attachments_from_and_to_bytes_and_verified_members(tmp_path: Path) -> None:
    with RelayProcess.start(tmp_path / "relay", registration="open") as relay:
        asyncio.run(_bytes(tmp_path, relay.url))


async def _bytes(tmp_path: Path, url: str) -> None:
    a = await CoveClient.init(tmp_path / "ana", PW, url, "ana", None)
    b = await CoveClient.init(tmp_path / "bob", PW, url, "bob", None)
    photo = b"\x89PNG\r\n\x1a\n" + os.urandom(5000)
    try:
        gid = await a.create_group("g")
        await a.add_members(gid, ["bob"])
        await b.sync()
        tid = await a.new_thread(gid, "photos")
        await a.post(gid, tid, "", attachments=[FileData("garden.png", photo)])
        await a.dm("bob", "a note", [FileData("note", b"plain words", "text/plain")])
        with pytest.raises(UsageProblem, match="a file needs a name"):
            await a.post(gid, tid, "x", attachments=[FileData("", b"x")])
        await b.sync()
        (post,) = [m for m in await b.read(gid, tid) if m.type == "post"]
        (att,) = post.attachments
        assert (att["name"], att["media_type"], att["size"]) == ("garden.png", "image/png", 5008)
        got = await b.get_attachment_data(att["blob_id"].hex())
        assert (got.name, got.media_type, got.data) == ("garden.png", "image/png", photo)
        assert "garden" not in repr(got)
        dm = await b.dm_group("ana")
        assert dm is not None
        (note,) = (await b.read(dm))[0].attachments
        got = await b.get_attachment_data(note["blob_id"].hex()[:8])
        assert (got.name, got.media_type, got.data) == ("note", "text/plain", b"plain words")
        with pytest.raises(UnknownMessage, match="no attachment ffff"):
            await b.get_attachment_data("ffff")

        # verified: set by trust(), shown in members, cleared by a key change.
        assert [(m.handle, m.verified) for m in await b.members(gid)] == [
            ("ana", False), ("bob", False),
        ]  # fmt: skip
        await b.trust("ana")
        assert {m.handle: m.verified for m in await b.members(gid)} == {"ana": True, "bob": False}
    finally:
        await a.close()
        await b.close()


def test_the_cove_command_reads_marks_and_keeps_drafts(tmp_path: Path) -> None:
    with RelayProcess.start(tmp_path / "relay", registration="open") as relay:

        async def setup() -> tuple[str, str]:
            a = await CoveClient.init(tmp_path / "ana", PW, relay.url, "ana", None)
            b = await CoveClient.init(tmp_path / "bob", PW, relay.url, "bob", None)
            try:
                gid = await a.create_group("g")
                await a.add_members(gid, ["bob"])
                await b.sync()
                tid = await a.new_thread(gid, "one", "hello")
                await b.sync()
                return gid.hex(), tid.hex()
            finally:
                await a.close()
                await b.close()

        gid, tid = asyncio.run(setup())
        bo = tmp_path / "bob"
        assert cove(bo, "unread", gid) == {
            "group": gid, "unread": 1, "places": [{"thread": tid, "unread": 1}],
        }  # fmt: skip
        assert cove(bo, "mark-read", gid, tid[:8])["thread"] == tid
        assert cove(bo, "unread", gid)["unread"] == 0
        cove(bo, "draft", "save", "dm:ana", "later", "--title", "T")
        assert cove(bo, "draft", "show", "dm:ana") == {
            "place": "dm:ana",
            "text": "later",
            "title": "T",
        }
        assert [d["place"] for d in cove(bo, "drafts")] == ["dm:ana"]
        cove(bo, "draft", "delete", "dm:ana")
        assert cove(bo, "draft", "show", "dm:ana") is None
        members = cove(bo, "members", gid)
        assert {m["handle"]: m["verified"] for m in members} == {"ana": False, "bob": False}


def cove(home: Path, *args: str) -> object:
    env = {**os.environ, "COVE_PASSPHRASE": PW}
    proc = subprocess.run(
        [sys.executable, "-m", "cove.client.cli", "--home", str(home), "--json", *args],
        capture_output=True, text=True, env=env, timeout=120, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr + proc.stdout
    return json.loads(proc.stdout.strip().splitlines()[-1])
