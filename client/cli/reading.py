"""``cove unread``, ``cove mark-read`` and ``cove draft …``: read markers and drafts,
kept in the encrypted store (the app's new-message counts and composers use them too)."""

from __future__ import annotations

from argparse import Namespace
from typing import TYPE_CHECKING

from cove.client.cli.output import GROUP_HELP, Output
from cove.client.cli.registry import arg, command, topic

if TYPE_CHECKING:
    from cove.client.service import CoveClient

topic("draft", "drafts: messages started and not sent yet")


@command("unread", "new messages not yet marked read, per thread", arg("group", help=GROUP_HELP))
async def unread(c: CoveClient, args: Namespace, out: Output) -> None:
    gid = await c.resolve_group(args.group)
    counts = await c.unread(gid)
    docs = [{"thread": t.hex() if t else None, "unread": n} for t, n in counts.items()]
    out.emit(
        {"group": gid.hex(), "unread": sum(counts.values()), "places": docs},
        "\n".join(
            f"{(t.hex()[:8] if t else 'outside threads')}  {n} new" for t, n in counts.items()
        )
        or "nothing new",
    )


@command(
    "mark-read",
    "mark a thread (or, without one, the private messages) as read",
    arg("group", help=GROUP_HELP),
    arg("thread", nargs="?", help="the thread's id (or a unique start of it)"),
)
async def mark_read(c: CoveClient, args: Namespace, out: Output) -> None:
    gid = await c.resolve_group(args.group)
    tid = await c.resolve_message(args.thread) if args.thread else None
    seq = await c.mark_read(gid, tid)
    out.emit({"group": gid.hex(), "thread": tid.hex() if tid else None, "read_to": seq},
             f"read up to {seq}")  # fmt: skip


@command(
    "draft save",
    "keep a draft (empty text: delete it)",
    arg("place", help="where the draft belongs, for example t:THREAD-ID or dm:HANDLE"),
    arg("text", help="what you have written so far"),
    arg("--title", default="", help="a new thread's title"),
)
async def draft_save(c: CoveClient, args: Namespace, out: Output) -> None:
    await c.save_draft(args.place, args.text, args.title)
    out.emit({"ok": True}, "draft kept")


@command("draft show", "show one draft", arg("place", help="the draft's place"))
async def draft_show(c: CoveClient, args: Namespace, out: Output) -> None:
    d = await c.draft(args.place)
    out.emit(
        None if d is None else {"place": d.place, "title": d.title, "text": d.text},
        "no draft" if d is None else (f"«{d.title}»\n" if d.title else "") + d.text,
    )


@command("drafts", "the places that have a draft")
async def drafts(c: CoveClient, args: Namespace, out: Output) -> None:
    del args
    ds = await c.all_drafts()
    out.emit([{"place": d.place, "saved_at": d.saved_at} for d in ds],
             "\n".join(d.place for d in ds) or "no drafts")  # fmt: skip


@command("draft delete", "delete a draft", arg("place", help="the draft's place"))
async def draft_delete(c: CoveClient, args: Namespace, out: Output) -> None:
    await c.delete_draft(args.place)
    out.emit({"ok": True}, "draft deleted")
