"""What a new member runs into in the first ten minutes (issue 8, item 5), against a
real relay.

Each bug is exercised through the ``cove`` command or through API that Cove had
before the fix (``cove.client.service.CoveClient``, ``cove.client.errors``), so
each test failed on the old code because of the bug, not because API was
missing. Where one test covers several bugs it checks every one and reports all
that fail (:class:`Checks`), so no bug hides behind another.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from cove.client.cli import main as cove_main
from cove.client.errors import UsageProblem
from cove.client.service import CoveClient
from tests.support.relay_process import RelayProcess

pytestmark = pytest.mark.integration

EMOJI = "💜"
STAMP = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d")
#: Commands Cove had before issue 8; each of them and each of their arguments needs help.
LONGSTANDING = [
    ("init",), ("group", "create"), ("group", "add"), ("group", "remove"), ("group", "leave"),
    ("group", "role"), ("group", "rename"), ("groups",), ("members",), ("thread", "new"),
    ("threads",), ("post",), ("read",), ("react",), ("edit",), ("delete",), ("dm",), ("dms",),
    ("sync",), ("listen",), ("attachment", "get"), ("settings",), ("verify",), ("trust",),
]  # fmt: skip


class Checks:
    """Several independent checks in one test: all are made, the test fails listing each
    one that failed."""

    def __init__(self) -> None:
        self.failed: list[str] = []

    def __call__(self, name: str, ok: bool, detail: object = "") -> bool:
        if not ok:
            self.failed.append(f"{name}: {detail}")
        return ok

    def done(self) -> None:
        if self.failed:
            raise AssertionError("\n".join(self.failed))


def cove(home: Path, *args: str, passphrase: str = "pw") -> subprocess.CompletedProcess[str]:
    """The ``cove`` command in a process of its own."""
    env = {**os.environ, "COVE_PASSPHRASE": passphrase}
    return subprocess.run(
        [sys.executable, "-m", "cove.client.cli", "--home", str(home), "--json", *args],
        capture_output=True, text=True, env=env, timeout=120, stdin=subprocess.DEVNULL,
    )  # fmt: skip


class Cove:
    """The ``cove`` command run in this process (``cove.client.cli.main``): exit code,
    stdout, stderr; an exception escaping ``main`` is what a user sees as a traceback."""

    def __init__(self, home: Path, capsys: pytest.CaptureFixture[str]) -> None:
        self.home, self.capsys = home, capsys

    def __call__(self, *args: str, as_json: bool = True) -> tuple[int, str, str]:
        saved = os.environ.get("COVE_PASSPHRASE")
        os.environ["COVE_PASSPHRASE"] = "pw"
        try:
            code = cove_main(["--home", str(self.home), *(["--json"] if as_json else []), *args])
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 2
        except Exception as exc:
            out, err = self.capsys.readouterr()
            return -1, out, f"traceback: {type(exc).__name__}: {exc}"
        finally:
            if saved is None:
                del os.environ["COVE_PASSPHRASE"]
            else:
                os.environ["COVE_PASSPHRASE"] = saved
        out, err = self.capsys.readouterr()
        return code, out, err

    def doc(self, *args: str) -> Any:
        code, out, err = self(*args)
        assert code == 0, (args, code, out, err)
        return json.loads(out.strip().splitlines()[-1])


async def clients(root: Path, url: str, *names: str) -> list[CoveClient]:
    return [await CoveClient.init(root / n, "pw", url, n, None) for n in names]


def with_client(home: Path, fn: Callable[[CoveClient], Awaitable[Any]]) -> Any:
    async def go() -> Any:
        c = await CoveClient.open(home, "pw")
        try:
            return await fn(c)
        finally:
            await c.close()

    return asyncio.run(go())


async def outcome(action: Awaitable[Any]) -> str:
    """What a member sees: the error's message, 'accepted', or the traceback's type."""
    try:
        await action
    except UsageProblem as exc:
        return str(exc)
    except Exception as exc:
        return f"traceback: {type(exc).__name__}: {exc}"
    return "accepted"


def undocumented(help_text: str) -> list[str]:
    """Arguments listed in an argparse help text without a description."""
    lines = help_text.splitlines()
    missing, section = [], False
    for i, line in enumerate(lines):
        if line and not line.startswith(" "):
            section = line.rstrip(":") in ("positional arguments", "options", "optional arguments")
            continue
        if section and re.match(r"  \S", line):
            name, _, rest = line.strip().partition("  ")
            follows = lines[i + 1] if i + 1 < len(lines) else ""
            if not rest.strip() and not re.match(r" {6,}\S", follows):
                missing.append(name)
    return missing


def test_every_command_and_argument_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    check = Checks()
    run = Cove(Path("unused"), capsys)
    code, top, _ = run("--help", as_json=False)
    assert code == 0
    check("the data folder option says what it is", "data folder" in top, top)
    for words in LONGSTANDING:
        code, text, _ = run(*words, "--help", as_json=False)
        check(" ".join(words), code == 0 and undocumented(text) == [], undocumented(text))
        if len(words) == 1:
            check(f"{words[0]} in the command list", re.search(rf"\n {{4}}{words[0]} +\S", top))
    check.done()
    # Commands added since: the registry lists them; the same holds for them.
    from cove.client.cli.registry import COMMANDS

    for words in COMMANDS:
        code, text, _ = run(*words, "--help", as_json=False)
        check(" ".join(words), code == 0 and undocumented(text) == [], undocumented(text))
    check.done()


def test_init_failures_leave_no_home_and_explain_handles(
    tmp_path: Path, relay: RelayProcess
) -> None:
    check = Checks()
    home = tmp_path / "newcomer"
    bad = cove(home, "init", "--relay", relay.url, "--handle", "Ana Maria")
    check("a usage error", bad.returncode == 2, bad.returncode)
    rule = "a handle is 3 to 32 characters: lowercase letters a-z"
    check("says what a handle may be", rule in bad.stderr, bad.stderr)
    check("no home left (bad handle)", not home.exists())
    relay_down = cove(home, "init", "--relay", "http://127.0.0.1:9", "--handle", "ana")
    check("unreachable", relay_down.returncode == 6, relay_down.returncode)
    check("no home left (relay down)", not home.exists())
    check.done()


def test_a_removed_member_can_still_name_any_group(tmp_path: Path, relay: RelayProcess) -> None:
    """She got ``DecodeError: truncated uint8 (GroupSnapshot…)`` naming any group."""

    async def go() -> None:
        a, c = await clients(tmp_path, relay.url, "alma", "cleo")
        try:
            gid = await a.create_group("Fatigue Fridays", "rest is work")
            other = await a.create_group("Other group")
            await a.add_members(gid, ["cleo"])
            await a.add_members(other, ["cleo"])
            await c.sync()
            await a.new_thread(gid, "Pacing")
            await c.sync()
            await a.remove_member(gid, "cleo")
            # The removing commit does not reach her; the relay's refusal alone deletes no
            # keys (a hostile relay could forge it), but she is told (cove.client.sync.integrity).
            report = await c.sync()
            assert report.left == ()
            assert [d.kind for d in report.detections] == ["access_refused"]
            assert await c.resolve_group("Fatigue Fridays") == gid
            assert await c.resolve_group("Other group") == other
            assert await c.resolve_group(other.hex()[:8]) == other
            assert [m.title for m in await c.threads(gid)] == ["Pacing"]
            (view,) = [g for g in await c.groups() if g.group_id == gid]
            assert view.active and view.name == "Fatigue Fridays"
        finally:
            await a.close()
            await c.close()

    asyncio.run(go())


def test_a_removed_member_is_told_and_may_not_post(
    tmp_path: Path, relay: RelayProcess, capsys: pytest.CaptureFixture[str]
) -> None:
    check = Checks()
    cleo = Cove(tmp_path / "cleo", capsys)
    cleo.doc("init", "--relay", relay.url, "--handle", "cleo2")
    a_home = tmp_path / "alma2"

    async def setup() -> tuple[bytes, bytes]:
        (a,) = await clients(tmp_path, relay.url, "alma2")
        try:
            gid = await a.create_group("Told")
            await a.add_members(gid, ["cleo2"])
            return gid, await a.new_thread(gid, "t")
        finally:
            await a.close()

    gid, tid = asyncio.run(setup())
    cleo.doc("sync")
    with_client(a_home, lambda a: a.remove_member(gid, "cleo2"))
    code, out, err = cleo("sync", as_json=False)
    # Who removed her is not known here: the relay delivers no removal commit to the removed,
    # and a relay's refusal alone deletes no keys (a hostile relay could forge it).
    told = "The relay says «Told» does not exist or you are not in it"
    check("told", code == 0 and told in out, (code, out, err))
    code, out, err = cleo("post", gid.hex(), tid.hex(), "still here?", as_json=False)
    check("exit 5 (not allowed)", code == 5, (code, err))
    check("says why", "the relay no longer serves this group" in err, err)
    check.done()


def test_a_re_added_member_joins_again(tmp_path: Path, relay: RelayProcess) -> None:
    """The Welcome was dropped as a replay and its inbox entry acknowledged: lost."""

    async def go() -> None:
        a, c = await clients(tmp_path, relay.url, "alma3", "cleo3")
        try:
            gid = await a.create_group("Again")
            await a.add_members(gid, ["cleo3"])
            assert (await c.sync()).joined == 1
            tid = await a.new_thread(gid, "t")
            await a.remove_member(gid, "cleo3")
            await c.sync()
            await a.add_members(gid, ["cleo3"])
            assert (await c.sync()).joined == 1
            await a.post(gid, tid, "welcome back")
            await c.sync()
            assert [m.body for m in await c.read(gid, tid)][-1] == "welcome back"
        finally:
            await a.close()
            await c.close()

    asyncio.run(go())


def test_every_member_sees_the_relays_order(tmp_path: Path, relay: RelayProcess) -> None:
    """Messages were shown in local arrival order (one's own posts first)."""

    async def go() -> None:
        a, b = await clients(tmp_path, relay.url, "dina", "eli")
        try:
            gid = await a.create_group("Order")
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
        finally:
            await a.close()
            await b.close()

    asyncio.run(go())


def test_bad_content_gets_a_clear_error_that_states_the_limit(
    tmp_path: Path, relay: RelayProcess
) -> None:
    """Raw tracebacks for bad titles and long posts; empty posts, non-emoji reactions and
    reactions to reactions accepted; an 8,000,000-byte file refused without saying why."""
    check = Checks()

    async def go() -> None:
        a, b = await clients(tmp_path, relay.url, "fran", "gabi")
        try:
            gid = await a.create_group("Limits")
            await a.add_members(gid, ["gabi"])
            await b.sync()
            tid = await a.new_thread(gid, "t")
            post = await a.post(gid, tid, "a post")
            await b.sync()
            reaction = await b.react(post, EMOJI)
            await a.sync()
            big = tmp_path / "scan.pdf"
            big.write_bytes(b"\0" * 8_000_000)
            cases = {
                "empty title": (a.new_thread(gid, ""), "a thread needs a title"),
                "two-line title": (a.new_thread(gid, "two\nlines"), "a thread title is one line"),
                "600-byte title": (
                    a.new_thread(gid, "x" * 600),
                    r"at most 512 bytes of UTF-8 \(this is 600\)",
                ),
                "40 KB post": (
                    a.post(gid, tid, "x" * 40960),
                    r"at most 32768 bytes of UTF-8 \(32 KiB\); this one is 40960",
                ),
                "whitespace post": (a.post(gid, tid, "  \n "), "the message is empty"),
                "empty post": (a.post(gid, tid, ""), "the message is empty"),
                "non-emoji reaction": (a.react(post, "ok"), "'ok' is not an emoji"),
                "reaction to a reaction": (a.react(reaction, EMOJI), "that is a reaction"),
                "8,000,000-byte file": (
                    a.post(gid, tid, "my scan", attachments=[big]),
                    r"a file may be at most 7,340,032 bytes",
                ),
            }
            for name, (action, message) in cases.items():
                seen = await outcome(action)
                check(name, re.search(message, seen) is not None, seen)
            # Nothing refused was kept: the thread is as it was.
            check("nothing kept", [m.id for m in await a.read(gid, tid)] == [tid, post])
        finally:
            await a.close()
            await b.close()

    asyncio.run(go())
    check.done()


def test_a_reaction_can_be_taken_back(tmp_path: Path, relay: RelayProcess) -> None:
    """A missing feature: the fix is the API itself (``remove=``, ``cove react --remove``)."""

    async def go() -> None:
        a, b = await clients(tmp_path, relay.url, "hugo", "iris")
        try:
            gid = await a.create_group("Reactions")
            await a.add_members(gid, ["iris"])
            await b.sync()
            tid = await a.new_thread(gid, "t")
            post = await a.post(gid, tid, "a post")
            await b.sync()
            await b.react(post, EMOJI)
            await a.sync()
            assert [m.reactions for m in await a.read(gid, tid) if m.id == post] == [
                {EMOJI: ["iris"]}
            ]
            await b.react(post, EMOJI, remove=True)
            await a.sync()
            assert [m.reactions for m in await a.read(gid, tid) if m.id == post] == [{}]
        finally:
            await a.close()
            await b.close()

    asyncio.run(go())


@pytest.mark.slow
def test_a_newcomer_at_the_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Through ``cove`` only: adding a member twice, id prefixes, timestamps, ``--out``,
    a damaged attachment, rename keeping the description, one's own row in ``members``,
    posting while the relay is down (queued, sent after it restarts)."""
    check = Checks()
    with RelayProcess.start(tmp_path / "relay", registration="open") as relay:
        asyncio.run(_close_all(clients(tmp_path, relay.url, "gil")))
        fay = Cove(tmp_path / "fay", capsys)
        fay.doc("init", "--relay", relay.url, "--handle", "fay")
        gid = fay.doc("group", "create", "Files", "--description", "scans and notes")["id"]
        fay.doc("group", "add", "Files", "gil")
        code, out, err = fay("group", "add", "Files", "gil", as_json=False)
        check("adding a member twice", "added gil" not in out and "already" in out + err, out)
        note = tmp_path / "note.txt"
        note.write_text("hello")
        tid = fay.doc("thread", "new", gid, "Files", "--attach", str(note))["id"]
        code, out, err = fay("post", gid, tid[:8], "by prefix")
        check("a thread id prefix", code == 0, err)
        code, out, err = fay("read", gid, as_json=False)
        check("timestamps shown", len(STAMP.findall(out)) >= 2, out)
        (root, *_) = fay.doc("read", gid)
        check("timestamps in --json", root.get("sent_at", 0) > 0, root)
        code, out, err = fay("react", root["id"][:8], EMOJI)
        check("a post id prefix", code == 0, err)
        att = root["attachments"][0]["id"]  # in full: the prefix is checked on its own
        existing = tmp_path / "existing.txt"
        existing.write_text("keep me")
        code, out, err = fay("attachment", "get", att, "--out", str(existing))
        check("--out does not overwrite", existing.read_text() == "keep me")
        check("--out says why", code == 2 and "exists" in err, (code, err))
        got = tmp_path / "got.txt"
        code, out, err = fay("attachment", "get", att[:8], "--out", str(got))
        check("an attachment id prefix", code == 0 and got.read_text() == "hello", err)
        # Rename without --description keeps it; one's own row has no safety number.
        fay.doc("group", "rename", gid, "Files, renamed")
        (view,) = [g for g in fay.doc("groups") if g["id"] == gid]
        check("rename keeps the description", view.get("description") == "scans and notes", view)
        me = [m for m in fay.doc("members", gid) if m["me"]]
        check("own row", [(m["handle"], m["safety_number"] or "") for m in me] == [("fay", "")], me)
        # A relay that alters the stored attachment: a clear error, nothing written.
        with contextlib.closing(sqlite3.connect(relay.data / "relay.sqlite3")) as db, db:
            (data,) = db.execute("SELECT data FROM blobs").fetchone()
            flipped = data[:40] + bytes([data[40] ^ 1]) + data[41:]
            db.execute("UPDATE blobs SET data = ?", (flipped,))
        damaged = tmp_path / "damaged.txt"
        code, out, err = fay("attachment", "get", att, "--out", str(damaged))
        check(
            "a damaged attachment",
            code == 1 and "does not match its reference (damaged or altered)" in err,
            (code, err),
        )
        check("nothing written", sorted(p.name for p in tmp_path.glob("damaged*")) == [])
        # Posting while the relay is down: queued, and sent once it is back.
        port = relay.port
        relay.stop()
        code, out, err = fay("post", gid, tid, "sent later", as_json=False)
        check("posting offline is not an error", code == 0, (code, err))
        check("posting offline says queued", "queued: the relay cannot be reached" in out, out)
        relay.serve(port=port)
        fay.doc("sync")

        async def read(g: CoveClient) -> list[str]:
            await g.sync()
            return [m.body for m in await g.read(bytes.fromhex(gid))]

        check("sent later", "sent later" in with_client(tmp_path / "gil", read))
    check.done()


async def _close_all(made: Awaitable[list[CoveClient]]) -> None:
    for c in await made:
        await c.close()


class Lines:
    """Lines of a stream, read as they come; ``wait`` returns the first new line that
    matches, or None when the stream ends or ``timeout`` passes first."""

    def __init__(self, stream: asyncio.StreamReader) -> None:
        self.queue: asyncio.Queue[str | None] = asyncio.Queue()
        self.seen: list[str] = []
        self.task = asyncio.create_task(self._read(stream))

    async def _read(self, stream: asyncio.StreamReader) -> None:
        while line := await stream.readline():
            self.queue.put_nowait(line.decode())
        self.queue.put_nowait(None)

    async def wait(self, pattern: str, timeout: float = 60) -> str | None:
        async def first() -> str | None:
            while (line := await self.queue.get()) is not None:
                self.seen.append(line)
                if re.search(pattern, line):
                    return line
            self.queue.put_nowait(None)
            return None

        try:
            return await asyncio.wait_for(first(), timeout)
        except TimeoutError:
            return None


@pytest.mark.slow
def test_listen_says_where_and_what_and_resumes_after_a_relay_restart(tmp_path: Path) -> None:
    """``cove listen``: says it is connected, names the group, shows a reaction as a
    reaction; when the relay restarts (same port, same data) it backs off and resumes."""
    with RelayProcess.start(tmp_path / "relay", registration="open") as relay:
        asyncio.run(_listen(tmp_path, relay))


async def _listen(tmp_path: Path, relay: RelayProcess) -> None:
    check = Checks()
    a, b = await clients(tmp_path, relay.url, "gus", "hana")
    gid = await a.create_group("Listeners")
    await a.add_members(gid, ["hana"])
    tid = await a.new_thread(gid, "t")
    await b.close()  # hana listens with the cove command from here on
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "cove.client.cli", "--home", str(tmp_path / "hana"), "listen",
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env={**os.environ, "COVE_PASSPHRASE": "pw"},
    )  # fmt: skip
    assert proc.stdout is not None and proc.stderr is not None
    out, err = Lines(proc.stdout), Lines(proc.stderr)
    try:
        # The old client printed nothing on connecting; a bounded wait, then go on.
        check("says connected", await err.wait("connected to", 30), err.seen)
        post = await a.post(gid, tid, "hello")
        line = await out.wait("hello")
        check("names the group", line is not None and "in Listeners" in line, line)
        await a.react(post, EMOJI)
        line = await out.wait(EMOJI)
        check(
            "a reaction is a reaction",
            line is not None and "reply to" not in line and f"reacted {EMOJI}" in line,
            line,
        )
        port = relay.port
        await asyncio.to_thread(relay.stop)
        check("says the relay is gone", await err.wait("cannot be reached|closed the connection"))
        await asyncio.to_thread(relay.serve, port)
        await err.wait("connected to")
        await a.post(gid, tid, "after the restart")
        line = await out.wait("after the restart")
        check("resumes after a restart", line is not None, (err.seen, proc.returncode))
        check("still running", proc.returncode is None, proc.returncode)
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(proc.wait(), 60)
        out.task.cancel()
        err.task.cancel()
        await a.close()
    check("stops on SIGTERM", code == 0, code)
    check.done()


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


def test_checks_report_every_failure() -> None:
    check = Checks()
    assert check("kept", True) and not check("first", False, 1)
    check("second", False, 2)
    with pytest.raises(AssertionError, match="first: 1\nsecond: 2"):
        check.done()
