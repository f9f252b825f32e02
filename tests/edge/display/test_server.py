"""The display server: loopback by default, token on every request, read-only, no paths from requests,
and a subscriber that stops reading delays nobody (its frames are dropped, the others stay current)."""

from __future__ import annotations

import json
import os
import socket
import time
import urllib.error
import urllib.request

import numpy as np
import pytest

from edge.contract import CHANNELS, WINDOW_SAMPLES
from edge.display.server import (
    DisplayServer,
    ServeConfig,
    TokenCheck,
    parse_serve_address,
    read_token,
    token_given,
    token_matches,
)
from edge.display.sink import DisplaySink
from edge.errors import DataError

TOKEN = "s3cret-token-for-tests-0123456789"
ROUTES = ("/", "/bed?stream=bed-1", "/static/display.js", "/api/ward", "/api/bed?stream=bed-1",
          "/events", "/events?stream=bed-1")


WAIT_S = 60.0  # generous: the tests run on a loaded 2-core machine; they wait on the event, not this long


def request(url: str, *, method: str = "GET", headers: dict | None = None, timeout: float = WAIT_S):
    """(status, headers, first bytes of the body); event streams are read only up to their first event."""
    req = urllib.request.Request(url, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as response:
            streaming = "event-stream" in response.headers.get("content-type", "")
            body = response.readline() if streaming else response.read()
            return response.status, response.headers, body
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, exc.read()


def events(url: str, *, until, timeout: float = WAIT_S) -> dict:
    """Read server-sent events until `until(event, payload)` holds; returns that payload."""
    deadline = time.monotonic() + timeout
    with urllib.request.urlopen(url, timeout=timeout) as response:
        event = None
        while time.monotonic() < deadline:
            line = response.readline().decode()
            if line.startswith("event: "):
                event = line[7:].strip()
            elif line.startswith("data: "):
                payload = json.loads(line[6:])
                if until(event, payload):
                    return payload
    raise AssertionError(f"no matching event from {url} within {timeout} s")


def wait_until(condition, timeout: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"not within {timeout} s"
        time.sleep(0.02)


def write_token(path, text: str = TOKEN, mode: int = 0o600):
    """As a site should: created readable by its owner only."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as file:
        file.write(text)
    os.chmod(path, mode)
    return path


@pytest.fixture
def served(make_prediction):
    def start(**config):
        sink = DisplaySink()
        server = DisplayServer(sink, ServeConfig(port=0, **config)).start()
        started.append(server)
        sink.write(make_prediction("bed-1", 100.0))
        wait_until(lambda: "bed-1" in server.hub.ward.beds)  # applied by the pump
        return server, sink

    started: list[DisplayServer] = []
    yield start
    for server in started:
        server.stop()


def test_serves_on_loopback_by_default_and_refuses_other_addresses_without_a_token() -> None:
    assert ServeConfig().host == "127.0.0.1"
    assert parse_serve_address("8080") == ("127.0.0.1", 8080)
    assert parse_serve_address("0.0.0.0:9000") == ("0.0.0.0", 9000)
    assert parse_serve_address("[::1]:9000") == ("::1", 9000)
    for bad in ("http", "host:0", "host:70000", ""):
        with pytest.raises(DataError, match="--serve expects"):
            parse_serve_address(bad)
    with pytest.raises(DataError, match="--serve-token-file"):
        ServeConfig(host="0.0.0.0").validate()
    ServeConfig(host="0.0.0.0", token=TOKEN).validate()


def test_token_file_must_hold_a_long_cookie_safe_token(tmp_path) -> None:
    path = write_token(tmp_path / "token", TOKEN + "\n")
    assert read_token(path) == TOKEN
    for bad in ("short", "has spaces in it but is long", "semi;colon-0123456789", TOKEN + "\n" + TOKEN,
                "\u00e9" * 20, "x" * 5000):
        write_token(path, bad)
        with pytest.raises(DataError, match="display token must be one line"):
            read_token(path)
    path.write_bytes(b"\xff" * 20)
    with pytest.raises(DataError, match="display token must be one line"):
        read_token(path)


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o620, 0o602, 0o666])
def test_a_token_file_open_to_others_is_refused_with_the_chmod_to_run(tmp_path, mode) -> None:
    """Was: a token file readable by everyone (0644) was accepted without a word."""
    path = write_token(tmp_path / "token", mode=mode)
    with pytest.raises(DataError) as error:
        read_token(path)
    message = str(error.value)
    assert f"chmod 600 {path}" in message and "\n" not in message and f"{mode:o}" in message


def test_a_token_file_that_is_missing_or_not_a_file_is_one_line(tmp_path) -> None:
    with pytest.raises(DataError, match="cannot read the display token file"):
        read_token(tmp_path / "absent")
    with pytest.raises(DataError, match="not a regular file"):
        read_token(tmp_path)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo, 0o600)
    with pytest.raises(DataError, match="not a regular file"):  # never blocks waiting for a writer
        read_token(fifo)


def asgi_call(app, *, path: str = "/", query: str = "", headers: dict | None = None) -> tuple[int, dict]:
    """One HTTP request through an ASGI app, without a server: (status, response headers)."""
    import asyncio

    scope = {"type": "http", "method": "GET", "path": path, "query_string": query.encode(), "root_path": "",
             "headers": [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]}
    sent: list[dict] = []

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    start = sent[0]
    return start["status"], {k.decode(): v.decode() for k, v in start["headers"]}


async def ok_app(scope, receive, send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


def test_token_check_unit() -> None:
    """The middleware alone: header, query (which sets the cookie) or cookie; anything else is a 401."""
    check = TokenCheck(ok_app, token=TOKEN)
    assert asgi_call(check)[0] == 401
    assert asgi_call(check, headers={"Authorization": f"Bearer {TOKEN}"}) == (200, {})
    assert asgi_call(check, headers={"Authorization": f"Bearer {TOKEN[:-1]}"})[0] == 401
    assert asgi_call(check, headers={"Authorization": f"Bearer {TOKEN}x"})[0] == 401
    assert asgi_call(check, headers={"Authorization": "Bearer "})[0] == 401
    status, headers = asgi_call(check, query=f"token={TOKEN}")
    assert status == 200 and headers["set-cookie"].startswith(f"edge_display_token={TOKEN}; HttpOnly")
    assert asgi_call(check, query="token=wrong-token-0123456789")[0] == 401
    assert asgi_call(check, headers={"Cookie": f"edge_display_token={TOKEN}"}) == (200, {})
    assert asgi_call(check, headers={"Cookie": "edge_display_token=\u00e9"})[0] == 401
    assert asgi_call(check, headers={"Authorization": "Bearer wrong", "Cookie": f"edge_display_token={TOKEN}"}
                     )[0] == 401  # the header, when given, decides


def test_token_given_and_token_matches() -> None:
    def scope(query: str = "", headers: dict | None = None) -> dict:
        return {"type": "http", "query_string": query.encode(),
                "headers": [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]}

    assert token_given(scope()) == ("", False)
    assert token_given(scope(headers={"Authorization": "Bearer abc"})) == ("abc", False)
    assert token_given(scope(query="token=q")) == ("q", True)
    assert token_given(scope(headers={"Cookie": "edge_display_token=c"})) == ("c", False)
    assert token_matches(TOKEN, TOKEN) and not token_matches("", TOKEN) and not token_matches(TOKEN + " ", TOKEN)
    assert not token_matches("\u00e9" * 10, TOKEN)  # non-ASCII: compared as bytes, never an error


def test_the_token_is_checked_on_every_route_including_the_event_stream(served) -> None:
    server, _ = served(token=TOKEN)
    base = server.url.rstrip("/")
    for route in ROUTES:
        assert request(base + route)[0] == 401, route
        assert request(base + route, headers={"Authorization": "Bearer wrong-token-0123456789"})[0] == 401, route
        assert request(base + route, headers={"Authorization": f"Bearer {TOKEN}"})[0] == 200, route
    status, headers, _ = request(f"{base}/?token={TOKEN}")
    assert status == 200 and "HttpOnly" in headers["set-cookie"] and "SameSite=Strict" in headers["set-cookie"]
    cookie = headers["set-cookie"].split(";")[0]
    status, headers, first = request(f"{base}/events", headers={"Cookie": cookie})
    assert status == 200 and first.startswith(b"event: ward")
    assert request(f"{base}/events", headers={"Cookie": "edge_display_token=wrong-token-0123456789"})[0] == 401


def test_every_route_is_read_only(served) -> None:
    server, _ = served()
    base = server.url.rstrip("/")
    before = json.loads(request(f"{base}/api/ward")[2])["tiles"]
    for route in ROUTES:
        for method in ("POST", "PUT", "DELETE", "PATCH"):
            assert request(base + route, method=method)[0] == 405, (method, route)
    after = json.loads(request(f"{base}/api/ward")[2])["tiles"]
    assert [t["stream"] for t in after] == [t["stream"] for t in before] == ["bed-1"]


def test_assets_come_from_the_package_list_never_from_a_request_path(served) -> None:
    from importlib import resources

    server, _ = served()
    base = server.url.rstrip("/")
    vendored = (resources.files("edge.display") / "static" / "uPlot.iife.min.js").read_bytes()
    status, headers, body = request(f"{base}/static/uPlot.iife.min.js")
    assert status == 200 and body == vendored and headers["content-type"].startswith("text/javascript")
    assert "default-src 'self'" in headers["content-security-policy"]
    for probe in ("/static/..%2fserver.py", "/static/%2e%2e%2f%2e%2e%2fspec.py", "/static/server.py",
                  "/static/..%2F..%2F..%2Fetc%2Fpasswd", "/etc/passwd", "/static/"):
        assert request(base + probe)[0] == 404, probe
    assert request(f"{base}/api/bed?stream=../../etc/passwd")[0] == 404
    assert request(f"{base}/events?stream=unknown-bed")[0] == 404


@pytest.mark.slow  # the kernel's socket buffers take a few seconds of EEG frames to fill
def test_a_subscriber_that_stops_reading_delays_nobody(make_prediction) -> None:
    """A bed page whose browser stalls: its socket is never read while EEG frames and records pour in.
    The pump keeps draining the sink (nothing dropped there), a reading ward client sees the newest
    record, and the stalled subscriber is marked lagging with its frames dropped."""
    sink = DisplaySink(max_records=1000)
    frame = np.random.default_rng(0).normal(0, 50, (len(CHANNELS), WINDOW_SAMPLES)).astype(np.float32)
    with DisplayServer(sink, ServeConfig(port=0, tick_s=0.01)) as server:
        sink.write(make_prediction("bed-1", 0.0))
        wait_until(lambda: "bed-1" in server.hub.ward.beds)
        stalled = socket.socket()
        stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connect: a small window
        stalled.connect(("127.0.0.1", server.port))
        stalled.sendall(b"GET /events?stream=bed-1 HTTP/1.1\r\nHost: x\r\n\r\n")  # ...and never reads again
        last = 0.0
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            for _ in range(20):
                last += 2.0
                sink.write(make_prediction("bed-1", last))
                sink.observe_frame("bed-1", frame, last)
            time.sleep(0.01)
            lagging = [s for s in list(server.hub.subscribers) if s.stream == "bed-1" and s.lagging]
            if lagging and lagging[0].dropped > 50:
                break
        assert lagging and lagging[0].dropped > 50, "the stalled subscriber was never marked lagging"
        assert sink.dropped == 0  # the runtime's side never backed up
        newest = last
        ward = events(server.url + "events", until=lambda e, p: e == "ward" and p["tiles"][0]["window_end"] == newest)
        assert ward["tiles"][0]["stream"] == "bed-1"
        stalled.close()
