"""The local server lets in only the person at this computer, through its own pages.

Raw HTTP (http.client, so every header is the test's choice) against a real
``cove app`` process: the first line and the loopback-only socket, the one-time
opening link and its cookie, and each refusal — no cookie, a wrong Host (DNS
rebinding), a wrong or missing Origin, a cross-site fetch, a missing or wrong
CSRF token (forms, uploads, JSON), the WebSocket from elsewhere; the headers every
answer carries; and a second browser (another person) that is not let in.
"""

from __future__ import annotations

import http.client
import re
import socket
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser

from tests.browser.conftest import PASSPHRASE, open_context
from tests.support.app_process import FIRST_LINE, AppProcess

pytestmark = pytest.mark.browser

COOKIE = "cove_app"


def request(
    app: AppProcess, method: str, path: str, *, body: bytes = b"", **headers: str
) -> tuple[int, dict[str, str], str]:
    conn = http.client.HTTPConnection("127.0.0.1", app.port, timeout=20)
    try:
        conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        sent = {"Host": f"127.0.0.1:{app.port}", **headers}
        for name, value in sent.items():
            if value:
                conn.putheader(name.replace("_", "-"), value)
        if body:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body or None)
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read().decode()
    finally:
        conn.close()


def loopback_only(port: int) -> bool:
    """True if the only listening socket on ``port`` is bound to 127.0.0.1."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            addr, hexport = local.rsplit(":", 1)
            if int(hexport, 16) == port and state == "0A":  # LISTEN
                found.append(addr)
    return found == ["0100007F"]


@pytest.fixture(scope="module")
def dee(members: Any) -> Any:
    return members("dee")


@pytest.fixture(scope="module")
def cookie(dee: Any) -> str:
    (value,) = [c["value"] for c in dee.context.cookies() if c["name"] == COOKIE]
    return value


@pytest.fixture(scope="module")
def csrf(dee: Any) -> str:
    dee.go("/")
    token = dee.page.locator('meta[name="csrf-token"]').get_attribute("content")
    assert token
    return token


def test_first_line_loopback_socket_and_the_one_time_opening_link(
    dee: Any, tmp_path: Path, browser: Browser
) -> None:
    assert FIRST_LINE.match(dee.app.first_line)
    assert loopback_only(dee.app.port)
    # dee's browser used the opening link: it works only once, for anyone.
    status, _, text = request(dee.app, "GET", dee.app.url.split(str(dee.app.port), 1)[1])
    assert status == 403
    assert text.startswith("This opening link has already been used")

    with AppProcess.start(tmp_path / "fresh") as app:
        path = app.url.split(str(app.port), 1)[1]
        assert request(app, "GET", path.replace(path[-8:], "AAAAAAAA"))[0] == 403  # wrong secret
        status, headers, text = request(app, "GET", path)
        assert status == 200
        cookie = headers["set-cookie"]
        assert re.match(rf"^{COOKIE}=[A-Za-z0-9_-]{{43}}; ", cookie)
        flags = {f.strip().lower() for f in cookie.split(";")[1:]}
        assert {"httponly", "samesite=strict", "path=/"} <= flags
        assert path.rsplit("/", 1)[1] not in text  # the page does not repeat the secret
        assert request(app, "GET", path)[0] == 403
        # Another person's browser on this computer has no cookie: not let in.
        other = open_context(browser)
        page = other.new_page()
        page.goto(app.base + "/")
        assert page.locator("body").inner_text().startswith("This browser has not been let in.")
        page.goto(app.url)
        assert "already been used" in page.locator("body").inner_text()
        other.close()


def test_requests_without_the_cookie_or_from_elsewhere_are_refused(
    dee: Any, cookie: str, csrf: str
) -> None:
    app = dee.app
    ok = {"Cookie": f"{COOKIE}={cookie}"}
    origin = {"Origin": app.base}
    form = f"csrf={csrf}".encode()
    urlenc = {"Content-Type": "application/x-www-form-urlencoded"}
    wrong = "y" if cookie[0] == "x" else "x"  # another first character: never the real cookie

    # Baseline: with the cookie, a page and a same-origin form are accepted.
    assert request(app, "GET", "/", **ok)[0] == 200
    assert request(app, "GET", "/", **ok, Host=f"localhost:{app.port}")[0] == 200
    assert request(app, "POST", "/sync", body=form, **ok, **origin, **urlenc)[0] == 303

    refusals = {
        "no cookie": request(app, "GET", "/"),
        "no cookie, static": request(app, "GET", "/static/app.js"),
        "wrong cookie": request(app, "GET", "/", Cookie=f"{COOKIE}={wrong}{cookie[1:]}"),
        "rebinding Host": request(app, "GET", "/", **ok, Host=f"evil.example:{app.port}"),
        "Host without port": request(app, "GET", "/", **ok, Host="127.0.0.1"),
        "cross-site fetch": request(app, "GET", "/", **ok, Sec_Fetch_Site="cross-site"),
        "no Origin": request(app, "POST", "/sync", body=form, **ok, **urlenc),
        "wrong Origin": request(
            app, "POST", "/sync", body=form, **ok, **urlenc, Origin="http://evil.example"
        ),
        "null Origin": request(app, "POST", "/sync", body=form, **ok, **urlenc, Origin="null"),
        "no CSRF": request(app, "POST", "/sync", body=b"next=/", **ok, **origin, **urlenc),
        "wrong CSRF": request(
            app, "POST", "/sync", body=b"csrf=" + csrf[::-1].encode(), **ok, **origin, **urlenc
        ),
        "JSON without CSRF header": request(
            app, "POST", "/drafts", body=b'{"key": "dm:", "text": "x"}', **ok, **origin,
            Content_Type="application/json",
        ),
        "WebSocket from elsewhere": request(
            app, "GET", "/live", **ok, Origin="http://evil.example", Connection="Upgrade",
            Upgrade="websocket", Sec_WebSocket_Version="13",
            Sec_WebSocket_Key="dGhlIHNhbXBsZSBub25jZQ==",
        ),
        "WebSocket without cookie": request(
            app, "GET", "/live", **origin, Connection="Upgrade", Upgrade="websocket",
            Sec_WebSocket_Version="13", Sec_WebSocket_Key="dGhlIHNhbXBsZSBub25jZQ==",
        ),
    }  # fmt: skip
    assert {name: r[0] for name, r in refusals.items()} == dict.fromkeys(refusals, 403)
    assert refusals["no cookie"][2].startswith("This browser has not been let in.")
    assert refusals["rebinding Host"][2].startswith("Cove's app answers only at 127.0.0.1")
    assert refusals["wrong Origin"][2].startswith("Cove refused a request that did not come")
    assert refusals["no CSRF"][2].startswith("Cove refused a form it did not send.")
    ws = request(
        app, "GET", "/live", **ok, **origin, Connection="Upgrade", Upgrade="websocket",
        Sec_WebSocket_Version="13", Sec_WebSocket_Key="dGhlIHNhbXBsZSBub25jZQ==",
    )  # fmt: skip
    assert ws[0] == 101


def multipart(fields: list[tuple[str, str, str | None]]) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    out = b""
    for name, value, filename in fields:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        out += f"--{boundary}\r\nContent-Disposition: {disposition}\r\n\r\n{value}\r\n".encode()
    return out + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def test_uploads_need_the_csrf_token_before_any_file(dee: Any, cookie: str, csrf: str) -> None:
    app = dee.app
    page = dee.go("/")
    page.get_by_text("Start a new group").click()
    page.get_by_label("Group name").fill("Upload checks")
    page.get_by_role("button", name="Create the group").click()
    path = page.url.split("/members")[0].split(str(app.port), 1)[1] + "/threads"
    ok = {"Cookie": f"{COOKIE}={cookie}", "Origin": app.base}
    cases = {
        "no token": [("title", "t", None), ("files", "secret bytes", "a.txt")],
        "token after the file": [("files", "secret bytes", "a.txt"), ("csrf", csrf, None)],
        "wrong token": [("csrf", csrf[::-1], None), ("files", "secret bytes", "a.txt")],
    }
    for name, fields in cases.items():
        body, kind = multipart(fields)
        status, _, text = request(app, "POST", path, body=body, **ok, Content_Type=kind)
        assert (name, status) == (name, 403)
        assert "Cove refused a form it did not send." in text
    many = [("csrf", csrf, None)] + [(f"f{i}", "x", None) for i in range(40)]
    body, kind = multipart(many)
    status, _, text = request(app, "POST", path, body=body, **ok, Content_Type=kind)
    assert (status, text.split(":")[0]) == (403, "That is too much")
    body, kind = multipart([("csrf", csrf, None), ("title", "Accepted", None), ("body", "", None)])
    assert request(app, "POST", path, body=body, **ok, Content_Type=kind)[0] == 303


def test_every_answer_carries_the_strict_headers_and_the_log_no_secret(
    dee: Any, cookie: str, csrf: str
) -> None:
    app = dee.app
    _, headers, _ = request(app, "GET", "/", Cookie=f"{COOKIE}={cookie}")
    csp = headers["content-security-policy"]
    assert csp.startswith("default-src 'none'; script-src 'self'; style-src 'self';")
    assert "unsafe" not in csp and "http:" not in csp.replace(f"ws://127.0.0.1:{app.port}", "")
    assert headers["cache-control"] == "no-store"
    assert headers["x-frame-options"] == "DENY"
    assert headers["x-content-type-options"] == "nosniff"
    refused = request(app, "GET", "/")[1]
    assert refused["content-security-policy"] == csp  # refusals carry them too
    log = app.log()
    launch_secret = app.url.rsplit("/", 1)[1]
    for secret in (launch_secret, cookie, csrf, PASSPHRASE):
        assert secret not in log
    assert "cove app: refused a request: host" in log  # the refusals are logged, by rule


def test_a_chosen_port_and_a_port_in_use(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with AppProcess.start(tmp_path / "a", "--port", str(port)) as app:
        assert app.port == port and loopback_only(port)
        busy = subprocess.run(
            [sys.executable, "-m", "cove.client.cli", "--home", str(tmp_path / "b"), "app",
             "--no-browser", "--port", str(port)],
            capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
        )  # fmt: skip
    assert busy.returncode == 2
    assert busy.stdout == ""
    assert f"cove: port {port} on 127.0.0.1 is in use; try another --port" in busy.stderr
