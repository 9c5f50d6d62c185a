"""``cove app``: the local web app (:mod:`cove.client.app`)."""

from __future__ import annotations

from argparse import Namespace
from pathlib import Path

from cove.client.cli.output import Output, default_home
from cove.client.cli.registry import arg, setup_command


@setup_command(
    "app",
    "open Cove's app in your web browser",
    arg("--port", type=int, default=0, help="port on 127.0.0.1 (default: any free port)"),
    arg("--no-browser", action="store_true", help="only print the address to open"),
)
async def app(args: Namespace, out: Output) -> int:
    from cove.client.app import run_app  # imported here: only `cove app` needs aiohttp's server

    home = Path(args.home) if args.home else default_home()
    return await run_app(home, args)
