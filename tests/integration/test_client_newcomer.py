"""What a new member runs into in the first ten minutes (issue 8, item 5), against a
real relay: each test failed before its fix."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from cove.client import (
    CoveClient,
    NotAMember,
    UnknownMessage,
    UsageProblem,
)
from cove.client.attachments import largest_file
from cove.client.cli import parser
from tests.support.relay_process import RelayProcess

pytestmark = pytest.mark.integration


def cove(home: Path, *args: str, passphrase: str = "pw") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COVE_PASSPHRASE": passphrase}
    return subprocess.run(
        [sys.executable, "-m", "cove.client.cli", "--home", str(home), "--json", *args],
        capture_output=True, text=True, env=env, timeout=120, stdin=subprocess.DEVNULL,
    )  # fmt: skip


def doc(proc: subprocess.CompletedProcess[str]) -> Any:
    assert proc.returncode == 0, proc.stderr + proc.stdout
    return json.loads(proc.stdout.strip().splitlines()[-1])


async def clients(root: Path, url: str, *names: str) -> list[CoveClient]:
    return [await CoveClient.init(root / n, "pw", url, n, None) for n in names]


def test_every_command_and_argument_has_help() -> None:
    from cove.client.cli.registry import COMMANDS, TOPICS

    p = parser()  # loads every command module
    assert len(COMMANDS) >= 20
    for words, cmd in COMMANDS.items():
        assert cmd.help, words
        assert all(a.options.get("help") for a in cmd.args), words
        if len(words) > 1:
            assert TOPICS.get(words[0]), words[0]
        usage = subprocess.run(
            [sys.executable, "-m", "cove.client.cli", *words, "--help"],
            capture_output=True, text=True, timeout=60,
        ) if words in (("group", "add"), ("post",)) else None  # fmt: skip
        if usage is not None:
            assert usage.returncode == 0
            for a in cmd.args:
                assert a.options["help"].split()[0] in usage.stdout
    assert "--home" in p.format_help() and "data folder" in p.format_help()


def test_init_failures_leave_no_home_and_explain_handles(
    tmp_path: Path, relay: RelayProcess
) -> None:
    home = tmp_path / "newcomer"
    bad = cove(home, "init", "--relay", relay.url, "--handle", "Ana Maria")
    assert bad.returncode == 2
    assert "a handle is 3 to 32 characters: lowercase letters a-z" in bad.stderr
    assert not home.exists()
    relay_down = cove(home, "init", "--relay", "http://127.0.0.1:9", "--handle", "ana")
    assert relay_down.returncode == 6 and not home.exists()


def test_removed_member_names_groups_and_is_told(tmp_path: Path, relay: RelayProcess) -> None:
    async def go() -> None:
        a, b, c = await clients(tmp_path, relay.url, "alma", "bea", "cleo")
        try:
            gid = await a.create_group("Fatigue Fridays", "rest is work")
            other = await a.create_group("Other group")
            await a.add_members(gid, ["bea", "cleo"])
            await a.add_members(other, ["cleo"])
            await c.sync()
            tid = await a.new_thread(gid, "Pacing")
            await c.sync()
            await a.remove_member(gid, "cleo")
            report = await c.sync()
            assert report.left == (gid,)
            # Naming the group she was removed from, or any other, works (no DecodeError).
            assert await c.resolve_group("Fatigue Fridays") == gid
            assert await c.resolve_group("Other group") == other
            assert [m.title for m in await c.threads(gid)] == ["Pacing"]
            (view,) = [g for g in await c.groups() if g.group_id == gid]
            assert not view.active and view.name == "Fatigue Fridays"
            with pytest.raises(NotAMember, match="no longer a member") as exc:
                await c.post(gid, tid, "still here?")
            assert exc.value.exit_code == 5
            # Re-added, she joins again (the Welcome is not mistaken for a replay).
            await a.add_members(gid, ["cleo"])
            assert (await c.sync()).joined == 1
            await a.post(gid, tid, "welcome back")
            await c.sync()
            assert [m.body for m in await c.read(gid, tid)][-1] == "welcome back"
        finally:
            for cl in (a, b, c):
                await cl.close()

    asyncio.run(go())


def test_order_limits_reactions_prefixes_and_renames(tmp_path: Path, relay: RelayProcess) -> None:
    async def go() -> None:
        a, b = await clients(tmp_path, relay.url, "dina", "eli")
        try:
            gid = await a.create_group("Order", "a description")
            await a.add_members(gid, ["eli"])
            with pytest.raises(UsageProblem, match="eli is already in the group"):
                await a.add_members(gid, ["eli"])
            await b.sync()
            tid = await a.new_thread(gid, "t")
            await b.sync()
            first = await a.post(gid, tid, "first")  # eli has not synced: his post comes later
            second = await b.post(gid, tid, "second")
            await b.sync()
            await a.sync()
            for cl in (a, b):
                assert [m.id for m in await cl.read(gid, tid)] == [tid, first, second]
                assert all(m.sent_at > 0 for m in await cl.read(gid, tid))
            # Limits, stated.
            for title, message in [
                ("", "a thread needs a title"),
                ("two\nlines", "a thread title is one line"),
                ("x" * 600, r"at most 512 bytes of UTF-8 \(this is 600\)"),
            ]:
                with pytest.raises(UsageProblem, match=message):
                    await a.new_thread(gid, title)
            with pytest.raises(
                UsageProblem, match=r"at most 32768 bytes of UTF-8 \(32 KiB\); this one is 40960"
            ):
                await a.post(gid, tid, "x" * 40960)
            with pytest.raises(UsageProblem, match="the message is empty"):
                await a.post(gid, tid, "  \n ")
            with pytest.raises(UsageProblem, match="'ok' is not an emoji"):
                await a.react(first, "ok")
            reaction = await b.react(first, "💜")
            await a.sync()
            with pytest.raises(UsageProblem, match="that is a reaction"):
                await a.react(reaction, "💜")
            await a.sync()
            assert [m.reactions for m in await a.read(gid, tid) if m.id == first] == [
                {"💜": ["eli"]}
            ]
            await b.react(first, "💜", remove=True)
            await a.sync()
            assert [m.reactions for m in await a.read(gid, tid) if m.id == first] == [{}]
            # Id prefixes.
            assert await a.resolve_message(first.hex()[:8]) == first
            with pytest.raises(UnknownMessage):
                await a.resolve_message("00000000")
            # Attachments: the plaintext limit is stated; --out does not overwrite.
            big = tmp_path / "scan.pdf"
            big.write_bytes(b"\0" * 8_000_000)
            with pytest.raises(
                UsageProblem, match=f"a file may be at most {largest_file():,} bytes"
            ):
                await a.post(gid, tid, "my scan", attachments=[big])
            # Rename without a description keeps it; one's own row has no safety number.
            await a.rename_group(gid, "Order, renamed")
            (view,) = [g for g in await a.groups() if g.group_id == gid]
            assert (view.name, view.description) == ("Order, renamed", "a description")
            me = [m for m in await a.members(gid) if m.me]
            assert [(m.handle, m.safety_number) for m in me] == [("dina", "")]
        finally:
            await a.close()
            await b.close()

    asyncio.run(go())


def test_attachment_out_is_not_overwritten_and_posting_offline_is_queued(tmp_path: Path) -> None:
    with RelayProcess.start(tmp_path / "relay", registration="open") as relay:
        home = tmp_path / "fay"
        doc(cove(home, "init", "--relay", relay.url, "--handle", "fay"))
        gid = doc(cove(home, "group", "create", "Files"))["id"]
        note = tmp_path / "note.txt"
        note.write_text("hello")
        tid = doc(cove(home, "thread", "new", gid, "Files", "--attach", str(note)))["id"]
        (root,) = doc(cove(home, "read", gid))
        att = root["attachments"][0]["id"][:8]
        out = tmp_path / "existing.txt"
        out.write_text("keep me")
        refused = cove(home, "attachment", "get", att, "--out", str(out))
        assert refused.returncode == 2 and "exists" in refused.stderr
        assert out.read_text() == "keep me"
        doc(cove(home, "attachment", "get", att, "--out", str(out), "--force"))
        assert out.read_text() == "hello"
        relay.stop()
        queued = doc(cove(home, "post", gid, tid[:8], "sent later"))
        assert queued["queued"] is True
        command = [sys.executable, "-m", "cove.client.cli", "--home", str(home)]
        env = {**os.environ, "COVE_PASSPHRASE": "pw"}
        plain = subprocess.run(
            [*command, "post", gid, tid[:8], "x"], capture_output=True, text=True, env=env,
            timeout=120,
        )  # fmt: skip
        assert plain.returncode == 0 and "queued: the relay cannot be reached" in plain.stdout


def test_listen_names_the_group_shows_reactions_and_survives_the_relay_going(
    tmp_path: Path,
) -> None:
    with RelayProcess.start(tmp_path / "relay", registration="open") as relay:
        asyncio.run(_listen(tmp_path, relay))


async def _listen(tmp_path: Path, relay: RelayProcess) -> None:
    a, b = await clients(tmp_path, relay.url, "gus", "hana")
    try:
        gid = await a.create_group("Listeners")
        await a.add_members(gid, ["hana"])
        await b.sync()
        tid = await a.new_thread(gid, "t")
        statuses: list[str] = []
        seen: list[tuple[bytes, str, bytes | None]] = []
        connected, got_two, unreachable = asyncio.Event(), asyncio.Event(), asyncio.Event()
        stop = asyncio.Event()

        def status(text: str) -> None:
            statuses.append(text)
            if text.startswith("connected"):
                connected.set()
            if "cannot be reached" in text:
                unreachable.set()

        def on_message(group_id: bytes, m: Any) -> None:
            seen.append((group_id, m.type, m.target))
            if len(seen) >= 2:
                got_two.set()

        task = asyncio.create_task(b.listen(on_message, stop, on_status=status))
        await asyncio.wait_for(connected.wait(), 60)
        post = await a.post(gid, tid, "hello")
        await a.react(post, "💜")
        await asyncio.wait_for(got_two.wait(), 60)
        assert seen == [(gid, "post", None), (gid, "reaction", post)]
        relay.stop()
        await asyncio.wait_for(unreachable.wait(), 60)
        assert not task.done()  # it waits and tries again instead of exiting
        stop.set()
        await asyncio.wait_for(task, 60)
    finally:
        await a.close()
        await b.close()


def test_records_of_a_newer_version_are_kept_with_plaintext_and_read_later(
    tmp_path: Path, relay: RelayProcess
) -> None:
    from cove.client.messages import QuarantineRow
    from cove.protocol.app import ThreadRoot
    from cove.protocol.wire import envelopes as E

    async def go() -> None:
        a, b = await clients(tmp_path, relay.url, "ivo", "jun")
        try:
            gid = await a.create_group("Versions")
            await a.add_members(gid, ["jun"])
            await b.sync()
            # jun's client (going under the API) sends a well-formed version-2 record.
            current = ThreadRoot(id=b"n" * 16, sent_at=1, title="from the future", body="")
            newer = current.encode().replace(b"\xa1v\x01", b"\xa1v\x02", 1)
            async with b.store.transaction() as txn:
                record, group = await b.states.load(txn, gid)
                message = group.encrypt(newer)
                await b.states.save(txn, record, group)
            request = E.PostMessageRequest(idempotency_key=b"k" * 16, message=message)
            await b.call("post_message", request, path={"group_id": gid.hex()})
            assert (await a.sync()).quarantined == 1
            (q,) = await a.quarantined(gid)
            assert q["sender"] == "jun" and q["readable_later"] is True
            assert "not readable by this version of Cove" in q["reason"]
            # As after an upgrade: a kept plaintext this client can read is read on sync.
            async with a.store.transaction() as txn:
                row = QuarantineRow(gid, 10**9, "newer", b"", current.encode(), "jun", 1)
                await a.messages.quarantine(txn, row)
            await a.sync()
            assert [t.title for t in await a.threads(gid)] == ["from the future"]
            assert [r["seq"] for r in await a.quarantined(gid)] == [q["seq"]]
        finally:
            await a.close()
            await b.close()

    asyncio.run(go())


def test_a_new_feature_is_one_registered_module(tmp_path: Path, relay: RelayProcess) -> None:
    """A record type no feature handles is kept (quarantined with its plaintext); once a
    feature registers it — without touching the sync runner — the next sync hands the
    kept record to it."""
    from cove.client.features import Feature, Incoming, features, register, unregister
    from cove.client.records import MessageView
    from cove.protocol.app import GroupMetadata

    got: list[tuple[str, str]] = []

    async def receive(incoming: Incoming) -> MessageView | None:
        assert isinstance(incoming.record, GroupMetadata)
        got.append((incoming.sender, incoming.record.name))
        return None

    async def go() -> None:
        a, b = await clients(tmp_path, relay.url, "kai", "lou")
        try:
            gid = await a.create_group("Features")
            await a.add_members(gid, ["lou"])
            await a.set_role(gid, "lou", "moderator")  # the policy: moderators rename
            await b.sync()
            await b.send_record(gid, GroupMetadata(id=b"m" * 16, sent_at=1, name="Renamed"))
            await a.sync()
            (q,) = await a.quarantined(gid)
            assert q["reason"] == "no feature handles GroupMetadata" and q["readable_later"]
            register(Feature("test-metadata", (GroupMetadata,), receive))
            assert "test-metadata" in features() and "content" in features()
            await a.sync()
            assert got == [("lou", "Renamed")] and await a.quarantined(gid) == []
        finally:
            unregister("test-metadata")
            await a.close()
            await b.close()

    asyncio.run(go())
