"""``cove attachment get``."""

from __future__ import annotations

from argparse import Namespace
from pathlib import Path
from typing import TYPE_CHECKING

from cove.client.cli.output import Output
from cove.client.cli.registry import arg, command, topic
from cove.protocol.crypto.stream import largest_plaintext
from cove.protocol.wire.limits import limit as wire_limit

if TYPE_CHECKING:
    from cove.client.service import CoveClient

LARGEST = largest_plaintext(wire_limit("blob"))
topic("attachment", f"files shared in posts (at most {LARGEST:,} bytes each)")


@command(
    "attachment get",
    "download, verify and decrypt an attachment",
    arg("id", help="the attachment's id as shown by 'cove read' (or a unique start of it)"),
    arg(
        "--out", required=True, metavar="FILE", help="where to write it (an existing file is kept)"
    ),
    arg("--force", action="store_true", help="replace FILE if it exists"),
)
async def get(c: CoveClient, args: Namespace, out: Output) -> None:
    n = await c.get_attachment(args.id, Path(args.out), overwrite=args.force)
    out.emit({"ok": True, "bytes": n, "path": args.out}, f"wrote {n} bytes to {args.out}")
