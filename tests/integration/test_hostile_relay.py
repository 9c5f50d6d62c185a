"""A hostile relay between honest members (``docs/protocol/relay-integrity.md``).

Each member talks to the real relay through her own :class:`HostileProxy`; a test
sets the proxy's rules to drop, reorder, replay, renumber, fork, refuse, or hand
out a used KeyPackage, and asserts the exact detection each member is shown.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from cove.client import CoveClient, FixedClock, GroupStranded
from cove.client.sync.integrity import JOIN_WAIT, TEXTS, UnusableKeyPackage
from cove.protocol.wire import envelopes as E
from tests.support.hostile_proxy import HostileProxy
from tests.support.relay_process import RelayProcess, fake_private_message, make_key_package

pytestmark = pytest.mark.integration

Scenario = Callable[[list[CoveClient], list[HostileProxy], bytes], Awaitable[None]]


def run(tmp_path: Path, relay: RelayProcess, names: tuple[str, ...], scenario: Scenario) -> None:
    async def go() -> None:
        async with contextlib.AsyncExitStack() as stack:
            proxies: list[HostileProxy] = []
            clients: list[CoveClient] = []
            for n in names:
                p = await stack.enter_async_context(HostileProxy.running(relay.url))
                proxies.append(p)
                clock = FixedClock(int(time.time()))
                c = await CoveClient.init(tmp_path / n, "pw", p.url, n, None, clock=clock)
                stack.push_async_callback(c.close)
                clients.append(c)
            a = clients[0]
            gid = await a.create_group("circle")
            await a.add_members(gid, [c.account.handle for c in clients[1:]])
            for c in clients[1:]:
                assert (await c.sync()).joined == 1
            await asyncio.wait_for(scenario(clients, proxies, gid), 120)

    asyncio.run(go())


def names(prefix: str, n: int = 2) -> tuple[str, ...]:
    return tuple(f"{prefix}{i}-{time.time_ns() % 10**8}" for i in range(n))


def text(kind: str, **f: object) -> str:
    return TEXTS[kind].format(group="circle", **f)


async def posts(c: CoveClient, gid: bytes) -> list[str]:
    return [m.body for m in await c.read(gid) if m.type == "post"]


def kinds(report: E.Envelope | object) -> list[str]:
    return [d.kind for d in report.detections]  # type: ignore[attr-defined]


def test_drop_is_a_gap_and_the_late_message_is_read(tmp_path: Path, relay: RelayProcess) -> None:
    async def scenario(cs: list[CoveClient], ps: list[HostileProxy], gid: bytes) -> None:
        a, b = cs
        thread = await a.new_thread(gid, "t")
        await b.sync()
        for i in range(3):
            await a.post(gid, thread, f"p{i}")
        head = max(m.seq for m in await a.read(gid) if m.seq)
        dropped = head - 1
        ps[1].pages = lambda g, page: E.MessagePage(
            messages=tuple(m for m in page.messages if m.seq != dropped),
            next=page.next, more=page.more,
        )  # fmt: skip
        r = await b.sync()
        assert kinds(r) == ["gap"]
        assert r.detections[0].text == text("gap", a=dropped, b=dropped)
        assert "p1" not in await posts(b, gid)
        ps[1].pages = None
        r = await b.sync()
        assert kinds(r) == ["late"] and r.detections[0].text == text("late", a=dropped)
        assert await posts(b, gid) == ["p0", "p1", "p2"]

    run(tmp_path, relay, names("drop"), scenario)


def test_reorder_is_seen_and_everything_read_in_order(tmp_path: Path, relay: RelayProcess) -> None:
    async def scenario(cs: list[CoveClient], ps: list[HostileProxy], gid: bytes) -> None:
        a, b = cs
        thread = await a.new_thread(gid, "t")
        await b.sync()
        for i in range(3):
            await a.post(gid, thread, f"p{i}")

        def swap(g: str, page: E.MessagePage) -> E.MessagePage:
            m = list(page.messages)
            if len(m) >= 2:
                m[0], m[1] = m[1], m[0]
            return E.MessagePage(messages=tuple(m), next=page.next, more=page.more)

        ps[1].pages = swap
        r = await b.sync()
        first = min(d.seq for d in r.detections)
        assert kinds(r) == ["gap", "reordered", "late"]
        assert r.detections[1].text == text("reordered", a=first, b=first + 1)
        assert await posts(b, gid) == ["p0", "p1", "p2"]

    run(tmp_path, relay, names("order"), scenario)


def test_replay_and_replay_under_a_fake_position(tmp_path: Path, relay: RelayProcess) -> None:
    async def scenario(cs: list[CoveClient], ps: list[HostileProxy], gid: bytes) -> None:
        a, b = cs
        thread = await a.new_thread(gid, "t")
        await a.post(gid, thread, "old")
        captured: dict[int, bytes] = {}

        def keep(g: str, page: E.MessagePage) -> E.MessagePage:
            for m in page.messages:
                captured[m.seq] = m.message
            return page

        ps[1].pages = keep
        await b.sync()
        head = max(captured)
        raw = captured[head]
        # The relay appends the old post again under head+5.
        ps[1].pages = lambda g, page: E.MessagePage(
            messages=(*page.messages,
                      E.LoggedMessage(seq=head + 5, message=raw, received_at=0)),
            next=head + 5, more=False,
        )  # fmt: skip
        r = await b.sync()
        assert kinds(r) == ["gap", "replayed"]
        assert r.detections[0].text == text("gap", a=head + 1, b=head + 4)
        assert r.detections[1].text == text("replayed", a=head + 5)
        ps[1].pages = None
        # The real messages that take positions head+1 … head+5 are not skipped.
        for i in range(5):
            await a.post(gid, thread, f"new{i}")
        r = await b.sync()
        assert "history_changed" in kinds(r)
        assert await posts(b, gid) == ["old", "new0", "new1", "new2", "new3", "new4"]

    run(tmp_path, relay, names("replay"), scenario)


def test_forged_404_keeps_the_keys(tmp_path: Path, relay: RelayProcess) -> None:
    async def scenario(cs: list[CoveClient], ps: list[HostileProxy], gid: bytes) -> None:
        a, b = cs
        thread = await a.new_thread(gid, "t")
        ps[1].refuse = {gid.hex()}
        r = await b.sync()
        assert kinds(r) == ["access_refused"]
        assert r.detections[0].text == text("access_refused")
        assert r.left == ()
        assert (await b.groups())[0].active
        ps[1].refuse = set()
        await a.post(gid, thread, "still here")
        await b.sync()
        assert await posts(b, gid) == ["still here"]
        assert [d.kind for d in await b.detections(gid)] == ["access_refused"]

    run(tmp_path, relay, names("refuse"), scenario)


def test_fork_is_detected_by_both_sides(tmp_path: Path, relay: RelayProcess) -> None:
    async def scenario(cs: list[CoveClient], ps: list[HostileProxy], gid: bytes) -> None:
        a, b, c = cs
        thread = await a.new_thread(gid, "t")
        await b.sync()
        await c.sync()
        # c's relay hides a's commit from c and takes c's own commit without sequencing it.
        await a.update_keys(gid)
        hidden = {m.seq for m in []}
        async with a.store.transaction() as txn:
            rec = await a.states.record(txn, gid)
            assert rec is not None
            hidden.add(rec.handshake)
        ps[2].pages = lambda g, page: E.MessagePage(
            messages=tuple(m for m in page.messages if m.seq not in hidden),
            next=page.next, more=page.more,
        )  # fmt: skip
        ps[2].swallow_handshake = True
        await c.update_keys(gid)
        assert ps[2].swallowed
        await b.sync()
        await c.post(gid, thread, "from the other side")
        await b.post(gid, thread, "from this side")
        rb = await b.sync()
        rc = await c.sync()
        assert "fork" in kinds(rb) and "fork" in kinds(rc)
        assert [d.text for d in rb.detections if d.kind == "fork"] == [text("fork")]

    run(tmp_path, relay, names("fork", 3), scenario)


def test_missing_commit_strands_and_a_re_add_recovers(tmp_path: Path, relay: RelayProcess) -> None:
    async def scenario(cs: list[CoveClient], ps: list[HostileProxy], gid: bytes) -> None:
        a, b = cs
        thread = await a.new_thread(gid, "t")
        await b.sync()
        await a.update_keys(gid)
        async with a.store.transaction() as txn:
            rec = await a.states.record(txn, gid)
            assert rec is not None
            commit = rec.handshake
        ps[1].pages = lambda g, page: E.MessagePage(
            messages=tuple(m for m in page.messages if m.seq != commit),
            next=page.next, more=page.more,
        )  # fmt: skip
        await a.post(gid, thread, "new epoch")
        r = await b.sync()
        assert "stranded" in kinds(r)
        assert [d.text for d in r.detections if d.kind == "stranded"] == [text("stranded")]
        with pytest.raises(GroupStranded, match="what you send would be unreadable"):
            await b.post(gid, thread, "lost")
        # A moderator removes and adds her again; she rejoins and reads on.
        ps[1].pages = None
        await a.remove_member(gid, b.account.handle)
        await a.add_members(gid, [b.account.handle])
        r = await b.sync()
        assert r.joined == 1 and "rejoined" in kinds(r)
        await b.post(gid, thread, "back")
        await a.sync()
        assert (await posts(a, gid))[-1] == "back"

    run(tmp_path, relay, names("strand"), scenario)


def test_withheld_welcome_and_a_used_key_package(tmp_path: Path, relay: RelayProcess) -> None:
    async def scenario(cs: list[CoveClient], ps: list[HostileProxy], gid: bytes) -> None:
        a, b, c = cs
        # The relay serves b's consumed one-time KeyPackage again (a replayed claim).
        first: dict[bytes, E.ClaimResponse] = {}

        def record(body: E.ClaimResponse) -> E.ClaimResponse:
            return first.setdefault(body.account_id, body)

        ps[0].claims = record
        g2 = await a.create_group("circle")
        await a.add_members(g2, [b.account.handle])
        await b.sync()
        g3 = await a.create_group("circle")
        await a.add_members(g3, [b.account.handle])
        r = await b.sync()
        assert r.joined == 0 and kinds(r) == ["key_package_reused"]
        assert r.detections[0].text == TEXTS["key_package_reused"]
        # and a, whose added member never appears, is told after JOIN_WAIT (below)
        # c's inbox is withheld: c never joins the new group; a is told after JOIN_WAIT.
        ps[2].inbox = lambda page: E.InboxPage(entries=())
        g4 = await a.create_group("circle")
        await a.add_members(g4, [c.account.handle])
        assert (await c.sync()).joined == 0
        assert "welcome_missing" not in kinds(await a.sync())
        a.clock.advance(JOIN_WAIT)  # type: ignore[attr-defined]
        r = await a.sync()
        got = sorted(d.text for d in r.detections if d.kind == "welcome_missing")
        want = sorted(text("welcome_missing", who=h) for h in (b.account.handle, c.account.handle))
        assert got == want  # b never joined g3 (used KeyPackage); c never got g4's Welcome

    run(tmp_path, relay, names("kp", 3), scenario)


def test_listen_shows_a_detection(tmp_path: Path, relay: RelayProcess) -> None:
    async def scenario(cs: list[CoveClient], ps: list[HostileProxy], gid: bytes) -> None:
        b = cs[1]
        ps[1].refuse = {gid.hex()}
        seen: list[str] = []
        stop = asyncio.Event()

        def status(line: str) -> None:
            seen.append(line)
            if line.startswith("warning:"):
                stop.set()

        await b.listen(lambda g, v: None, stop, on_status=status)
        assert seen[0] == "warning: " + text("access_refused")

    run(tmp_path, relay, names("listen"), scenario)


def test_own_post_replaced_is_reported(tmp_path: Path, relay: RelayProcess) -> None:
    async def scenario(cs: list[CoveClient], ps: list[HostileProxy], gid: bytes) -> None:
        a = cs[0]
        thread = await a.new_thread(gid, "t")
        await a.post(gid, thread, "mine")
        (mine,) = [m.seq for m in await a.read(gid) if m.type == "post"]
        other = fake_private_message(gid)
        ps[0].pages = lambda g, page: E.MessagePage(
            messages=tuple(
                E.LoggedMessage(seq=m.seq, message=other, received_at=m.received_at)
                if m.seq == mine else m
                for m in page.messages
            ),
            next=page.next, more=page.more,
        )  # fmt: skip
        r = await a.sync()
        assert kinds(r) == ["own_replaced"]
        assert r.detections[0].text == text("own_replaced", a=mine)

    run(tmp_path, relay, names("own"), scenario)


def test_stale_key_package_is_refused(tmp_path: Path, relay: RelayProcess) -> None:
    async def scenario(cs: list[CoveClient], ps: list[HostileProxy], gid: bytes) -> None:
        a, b = cs
        acct = b.account
        then = a.clock.now() - 400 * 86400
        stale = make_key_package(
            acct.handle,
            Ed25519PrivateKey.from_private_bytes(acct.identity_private),
            Ed25519PrivateKey.from_private_bytes(acct.device_private),
            now=then,
        )
        ps[0].claims = lambda body: E.ClaimResponse(
            account_id=body.account_id, identity_key=body.identity_key,
            key_packages=tuple(
                E.ClaimedKeyPackage(device_id=k.device_id, device_key=k.device_key,
                                    key_package=stale, last_resort=k.last_resort)
                for k in body.key_packages
            ),
        )  # fmt: skip
        g2 = await a.create_group("circle")
        with pytest.raises(UnusableKeyPackage, match=r"\[V-LEAF-005\].*nobody was added"):
            await a.add_members(g2, [acct.handle])
        (found,) = await a.detections(g2)
        assert found.kind == "stale_key_package"
        assert found.text == text("stale_key_package", who=acct.handle)
        assert [m.handle for m in await a.members(g2)] == [a.account.handle]

    run(tmp_path, relay, names("stale"), scenario)


def test_drop_with_renumbering_is_a_per_sender_gap(tmp_path: Path, relay: RelayProcess) -> None:
    async def scenario(cs: list[CoveClient], ps: list[HostileProxy], gid: bytes) -> None:
        a, b = cs
        thread = await a.new_thread(gid, "t")
        await b.sync()
        for i in range(3):
            await a.post(gid, thread, f"p{i}")
        dropped = max(m.seq or 0 for m in await a.read(gid)) - 1

        def renumber(g: str, page: E.MessagePage) -> E.MessagePage:
            kept = tuple(
                E.LoggedMessage(seq=m.seq - (m.seq > dropped), message=m.message,
                                received_at=m.received_at)
                for m in page.messages if m.seq != dropped
            )  # fmt: skip
            return E.MessagePage(messages=kept, next=page.next - 1, more=page.more)

        ps[1].pages = renumber
        r = await b.sync()
        assert kinds(r) == ["sender_gap"]
        assert r.detections[0].text == text("sender_gap", n=1, who=a.account.handle)
        assert await posts(b, gid) == ["p0", "p2"]

    run(tmp_path, relay, names("renum"), scenario)
