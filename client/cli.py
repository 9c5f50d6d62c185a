"""The ``cove`` command: a scriptable front end over :class:`cove.client.service.CoveClient`.

Global options come before the subcommand: ``cove --home DIR --json read GROUP``.
The passphrase comes from ``COVE_PASSPHRASE`` or a prompt (never an argument,
which would show in process lists). With ``--json`` every command prints one
JSON document; a command that creates something prints its id (``{"id": ...}``).
Exit codes: 0 ok, 1 other error, 2 usage, 3 wrong passphrase, 4 unknown group,
handle or message, 5 no permission, 6 relay unreachable, 7 a member's key
changed, 8 no account here, 9 damaged store.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cove.client.errors import ClientError, UsageProblem
from cove.client.service import CoveClient

EXIT_USAGE = 2


def default_home() -> Path:
    """The platform's user data folder: $XDG_DATA_HOME/cove, else ~/.local/share/cove
    (~/Library/Application Support/Cove on macOS, %APPDATA%/Cove on Windows)."""
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "Cove"
    if os.name == "nt":
        return Path(os.environ.get("APPDATA", Path.home())) / "Cove"
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "cove"


def passphrase(confirm: bool = False) -> str:
    value = os.environ.get("COVE_PASSPHRASE")
    if value is not None:
        return value
    if not sys.stdin.isatty():
        raise UsageProblem("no passphrase: set COVE_PASSPHRASE or run in a terminal")
    first = getpass.getpass("Passphrase: ")
    if confirm and getpass.getpass("Repeat passphrase: ") != first:
        raise UsageProblem("the passphrases differ")
    return first


def _id(text: str) -> bytes:
    try:
        value = bytes.fromhex(text)
    except ValueError:
        raise UsageProblem(f"'{text}' is not an id (hex)") from None
    if not value:
        raise UsageProblem("empty id")
    return value


class Output:
    def __init__(self, as_json: bool) -> None:
        self.json = as_json

    def emit(self, doc: Any, text: str) -> None:
        if self.json:
            print(json.dumps(doc, ensure_ascii=False, sort_keys=True))
        else:
            print(text)


def _message_doc(m: Any) -> dict[str, Any]:
    return {
        "id": m.id.hex(), "type": m.type, "sender": m.sender, "body": m.body, "title": m.title,
        "thread": m.thread.hex() if m.thread else None,
        "reply_to": m.reply_to.hex() if m.reply_to else None,
        "edited": m.edited, "deleted": m.deleted, "reactions": m.reactions, "seq": m.seq,
        "attachments": [{"id": a["blob_id"].hex(), "name": a["name"], "size": a["size"],
                         "media_type": a["media_type"]} for a in m.attachments],
    }  # fmt: skip


def _message_text(m: Any) -> str:
    head = f"[{m.id.hex()}] {m.sender}"
    if m.type == "thread":
        head += f" started thread «{m.title}»"
    if m.reply_to:
        head += f" (reply to {m.reply_to.hex()[:8]})"
    body = "(deleted)" if m.deleted else m.body + (" (edited)" if m.edited else "")
    lines = [f"{head}: {body}" if body else head]
    for a in m.attachments:
        lines.append(f"    attachment {a['blob_id'].hex()} {a['name']} ({a['size']} bytes)")
    if m.reactions:
        lines.append("    " + " ".join(f"{e}×{len(who)}" for e, who in sorted(m.reactions.items())))
    return "\n".join(lines)


async def run(args: argparse.Namespace, out: Output) -> int:
    home = Path(args.home) if args.home else default_home()
    cmd = args.command
    if cmd == "app":  # the local web app (cove.client.app)
        from cove.client.app import run_app

        return await run_app(home, args)
    if cmd == "init":
        client = await CoveClient.init(
            home, passphrase(confirm=True), args.relay, args.handle, args.invite
        )
        async with client:
            out.emit(
                {"id": client.account.account_id.hex(), "handle": args.handle},
                f"registered {args.handle} at {args.relay}",
            )
        return 0
    client = await CoveClient.open(home, passphrase())
    async with client:
        return await dispatch(client, args, out)


async def dispatch(c: CoveClient, args: argparse.Namespace, out: Output) -> int:
    cmd, sub = args.command, getattr(args, "sub", None)
    if cmd == "group":
        if sub == "create":
            gid = await c.create_group(args.name, args.description or "")
            out.emit({"id": gid.hex()}, gid.hex())
        elif sub == "add":
            gid = await c.resolve_group(args.group)
            await c.add_members(gid, args.handles)
            out.emit({"ok": True, "added": args.handles}, "added " + ", ".join(args.handles))
        elif sub == "remove":
            gid = await c.resolve_group(args.group)
            await c.remove_member(gid, args.handle)
            out.emit({"ok": True, "removed": args.handle}, f"removed {args.handle}")
        elif sub == "leave":
            gid = await c.resolve_group(args.group)
            await c.leave_group(gid)
            out.emit({"ok": True}, "left the group")
        elif sub == "role":
            gid = await c.resolve_group(args.group)
            await c.set_role(gid, args.handle, args.role)
            out.emit({"ok": True}, f"{args.handle} is now {args.role}")
        elif sub == "rename":
            gid = await c.resolve_group(args.group)
            await c.rename_group(gid, args.name, args.description or "")
            out.emit({"ok": True}, "renamed")
    elif cmd == "groups":
        views = [g for g in await c.groups() if g.kind == "group"]
        out.emit(
            [
                {
                    "id": g.group_id.hex(),
                    "name": g.name,
                    "members": g.members,
                    "epoch": g.epoch,
                    "active": g.active,
                }
                for g in views
            ],
            "\n".join(
                f"{g.group_id.hex()}  {g.name}  ({g.members} members)"
                + ("" if g.active else "  [left]")
                for g in views
            )
            or "no groups",
        )
    elif cmd == "members":
        gid = await c.resolve_group(args.group)
        ms = await c.members(gid)
        out.emit(
            [
                {
                    "handle": m.handle,
                    "leaf": m.leaf,
                    "safety_number": m.safety_number,
                    "key_changed": m.key_changed,
                    "me": m.me,
                }
                for m in ms
            ],
            "\n".join(
                f"{m.handle}{' (you)' if m.me else ''}  {m.safety_number}"
                + ("  KEY CHANGED" if m.key_changed else "")
                for m in ms
            ),
        )
    elif cmd == "thread":
        gid = await c.resolve_group(args.group)
        tid = await c.new_thread(
            gid, args.title, args.body or "", [Path(p) for p in args.attach or []]
        )
        out.emit({"id": tid.hex()}, tid.hex())
    elif cmd == "threads":
        gid = await c.resolve_group(args.group)
        ts = await c.threads(gid)
        out.emit(
            [_message_doc(t) for t in ts],
            "\n".join(f"{t.id.hex()}  «{t.title}»  by {t.sender}" for t in ts) or "no threads",
        )
    elif cmd == "post":
        gid = await c.resolve_group(args.group)
        mid = await c.post(
            gid,
            _id(args.thread),
            args.text,
            reply_to=_id(args.reply_to) if args.reply_to else None,
            attachments=[Path(p) for p in args.attach or []],
        )
        out.emit({"id": mid.hex()}, mid.hex())
    elif cmd == "read":
        if args.dm:
            gid = await c._dm_group(args.dm)
            if gid is None:
                from cove.client.errors import UnknownHandle

                raise UnknownHandle(f"no private conversation with {args.dm}")
            ms = await c.read(gid)
        else:
            if not args.group:
                raise UsageProblem("read needs GROUP or --dm HANDLE")
            gid = await c.resolve_group(args.group)
            ms = await c.read(gid, _id(args.thread) if args.thread else None)
        out.emit(
            [_message_doc(m) for m in ms], "\n".join(_message_text(m) for m in ms) or "no messages"
        )
    elif cmd == "react":
        rid = await c.react(_id(args.id), args.emoji)
        out.emit({"id": rid.hex()}, rid.hex())
    elif cmd == "edit":
        rid = await c.edit(_id(args.id), args.text)
        out.emit({"id": rid.hex()}, rid.hex())
    elif cmd == "delete":
        rid = await c.delete(_id(args.id))
        out.emit({"id": rid.hex()}, rid.hex())
    elif cmd == "dm":
        mid = await c.dm(args.handle, args.text, [Path(p) for p in args.attach or []])
        out.emit({"id": mid.hex()}, mid.hex())
    elif cmd == "dms":
        views = [g for g in await c.groups() if g.kind == "dm"]
        out.emit(
            [{"id": g.group_id.hex(), "with": g.peer, "active": g.active} for g in views],
            "\n".join(f"{g.peer}  {g.group_id.hex()}" for g in views) or "no private messages",
        )
    elif cmd == "sync":
        r = await c.sync()
        out.emit(
            {
                "groups": r.groups,
                "received": r.received,
                "joined": r.joined,
                "quarantined": r.quarantined,
                "commits": r.commits,
            },
            f"{r.received} new messages in {r.groups} groups; joined {r.joined}; "
            f"{r.quarantined} could not be processed",
        )
    elif cmd == "listen":
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for s in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(s, stop.set)

        async def show(group_id: bytes, m: Any) -> None:
            out.emit({"group": group_id.hex(), **_message_doc(m)}, _message_text(m))
            sys.stdout.flush()

        await c.listen(show, stop)
    elif cmd == "attachment":
        n = await c.get_attachment(args.id, Path(args.out))
        out.emit({"ok": True, "bytes": n, "path": args.out}, f"wrote {n} bytes to {args.out}")
    elif cmd == "verify":
        number, changed = await c.verify(args.handle)
        out.emit(
            {"handle": args.handle, "safety_number": number, "key_changed": changed},
            f"{args.handle}: {number}"
            + ("  (KEY CHANGED: run 'cove trust' after checking)" if changed else ""),
        )
    elif cmd == "settings":
        values = await c.settings(
            update_days=args.update_days, update_messages=args.update_messages
        )
        out.emit(
            values,
            f"self-update every {values['update_days']:g} days or "
            f"{values['update_messages']} messages sent",
        )
    elif cmd == "trust":
        await c.trust(args.handle)
        out.emit({"ok": True}, f"trusting {args.handle}'s current key")
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="cove", description="Cove: end-to-end encrypted support groups"
    )
    p.add_argument("--home", help="data folder (default: the platform's user data folder)")
    p.add_argument("--json", action="store_true", help="print one JSON document")
    s = p.add_subparsers(dest="command", required=True)
    i = s.add_parser("init", help="create your keys and register with a relay")
    i.add_argument("--relay", required=True)
    i.add_argument("--handle", required=True)
    i.add_argument("--invite")
    g = s.add_parser("group", help="create and manage groups").add_subparsers(
        dest="sub", required=True
    )
    x = g.add_parser("create")
    x.add_argument("name")
    x.add_argument("--description")
    x = g.add_parser("add")
    x.add_argument("group")
    x.add_argument("handles", nargs="+")
    x = g.add_parser("remove")
    x.add_argument("group")
    x.add_argument("handle")
    x = g.add_parser("leave")
    x.add_argument("group")
    x = g.add_parser("role", help="owner: set a member's role")
    x.add_argument("group")
    x.add_argument("handle")
    x.add_argument("role", choices=["moderator", "member", "owner"])
    x = g.add_parser("rename")
    x.add_argument("group")
    x.add_argument("name")
    x.add_argument("--description")
    s.add_parser("groups", help="your groups")
    x = s.add_parser("members", help="a group's members with safety numbers")
    x.add_argument("group")
    t = s.add_parser("thread", help="themed threads").add_subparsers(dest="sub", required=True)
    x = t.add_parser("new")
    x.add_argument("group")
    x.add_argument("title")
    x.add_argument("--body")
    x.add_argument("--attach", action="append")
    x = s.add_parser("threads")
    x.add_argument("group")
    x = s.add_parser("post")
    x.add_argument("group")
    x.add_argument("thread")
    x.add_argument("text")
    x.add_argument("--reply-to")
    x.add_argument("--attach", action="append")
    x = s.add_parser("read")
    x.add_argument("group", nargs="?")
    x.add_argument("thread", nargs="?")
    x.add_argument("--dm")
    for name in ("react", "edit"):
        x = s.add_parser(name)
        x.add_argument("id")
        x.add_argument("emoji" if name == "react" else "text")
    x = s.add_parser("delete")
    x.add_argument("id")
    x = s.add_parser("dm", help="a private message")
    x.add_argument("handle")
    x.add_argument("text")
    x.add_argument("--attach", action="append")
    s.add_parser("dms", help="your private conversations")
    s.add_parser("sync", help="fetch and process everything")
    s.add_parser("listen", help="stay connected and print new messages")
    a = s.add_parser("attachment").add_subparsers(dest="sub", required=True)
    x = a.add_parser("get")
    x.add_argument("id")
    x.add_argument("--out", required=True)
    x = s.add_parser("settings", help="the key-update schedule (post-compromise security)")
    x.add_argument("--update-days", type=float)
    x.add_argument("--update-messages", type=int)
    for name in ("verify", "trust"):
        x = s.add_parser(name)
        x.add_argument("handle")
    from cove.client.app import add_parser as add_app_parser

    add_app_parser(s)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    out = Output(args.json)
    try:
        return asyncio.run(run(args, out))
    except ClientError as exc:
        if args.json:
            print(json.dumps({"error": type(exc).__name__, "message": str(exc)}))
        print(f"cove: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
