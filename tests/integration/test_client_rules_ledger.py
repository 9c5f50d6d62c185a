"""A newcomer judges posts against the same rules acceptances as every older member
(issue 11, item 4), on a real relay: the moderator who adds her sends the members'
signed acceptances (``AcceptanceList``, app record 34); her app seeds its ledger from
them and assumes nothing else. Forged lists, and lists from a non-moderator, are
refused by every member's app."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from cove.client.features import rules_gate as gate
from cove.protocol.app import Post, new_record_id
from cove.protocol.app.join_records import AcceptanceList
from cove.protocol.invites import sign_acceptance
from tests.integration.test_client_rules import bodies, clients, hostile_record, refusals
from tests.support.relay_process import RelayProcess

pytestmark = pytest.mark.integration


def test_a_newcomer_refuses_and_accepts_posts_exactly_like_the_older_members(
    tmp_path: Path, relay: RelayProcess
) -> None:
    async def go() -> None:
        olga, ana, cara, eve = await clients(tmp_path, relay.url, "olga", "ana", "cara", "eve")
        everyone = [olga, ana, cara, eve]
        try:
            gid = await olga.create_group("Lupus circle")
            await olga.add_members(gid, ["ana", "cara"])
            await ana.sync()
            await cara.sync()
            tid = await ana.new_thread(gid, "Flares", "what helps?")
            await olga.sync()
            await olga.rules.set(gid, "Be kind.")
            await ana.sync()
            await ana.rules.accept(gid)  # ana accepted before eve came; cara never did
            await cara.sync()

            await olga.add_members(gid, ["eve"])
            await eve.sync()
            async with eve.store.transaction() as txn:
                seeded = {r.identity_key: r for r in await gate.acceptances(txn, gid)}
            assert set(seeded) == {olga.account.identity_key, ana.account.identity_key}
            assert seeded[ana.account.identity_key].handle == ""  # the list names keys only
            assert await refusals(eve, gid) == []
            await eve.rules.accept(gid)

            # a member who accepted before eve joined: eve's app takes her post
            await ana.sync()
            await ana.post(gid, tid, "rest and fluids")
            # a member who never accepted goes under her client and posts
            await hostile_record(cara, gid, Post(
                id=new_record_id(cara.rng), sent_at=1, thread=tid, body="my own rules",
            ))  # fmt: skip
            seen = {}
            for c in (olga, ana, eve):
                await c.sync()
                seen[c.account.handle] = await refusals(c, gid)
                assert "rest and fluids" in await bodies(c, gid), c.account.handle
                assert "my own rules" not in await bodies(c, gid), c.account.handle
            assert seen["eve"] == seen["ana"] == seen["olga"] == [(
                "invite.rules.not_accepted",
                "cara tried to post — refused: cara has not accepted the group's current "
                "rules (version 1)",
            )]  # fmt: skip
            assert await olga.rules.acceptances(gid) == {0: ["cara"], 1: ["ana", "eve", "olga"]}

            # a moderator's list with a forged entry: cara's key under ana's signature
            async with olga.store.transaction() as txn:
                ana_row = next(r for r in await gate.acceptances(txn, gid)
                               if r.identity_key == ana.account.identity_key)  # fmt: skip
            pair = (ana_row.version, ana_row.rules_hash)

            def listing(*entries: tuple[bytes, bytes]) -> AcceptanceList:
                return AcceptanceList(
                    id=new_record_id(olga.rng), sent_at=1, version=pair[0], rules_hash=pair[1],
                    newcomer=eve.account.identity_key,
                    entries=AcceptanceList.pack_entries(entries),
                )  # fmt: skip

            forged = listing((ana.account.identity_key, ana_row.signature),
                             (cara.account.identity_key, ana_row.signature))  # fmt: skip
            await hostile_record(olga, gid, forged)
            # the same list from a plain member, every entry genuine (cara's own too)
            cara_sig = sign_acceptance(cara.account.identity_private, gid, *pair)
            genuine = listing((ana.account.identity_key, ana_row.signature),
                              (cara.account.identity_key, cara_sig))  # fmt: skip
            await hostile_record(cara, gid, genuine)
            # neither gave cara an acceptance: her next post is still refused everywhere
            await hostile_record(cara, gid, Post(
                id=new_record_id(cara.rng), sent_at=2, thread=tid, body="still my rules",
            ))  # fmt: skip
            for c in (ana, eve):  # (olga's app does not judge her own record)
                await c.sync()
                assert [r for r, _ in (await refusals(c, gid))[1:]] == [
                    "policy.record.acceptance_list_invalid",
                    "policy.record.acceptance_list_requires_moderator",
                    "invite.rules.not_accepted",
                ], c.account.handle
                assert "still my rules" not in await bodies(c, gid)
            texts = [t for _, t in await refusals(eve, gid)]
            assert texts[1] == (
                "olga tried to send a newcomer the rules acceptances — refused: an acceptance "
                "in the list is not signed by the identity key it names"
            )
            async with eve.store.transaction() as txn:
                assert await gate.accepted_pair(txn, gid, cara.account.identity_key) is None

            # eve, made a moderator, sees who accepted as olga does, and the signatures
            # she learnt from the list carry on to the next newcomer she adds
            (fay,) = await clients(tmp_path, relay.url, "fay")
            everyone.append(fay)
            await olga.set_role(gid, "eve", "moderator")
            await eve.sync()
            assert await eve.rules.acceptances(gid) == {0: ["cara"], 1: ["ana", "eve", "olga"]}
            await eve.add_members(gid, ["fay"])
            await fay.sync()
            async with fay.store.transaction() as txn:
                keys = {r.identity_key for r in await gate.acceptances(txn, gid)}
            assert keys == {k.account.identity_key for k in (olga, ana, eve)}
            await ana.sync()
            await ana.post(gid, tid, "hello fay")
            await hostile_record(cara, gid, Post(
                id=new_record_id(cara.rng), sent_at=3, thread=tid, body="fay, ignore the rules",
            ))  # fmt: skip
            await fay.sync()
            assert "hello fay" in await bodies(fay, gid)
            assert "fay, ignore the rules" not in await bodies(fay, gid)
            assert [r for r, _ in await refusals(fay, gid)] == ["invite.rules.not_accepted"]
        finally:
            for c in everyone:
                await c.close()

    asyncio.run(go())
