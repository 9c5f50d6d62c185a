"""Group rules on a real relay (issue 11, item 4): moderators set them, members
accept before posting, and every receiver enforces it — also against a member who
goes under her client and encrypts records with her MLS group directly."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from cove.client import CoveClient
from cove.client.errors import NoPermission
from cove.client.features import moderation as mod
from cove.client.features import rules_gate as gate
from cove.client.features.rules import current_rules
from cove.client.features.rules_gate import RulesNotAccepted
from cove.protocol.app import Post, new_record_id
from cove.protocol.app.join_records import Rules, RulesAcceptance
from cove.protocol.relay_integrity import authenticated_data
from cove.protocol.wire import envelopes as E
from tests.support.relay_process import RelayProcess

pytestmark = pytest.mark.integration


async def clients(root: Path, url: str, *names: str) -> list[CoveClient]:
    return [await CoveClient.init(root / n, "pw", url, n, None) for n in names]


async def hostile_record(c: CoveClient, gid: bytes, record: Any) -> None:
    """A record her client would refuse to send, encrypted with her Group directly and
    posted with the relay API (no sender check runs)."""
    await c.sync()
    async with c.store.transaction() as txn:
        rec, group = await c.states.load(txn, gid)
        message = group.encrypt(record.encode(), authenticated_data(group))
        await c.states.save(txn, rec, group)
    req = E.PostMessageRequest(idempotency_key=c.rng.random_bytes(16), message=message)
    await c.call("post_message", req, path={"group_id": gid.hex()})


async def refusals(c: CoveClient, gid: bytes) -> list[tuple[str, str]]:
    async with c.store.transaction() as txn:
        return [(r.rule, r.text) for r in await mod.events(txn, gid) if r.kind == "refused"]


async def bodies(c: CoveClient, gid: bytes) -> list[str]:
    return [m.body for m in await c.read(gid) if m.type != "event"]


def test_members_accept_the_rules_before_posting_and_receivers_enforce_it(
    tmp_path: Path, relay: RelayProcess
) -> None:
    async def go() -> None:
        olga, ana, cara, dan = await clients(tmp_path, relay.url, "olga", "ana", "cara", "dan")
        everyone = [olga, ana, cara, dan]
        try:
            gid = await olga.create_group("Long covid circle")
            await olga.add_members(gid, ["ana", "cara", "dan"])
            for c in everyone:
                await c.sync()
            # a post from before the rules: dan reads it only after the rules came
            tid = await ana.new_thread(gid, "Pacing", "what works for you?")
            assert (await olga.rules.show(gid)).version == 0

            version = await olga.rules.set(gid, "Be kind.\nWhat is said here stays here.")
            assert version == 1
            shown = await olga.rules.show(gid)
            assert (shown.version, shown.accepted, shown.set_by) == (1, True, "olga")

            await ana.sync()
            view = await ana.rules.show(gid)
            assert (view.version, view.text, view.accepted) == (
                1, "Be kind.\nWhat is said here stays here.", False,
            )  # fmt: skip
            with pytest.raises(RulesNotAccepted) as refused:
                await ana.post(gid, tid, "me first")
            assert refused.value.rule == "invite.rules.not_accepted"
            assert "cove rules accept" in str(refused.value)
            assert await ana.rules.accept(gid) == 1
            await ana.post(gid, tid, "pacing saved me")

            # dan syncs the whole log at once: the thread from before the rules counts,
            # ana's reply after her acceptance counts
            await dan.sync()
            assert await bodies(dan, gid) == ["what works for you?", "pacing saved me"]
            assert await refusals(dan, gid) == []

            # cara goes under her client: a post without accepting, a Rules record
            # though she is no moderator, an acceptance with a forged signature
            await hostile_record(cara, gid, Post(
                id=new_record_id(cara.rng), sent_at=1, thread=tid, body="no rules for me",
            ))  # fmt: skip
            await hostile_record(cara, gid, Rules(
                id=new_record_id(cara.rng), sent_at=1, version=1, salt=b"\x01" * 16,
                text="anything goes",
            ))  # fmt: skip
            await hostile_record(cara, gid, RulesAcceptance(
                id=new_record_id(cara.rng), sent_at=1, version=1, rules_hash=b"\x02" * 32,
                signature=b"\x03" * 64,
            ))  # fmt: skip
            for c in (olga, ana, dan):
                await c.sync()
                rules = [rule for rule, _ in await refusals(c, gid)]
                assert rules == [
                    "invite.rules.not_accepted",
                    "policy.record.rules_requires_moderator",
                    "policy.record.acceptance_invalid",
                ], c.account.handle
                assert "no rules for me" not in await bodies(c, gid)
                assert (await c.rules.show(gid)).text == "Be kind.\nWhat is said here stays here."
            texts = [t for _, t in await refusals(dan, gid)]
            assert texts[0] == (
                "cara tried to post — refused: cara has not accepted the group's current "
                "rules (version 1)"
            )

            # a moderator's Rules record whose text is not the settings' hash
            await hostile_record(olga, gid, Rules(
                id=new_record_id(olga.rng), sent_at=1, version=1, salt=b"\x04" * 16,
                text="a different text",
            ))  # fmt: skip
            await ana.sync()
            assert (await refusals(ana, gid))[-1][0] == "policy.record.rules_mismatch"
            assert (await ana.rules.show(gid)).text == "Be kind.\nWhat is said here stays here."

            # what the invites feature puts in a link's preview
            async with olga.store.transaction() as txn:
                current = await current_rules(txn, gid)
            assert current is not None
            assert (current.version, current.text) == (1, "Be kind.\nWhat is said here stays here.")

            # who accepted which version: moderators only
            assert await olga.rules.acceptances(gid) == {0: ["cara", "dan"], 1: ["ana", "olga"]}
            with pytest.raises(NoPermission):
                await ana.rules.acceptances(gid)
            with pytest.raises(NoPermission):
                await ana.rules.set(gid, "my rules")

            # new rules: everyone re-accepts before the next post
            assert await olga.rules.set(gid, "Be kind. No medical advice.") == 2
            await ana.sync()
            with pytest.raises(RulesNotAccepted):
                await ana.post(gid, tid, "still here")
            await ana.rules.accept(gid)
            await ana.post(gid, tid, "still here")
            await dan.sync()
            assert (await bodies(dan, gid))[-1] == "still here"
            await olga.sync()
            assert await olga.rules.acceptances(gid) == {0: ["cara", "dan"], 2: ["ana", "olga"]}

            # a newcomer to a group that shares nothing: the rules are sent again for her
            (eve,) = await clients(tmp_path, relay.url, "eve")
            everyone.append(eve)
            await olga.add_members(gid, ["eve"])
            await eve.sync()
            assert await eve.threads(gid) == []
            view = await eve.rules.show(gid)
            assert (view.version, view.text, view.accepted) == (
                2, "Be kind. No medical advice.", False,
            )  # fmt: skip
            await eve.rules.accept(gid)
            eve_tid = await eve.new_thread(gid, "Hello", "new here")
            # she cannot read the acceptances sent before she came: olga's app sent
            # them (an AcceptanceList) right after adding her, so she takes ana's post
            # and would refuse cara's and dan's, like everyone else
            async with eve.store.transaction() as txn:
                seeded = await gate.acceptances(txn, gid)
            assert sorted(r.identity_key for r in seeded) == sorted(
                [olga.account.identity_key, ana.account.identity_key, eve.account.identity_key]
            )
            await ana.sync()
            await ana.post(gid, tid, "welcome eve")
            await eve.sync()
            assert "welcome eve" in await bodies(eve, gid)
            assert await refusals(eve, gid) == []
            await dan.sync()
            assert [m.body for m in await dan.read(gid, eve_tid)] == ["new here"]
            assert [r for r, _ in await refusals(dan, gid)].count("invite.rules.not_accepted") == 1
        finally:
            for c in everyone:
                await c.close()

    asyncio.run(go())
