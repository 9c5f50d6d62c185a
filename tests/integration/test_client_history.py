"""What a newcomer sees, on a real relay (issue 11, item 5): the history level the
group chose, shared end to end in a bundle; the welcome message; replies to threads
created before she joined. And the newcomer's app refusing shares it must not take:
from a plain member, or holding more than the group's level."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

import pytest

from cove.client import CoveClient
from cove.client.cli import main as cove_main
from cove.client.features import moderation as mod
from cove.protocol.app import new_record_id
from cove.protocol.app.join_records import HistoryShare
from cove.protocol.invites import (
    HistoryItem,
    HistoryLevel,
    build_bundle,
    seal_bundle,
    seal_bundle_key,
)
from tests.integration.test_client_rules import clients, hostile_record
from tests.support.canary import Canaries, scan_tree
from tests.support.relay_process import RelayProcess

pytestmark = pytest.mark.integration


def cove(capsys: pytest.CaptureFixture[str], home: Path, *args: str) -> Any:
    """The ``cove`` command in this process (``--json``); its document."""
    os.environ["COVE_PASSPHRASE"] = "pw"
    try:
        code = cove_main(["--home", str(home), "--json", *args])
    finally:
        del os.environ["COVE_PASSPHRASE"]
    out, err = capsys.readouterr()
    assert code == 0, (args, code, out, err)
    return json.loads(out.strip().splitlines()[-1])


def cove_fails(capsys: pytest.CaptureFixture[str], home: Path, *args: str) -> tuple[int, str]:
    os.environ["COVE_PASSPHRASE"] = "pw"
    try:
        code = cove_main(["--home", str(home), *args])
    finally:
        del os.environ["COVE_PASSPHRASE"]
    _, err = capsys.readouterr()
    return code, err


async def refused(c: CoveClient, gid: bytes) -> list[str]:
    async with c.store.transaction() as txn:
        return [r.rule for r in await mod.events(txn, gid) if r.kind == "refused"]


def test_newcomers_see_what_the_group_chose_and_reply_to_old_threads(
    tmp_path: Path, relay: RelayProcess, capsys: pytest.CaptureFixture[str]
) -> None:
    homes = {n: tmp_path / n for n in ("olga", "ana", "cara", "nia")}

    async def setup() -> dict[str, str]:
        olga, ana, cara, nia = await clients(tmp_path, relay.url, "olga", "ana", "cara", "nia")
        try:
            titles = await olga.create_group("Titles circle")
            full = await olga.create_group("Full circle")
            for gid in (titles, full):
                await olga.add_members(gid, ["ana", "cara"])
            await ana.sync()
            await cara.sync()
            ids: dict[str, str] = {"titles": titles.hex(), "full": full.hex()}
            for name, gid in (("titles", titles), ("full", full)):
                tid = await ana.new_thread(gid, f"Sleep ({name})", "BODY-SECRET night sweats")
                await ana.post(gid, tid, "REPLY-SECRET magnesium helped")
                ids[f"{name}_thread"] = tid.hex()
            await olga.sync()
            assert await olga.newcomers.set_history(titles, "titles") is True
            assert await olga.newcomers.set_history(full, HistoryLevel.FULL) is True
            await olga.newcomers.set_welcome(titles, "Welcome! Read the pinned rules first.")
            await olga.rules.set(titles, "Be kind.")
            await ana.sync()
            await ana.rules.accept(titles)
            return ids
        finally:
            for c in (olga, ana, cara, nia):
                await c.close()

    ids = asyncio.run(setup())
    olga, ana, nia = homes["olga"], homes["ana"], homes["nia"]

    # every member is shown the setting
    s = cove(capsys, ana, "group", "settings", ids["titles"])
    assert (s["history"], s["rules_version"], s["can_edit"]) == ("titles", 1, False)
    assert s["welcome"] == "Welcome! Read the pinned rules first."
    code, err = cove_fails(capsys, ana, "group", "history", ids["titles"], "full")
    assert code == 5 and "only moderators and owners" in err

    code, err = cove_fails(capsys, olga, "rules", "set", ids["full"])
    assert code == 2 and "give the rules with --text TEXT or --file FILE" in err
    cove(capsys, olga, "group", "welcome", ids["full"], "Hello from the full circle")

    # the organizer adds nia with ``cove group add`` in both groups
    for name in ("titles", "full"):
        assert cove(capsys, olga, "group", "add", ids[name], "nia")["added"] == ["nia"]
    cove(capsys, nia, "sync")

    # titles: exactly the titles, no bodies and no replies; the rules; the greeting
    threads = cove(capsys, nia, "threads", ids["titles"])
    assert [(t["title"], t["body"], t["sender"], t["shared_by"]) for t in threads] == [
        ("Sleep (titles)", "", "ana", "olga")
    ]
    read = cove(capsys, nia, "read", ids["titles"])
    assert "REPLY-SECRET" not in json.dumps(read) and "BODY-SECRET" not in json.dumps(read)
    assert read[0]["type"] == "event" and read[0]["body"] == (
        "olga: Welcome! Read the pinned rules first."
    )
    rules = cove(capsys, nia, "rules", "show", ids["titles"])
    assert (rules["text"], rules["accepted"]) == ("Be kind.", False)

    # full: the threads as the members read them
    assert cove(capsys, nia, "read", ids["full"])[0]["body"] == "olga: Hello from the full circle"
    read = cove(capsys, nia, "read", ids["full"], ids["full_thread"])
    assert [(m["sender"], m["body"], m["shared_by"]) for m in read] == [
        ("ana", "BODY-SECRET night sweats", "olga"),
        ("ana", "REPLY-SECRET magnesium helped", "olga"),
    ]

    # she replies to the threads created before she joined (after accepting the rules)
    code, err = cove_fails(capsys, nia, "post", ids["titles"], ids["titles_thread"], "hi")
    assert code == 5 and "accept them with 'cove rules accept \"Titles circle\"'" in err
    cove(capsys, nia, "rules", "accept", ids["titles"])
    for name in ("titles", "full"):
        cove(capsys, nia, "post", ids[name], ids[f"{name}_thread"], f"nia says hi ({name})")
    cove(capsys, olga, "sync")
    assert cove(capsys, olga, "rules", "accepted", ids["titles"]) == {
        "0": ["cara"], "1": ["ana", "nia", "olga"],
    }  # fmt: skip
    cove(capsys, ana, "sync")
    for name in ("titles", "full"):
        thread = cove(capsys, ana, "read", ids[name], ids[f"{name}_thread"])
        assert [(m["sender"], m["body"]) for m in thread][-1] == ("nia", f"nia says hi ({name})")
        assert all(m["shared_by"] is None for m in thread)

    # a share she must refuse: from a plain member, and one beyond the group's level
    async def hostile() -> None:
        olga_c = await CoveClient.open(olga, "pw")
        cara_c = await CoveClient.open(homes["cara"], "pw")
        nia_c = await CoveClient.open(nia, "pw")
        try:
            titles = bytes.fromhex(ids["titles"])
            await olga_c.sync()
            async with olga_c.store.transaction() as txn:
                _, group = await olga_c.states.load(txn, titles)
            leaf = next(m for m in group.members() if mod.handle_of(m.credential.identity) == "nia")
            async with olga_c.store.transaction() as txn:
                stored = await olga_c.messages.group(txn, titles)
            items = [
                HistoryItem(m.seq, 1, m.sender_key, m.sender, m.record.encode())
                for m in stored if m.seq is not None and m.sender_key
                and type(m.record).__name__ == "Post"
            ]  # fmt: skip
            bundle = build_bundle(titles, nia_c.account.identity_key, HistoryLevel.FULL, items,
                                  max(i.position for i in items))  # fmt: skip
            sealed = seal_bundle(bundle, olga_c.rng)
            blob_id = await olga_c.newcomers._upload(titles, sealed.blob)
            kem_output, sealed_key = seal_bundle_key(
                group.suite, leaf.encryption_key, group_id=titles, epoch=group.epoch,
                newcomer=nia_c.account.identity_key, key=sealed.key, rng=olga_c.rng,
            )  # fmt: skip
            share = HistoryShare(
                id=new_record_id(olga_c.rng), sent_at=1, newcomer=nia_c.account.identity_key,
                level=2, blob_id=blob_id, sha256=sealed.sha256, size=sealed.size,
                chunk_size=sealed.chunk_size, kem_output=kem_output, sealed_key=sealed_key,
            )  # fmt: skip
            await olga_c.outbox.send_record(titles, share)  # a moderator may send a share
            forged = HistoryShare(
                id=new_record_id(cara_c.rng), sent_at=1, newcomer=nia_c.account.identity_key,
                level=1, blob_id=blob_id, sha256=sealed.sha256, size=sealed.size,
                chunk_size=sealed.chunk_size, kem_output=kem_output, sealed_key=sealed_key,
            )  # fmt: skip
            await hostile_record(cara_c, titles, forged)
            await nia_c.sync()
            assert sorted(await refused(nia_c, titles)) == [
                "invite.history.beyond_setting",
                "policy.record.history_requires_moderator",
            ]
            bodies = [m.body for m in await nia_c.read(titles)]
            assert "REPLY-SECRET magnesium helped" not in bodies
        finally:
            for c in (olga_c, cara_c, nia_c):
                await c.close()

    asyncio.run(hostile())


def test_the_relay_never_sees_rules_welcome_or_shared_history(
    tmp_path: Path, relay: RelayProcess
) -> None:
    canaries = Canaries()

    async def go() -> None:
        olga, ana, ivy = await clients(tmp_path, relay.url, "olga2", "ana2", "ivy2")
        try:
            gid = await olga.create_group("Canary circle")
            await olga.add_members(gid, ["ana2"])
            await ana.sync()
            tid = await ana.new_thread(gid, canaries.new("title"), canaries.new("body"))
            await ana.post(gid, tid, canaries.new("reply"))
            await olga.sync()
            await olga.newcomers.set_history(gid, "full")
            await olga.rules.set(gid, canaries.new("rules"))
            await olga.newcomers.set_welcome(gid, canaries.new("welcome"))
            await olga.add_members(gid, ["ivy2"])
            await ivy.sync()
            # it all reached the newcomer, end to end
            seen = " ".join(f"{m.title} {m.body}" for m in await ivy.read(gid))
            for label in ("title", "body", "reply", "welcome"):
                assert canaries[label] in seen, label
            assert (await ivy.rules.show(gid)).text == canaries["rules"]
        finally:
            for c in (olga, ana, ivy):
                await c.close()

    asyncio.run(go())
    decoy = tmp_path / "decoy"
    decoy.mkdir()
    (decoy / "f").write_text(canaries["rules"])
    assert scan_tree(decoy, canaries.values()), "the scanner must find a planted canary"
    assert scan_tree(relay.data, canaries.values()) == []
