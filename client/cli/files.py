"""``cove attachment get``."""

from __future__ import annotations

from argparse import Namespace
from pathlib import Path

from cove.client.attachments import largest_file
from cove.client.cli.output import Output
from cove.client.cli.registry import arg, command, topic
from cove.client.service import CoveClient

topic("attachment", f"files shared in posts (at most {largest_file():,} bytes each)")


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
