"""``cove sync`` and ``cove listen``."""

from __future__ import annotations

import asyncio
import signal
from argparse import Namespace

from cove.client.cli.output import Output, message_doc, message_text
from cove.client.cli.registry import command
from cove.client.records import MessageView
from cove.client.service import CoveClient


@command("sync", "fetch and process everything: invitations, messages, key updates")
async def sync(c: CoveClient, args: Namespace, out: Output) -> None:
    r = await c.sync()
    views = {g.group_id: g for g in await c.groups()}
    lines = [
        f"{r.received} new messages in {r.groups} groups; joined {r.joined}; "
        f"{r.quarantined} could not be processed"
    ]
    left = []
    for gid in r.left:
        g = views.get(gid)
        name = (g.name or g.peer) if g else gid.hex()[:8]
        by = f" by {g.removed_by}" if g and g.removed_by else ""
        lines.append(f"you were removed from «{name}»{by} (or left it from another device)")
        left.append({"id": gid.hex(), "name": name, "removed_by": g.removed_by if g else None})
    for ev in r.events:
        g = views.get(ev.group or b"")
        lines.append(f"* in «{g.name or g.peer}»: {ev.body}" if g else f"* {ev.body}")
    out.emit(
        {"groups": r.groups, "received": r.received, "joined": r.joined,
         "quarantined": r.quarantined, "commits": r.commits, "left": left,
         "events": [{"group": (e.group or b"").hex(), "kind": e.title, "text": e.body}
                    for e in r.events]},
        "\n".join(lines),
    )  # fmt: skip


@command("listen", "stay connected and print new messages as they arrive (Ctrl-C stops)")
async def listen(c: CoveClient, args: Namespace, out: Output) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for s in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(s, stop.set)
    names: dict[bytes, str] = {}

    async def where(group_id: bytes) -> str:
        if group_id not in names:
            for g in await c.groups():
                names[g.group_id] = f"dm with {g.peer}" if g.kind == "dm" else g.name
        return names.get(group_id, group_id.hex()[:8])

    async def show(group_id: bytes, m: MessageView) -> None:
        place = await where(group_id)
        out.emit(
            {"group": group_id.hex(), "where": place, **message_doc(m)},
            message_text(m, f"in {place}: "),
        )

    def status(text: str) -> None:
        out.note(f"cove: {text}")

    await c.listen(show, stop, on_status=status)
