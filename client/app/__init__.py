"""``cove app``: the member's local web app, served by the client on 127.0.0.1.

::

    browser --(cookie, CSRF token, same Origin)--> guard (security.py)
        --> routes/*.py (one module per feature) --> Session (session.py)
        --> CoveClient's public API (one operation at a time)
    Live (live.py): CoveClient.listen in the background --> WebSocket /live --> pages refresh

Only the person at this computer gets in: the opening URL holds a per-launch secret,
exchanged once for an HttpOnly SameSite=Strict cookie. See docs/client/app.md.
"""

from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["add_parser", "run_app"]


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The ``cove app`` subcommand's options."""
    p = subparsers.add_parser("app", help="open Cove's app in your web browser")
    p.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: any free)")
    p.add_argument("--no-browser", action="store_true", help="only print the address to open")


async def run_app(home: Path, args: argparse.Namespace) -> int:
    """Serve the app until Ctrl-C (or SIGTERM); the exit code."""
    from cove.client.app.server import serve

    return await serve(home, port=args.port, open_browser=not args.no_browser)
