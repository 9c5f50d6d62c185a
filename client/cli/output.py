"""Output, passphrase, home folder and id parsing shared by the command modules."""

from __future__ import annotations

import datetime
import getpass
import json
import os
import sys
from pathlib import Path
from typing import Any

from cove.client.errors import UsageProblem
from cove.client.records import MessageView

GROUP_HELP = "a group's id (or a unique start of it) or its name"
ID_HELP = "an id as shown by 'cove read' (or a unique start of it, at least 4 hex digits)"


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


class Output:
    def __init__(self, as_json: bool) -> None:
        self.json = as_json

    def emit(self, doc: Any, text: str) -> None:
        if self.json:
            print(json.dumps(doc, ensure_ascii=False, sort_keys=True))
        else:
            print(text)
        sys.stdout.flush()

    def note(self, text: str) -> None:
        """A status line for people (stderr, so --json output stays one document)."""
        print(text, file=sys.stderr)
        sys.stderr.flush()


def when(ts: int) -> str:
    if not ts:
        return ""
    return datetime.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M")


def message_doc(m: MessageView) -> dict[str, Any]:
    return {
        "id": m.id.hex(), "type": m.type, "sender": m.sender, "body": m.body, "title": m.title,
        "thread": m.thread.hex() if m.thread else None,
        "reply_to": m.reply_to.hex() if m.reply_to else None,
        "target": m.target.hex() if m.target else None,
        "edited": m.edited, "deleted": m.deleted, "reactions": m.reactions, "seq": m.seq,
        "sent_at": m.sent_at, "event": m.title if m.type == "event" else None,
        "shared_by": m.shared_by or None,
        "attachments": [{"id": a["blob_id"].hex(), "name": a["name"], "size": a["size"],
                         "media_type": a["media_type"]} for a in m.attachments],
    }  # fmt: skip


def message_text(m: MessageView, where: str = "") -> str:
    if m.type == "event":  # a refusal or a change: no id, no sender, one line
        return f"* {where}{m.body}"
    stamp = when(m.sent_at)
    head = f"[{m.id.hex()[:8]}] {stamp + ' ' if stamp else ''}{where}{m.sender}"
    short = m.target.hex()[:8] if m.target else "?"
    if m.type == "reaction":
        verb = "took back" if m.remove else "reacted"
        return f"{head} {verb} {m.body} on {short}"
    if m.type == "edit":
        return f"{head} edited {short}: {m.body}"
    if m.type == "redaction":
        return f"{head} deleted {short}"
    if m.type == "thread":
        head += f" started thread «{m.title}»"
    if m.reply_to:
        head += f" (reply to {m.reply_to.hex()[:8]})"
    if m.shared_by:
        head += f" (shared by {m.shared_by})"
    body = "(deleted)" if m.deleted else m.body + (" (edited)" if m.edited else "")
    lines = [f"{head}: {body}" if body else head]
    for a in m.attachments:
        lines.append(f"    attachment {a['blob_id'].hex()[:8]} {a['name']} ({a['size']} bytes)")
    if m.reactions:
        lines.append("    " + " ".join(f"{e}×{len(who)}" for e, who in sorted(m.reactions.items())))
    return "\n".join(lines)
