"""A real ``cove app`` subprocess for the browser tests.

::

    with AppProcess.start(home) as app:
        app.url          # the opening link it printed first (open http://127.0.0.1:PORT/launch/…)
        app.base         # http://127.0.0.1:PORT
        app.log()        # everything it wrote to stderr (its log)

It runs ``python -m cove.client.cli --home HOME app --no-browser`` from this
interpreter, reads the first line of its stdout with a bounded timeout, sends its
stderr to ``HOME.app.log`` (beside the home folder, so a canary sweep of the home
sees only what the app itself wrote there) and ends it by its pid (SIGTERM, then
SIGKILL after 10 s).
"""

from __future__ import annotations

import contextlib
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.support.relay_process import _readline_with_timeout

START_TIMEOUT = 20.0
FIRST_LINE = re.compile(r"^open (http://127\.0\.0\.1:(\d+))/launch/([A-Za-z0-9_-]{43})\n$")


@dataclass
class AppProcess:
    home: Path
    proc: subprocess.Popen[bytes] | None = None
    first_line: str = ""
    url: str = ""
    base: str = ""
    port: int = 0

    @property
    def log_path(self) -> Path:
        return self.home.with_name(self.home.name + ".app.log")

    @classmethod
    @contextlib.contextmanager
    def start(cls, home: Path, *extra: str) -> Iterator[AppProcess]:
        app = cls(home)
        app.serve(*extra)
        try:
            yield app
        finally:
            app.stop()

    def serve(self, *extra: str) -> None:
        log = open(self.log_path, "ab")  # noqa: SIM115 - the child keeps it
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "cove.client.cli", "--home", str(self.home), "app",
             "--no-browser", *extra],
            stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        log.close()
        self.first_line = _readline_with_timeout(self.proc, START_TIMEOUT)
        m = FIRST_LINE.match(self.first_line)
        if m is None:
            self.stop()
            raise RuntimeError(f"app did not start: {self.first_line!r}; log: {self.log()}")
        self.url = self.first_line.split(" ", 1)[1].strip()
        self.base, self.port = m.group(1), int(m.group(2))

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self.proc = None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
