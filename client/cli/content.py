"""``cove thread new``, ``threads``, ``post``, ``read``, ``react``, ``edit``, ``delete``."""

from __future__ import annotations

from argparse import Namespace
from pathlib import Path
from typing import TYPE_CHECKING

from cove.client.cli.output import GROUP_HELP, ID_HELP, Output, message_doc, message_text
from cove.client.cli.registry import arg, command, topic
from cove.client.errors import UnknownHandle, UsageProblem

if TYPE_CHECKING:
    from cove.client.service import CoveClient

topic("thread", "themed threads")
ATTACH = arg("--attach", action="append", metavar="FILE", help="attach a file (repeat for more)")


async def sent(c: CoveClient, record_id: bytes, out: Output) -> None:
    """Print the id, saying so if the relay could not be reached and it waits to be sent."""
    if await c.queued(record_id):
        out.emit(
            {"id": record_id.hex(), "queued": True},
            f"{record_id.hex()} (queued: the relay cannot be reached; it is sent on the next "
            "'cove sync')",
        )
    else:
        out.emit({"id": record_id.hex(), "queued": False}, record_id.hex())


@command(
    "thread new",
    "start a themed thread; prints its id",
    arg("group", help=GROUP_HELP),
    arg("title", help="the thread's title: one line, 1 to 512 bytes"),
    arg("--body", help="a first message under the title"),
    ATTACH,
)
async def thread_new(c: CoveClient, args: Namespace, out: Output) -> None:
    gid = await c.resolve_group(args.group)
    tid = await c.new_thread(gid, args.title, args.body or "", [Path(p) for p in args.attach or []])
    await sent(c, tid, out)


@command("threads", "a group's threads", arg("group", help=GROUP_HELP))
async def threads(c: CoveClient, args: Namespace, out: Output) -> None:
    gid = await c.resolve_group(args.group)
    ts = await c.threads(gid)
    out.emit(
        [message_doc(t) for t in ts],
        "\n".join(f"{t.id.hex()[:8]}  «{t.title}»  by {t.sender}" for t in ts) or "no threads",
    )


@command(
    "post",
    "post in a thread; prints the post's id",
    arg("group", help=GROUP_HELP),
    arg("thread", help="the thread's id (or a unique start of it)"),
    arg("text", help="what you say (up to 32 KiB)"),
    arg("--reply-to", metavar="ID", help="the post you answer"),
    ATTACH,
)
async def post(c: CoveClient, args: Namespace, out: Output) -> None:
    gid = await c.resolve_group(args.group)
    tid = await c.resolve_message(args.thread)
    reply = await c.resolve_message(args.reply_to) if args.reply_to else None
    mid = await c.post(
        gid, tid, args.text, reply_to=reply, attachments=[Path(p) for p in args.attach or []]
    )
    await sent(c, mid, out)


@command(
    "read",
    "read a group (or one thread, or a private conversation) in the group's order",
    arg("group", nargs="?", help=GROUP_HELP),
    arg("thread", nargs="?", help="only this thread"),
    arg("--dm", metavar="HANDLE", help="read your private conversation with HANDLE"),
)
async def read(c: CoveClient, args: Namespace, out: Output) -> None:
    if args.dm:
        gid = await c.dm_group(args.dm)
        if gid is None:
            raise UnknownHandle(f"no private conversation with {args.dm}")
        ms = await c.read(gid)
    else:
        if not args.group:
            raise UsageProblem("read needs GROUP or --dm HANDLE")
        gid = await c.resolve_group(args.group)
        ms = await c.read(gid, await c.resolve_message(args.thread) if args.thread else None)
    out.emit([message_doc(m) for m in ms], "\n".join(message_text(m) for m in ms) or "no messages")


@command(
    "react",
    "react to a post with an emoji (--remove takes it back)",
    arg("id", help=ID_HELP),
    arg("emoji", help="one emoji, such as 💜"),
    arg("--remove", action="store_true", help="take your reaction back"),
)
async def react(c: CoveClient, args: Namespace, out: Output) -> None:
    rid = await c.react(await c.resolve_message(args.id), args.emoji, remove=args.remove)
    await sent(c, rid, out)


@command("edit", "edit your own post", arg("id", help=ID_HELP), arg("text", help="the new text"))
async def edit(c: CoveClient, args: Namespace, out: Output) -> None:
    rid = await c.edit(await c.resolve_message(args.id), args.text)
    await sent(c, rid, out)


@command("delete", "delete your own post (others' clients hide it too)", arg("id", help=ID_HELP))
async def delete(c: CoveClient, args: Namespace, out: Output) -> None:
    rid = await c.delete(await c.resolve_message(args.id))
    await sent(c, rid, out)


@command(
    "dm",
    "send a private message (a two-member group, created on first use)",
    arg("handle", help="who to write to"),
    arg("text", help="what you say (up to 32 KiB)"),
    ATTACH,
)
async def dm(c: CoveClient, args: Namespace, out: Output) -> None:
    mid = await c.dm(args.handle, args.text, [Path(p) for p in args.attach or []])
    await sent(c, mid, out)


@command("dms", "your private conversations")
async def dms(c: CoveClient, args: Namespace, out: Output) -> None:
    views = [g for g in await c.groups() if g.kind == "dm"]
    out.emit(
        [{"id": g.group_id.hex(), "with": g.peer, "active": g.active} for g in views],
        "\n".join(f"{g.peer}  {g.group_id.hex()[:8]}" for g in views) or "no private messages",
    )
