"""``cove verify`` and ``cove trust``."""

from __future__ import annotations

from argparse import Namespace
from typing import TYPE_CHECKING

from cove.client.cli.output import Output
from cove.client.cli.registry import arg, command

if TYPE_CHECKING:
    from cove.client.service import CoveClient


@command(
    "verify",
    "show the safety number you share with a member (compare it with them)",
    arg("handle", help="the member"),
)
async def verify(c: CoveClient, args: Namespace, out: Output) -> None:
    number, changed = await c.verify(args.handle)
    out.emit(
        {"handle": args.handle, "safety_number": number, "key_changed": changed},
        f"{args.handle}: {number}"
        + ("  (KEY CHANGED: run 'cove trust' after checking)" if changed else ""),
    )


@command(
    "trust",
    "accept a member's new identity key after comparing safety numbers",
    arg("handle", help="the member"),
)
async def trust(c: CoveClient, args: Namespace, out: Output) -> None:
    await c.trust(args.handle)
    out.emit({"ok": True}, f"trusting {args.handle}'s current key")
