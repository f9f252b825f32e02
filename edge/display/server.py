"""The read-only web app: ward overview, one page per bed, JSON snapshots and server-sent events.

A pump task on the server's event loop drains the DisplaySink every `tick_s`, applies it to the
WardState (only ever touched on that loop) and pushes one JSON payload per bed to that bed's
subscribers. Each subscriber has a small queue: one that stops reading is marked lagging and skipped
(its frames dropped) until it catches up, then it gets a fresh snapshot; nobody else waits for it.

Security: GET/HEAD only, pages and assets from a fixed in-package list (no path from a request ever
reaches the file system), 127.0.0.1 unless a token is given, and then the token is checked on every
request (header `Authorization: Bearer`, `?token=` which also sets a same-site cookie, or that cookie).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import os
import re
import socket
import stat
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edge.config_io import require_field
from edge.display.sink import DisplaySink
from edge.display.state import DisplayConfig, WardState
from edge.errors import DataError
from edge.records import to_json

if TYPE_CHECKING:  # starlette comes with the display extra, imported when the app is built
    from starlette.requests import Request
    from starlette.responses import Response

LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
COOKIE = "edge_display_token"
MIN_TOKEN_CHARS = 16
MAX_TOKEN_FILE_BYTES = 4096
TOKEN_PATTERN = re.compile(rf"[A-Za-z0-9._~+/=-]{{{MIN_TOKEN_CHARS},}}")  # cookie-safe
ASSET_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
               ".css": "text/css; charset=utf-8", ".txt": "text/plain; charset=utf-8"}
HEADERS = {"Content-Security-Policy": "default-src 'self'; img-src 'self' data:", "X-Content-Type-Options": "nosniff",
           "Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}
CLIENT_QUEUE = 32  # pushes a subscriber may be behind before it is marked lagging
WARD_EVERY_S = 1.0  # tiles are pushed at least this often, so ages and staleness stay current


@dataclass(frozen=True)
class ServeConfig:
    host: str = "127.0.0.1"
    port: int = 8765
    token: str | None = None
    tick_s: float = 0.2  # pump period: pushes reach the page within this plus the network
    display: DisplayConfig = field(default_factory=DisplayConfig)

    def validate(self) -> ServeConfig:
        require_field(0 <= self.port <= 65535, "serve.port", "must be in 0..65535", value=self.port)
        require_field(0 < self.tick_s <= 0.5, "serve.tick_s", "must be in (0, 0.5] s", value=self.tick_s)
        if self.host not in LOOPBACK and self.token is None:
            raise DataError(f"--serve on {self.host!r} is reachable from other machines: give --serve-token-file "
                            "(a file holding a secret token), or serve on 127.0.0.1")
        self.display.validate()
        return self


def parse_serve_address(text: str) -> tuple[str, int]:
    """'[HOST:]PORT' -> (host, port); host defaults to 127.0.0.1."""
    host, _, port = text.rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    if not port.isdigit() or not 0 < int(port) <= 65535:
        raise DataError(f"--serve expects [HOST:]PORT with PORT in 1..65535, got {text!r}")
    return host, int(port)


def read_token(path: str | Path) -> str:
    """The display's token from a regular file only its owner may read (mode 600), else a one-line DataError."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY)  # a FIFO must not block the start
    except OSError as error:
        raise DataError(f"cannot read the display token file {path} ({error.strerror or error})") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise DataError(f"{path}: the display token file is not a regular file")
        if info.st_mode & 0o077:
            raise DataError(f"{path}: the display token file is open to other users (mode "
                            f"{stat.S_IMODE(info.st_mode):o}); run `chmod 600 {path}`")
        data = os.read(fd, MAX_TOKEN_FILE_BYTES + 1)
    finally:
        os.close(fd)
    try:
        token = data.decode("ascii").strip()
    except UnicodeDecodeError:
        token = ""
    if len(data) > MAX_TOKEN_FILE_BYTES or not TOKEN_PATTERN.fullmatch(token):
        raise DataError(f"{path}: the display token must be one line of at least {MIN_TOKEN_CHARS} letters, digits "
                        "or ._~+/=- (e.g. `(umask 077; python -c 'import secrets; print(secrets.token_urlsafe())' "
                        "> FILE)`)")
    return token


def _load_assets() -> dict[str, tuple[bytes, str]]:
    folder = resources.files("edge.display") / "static"
    return {item.name: (item.read_bytes(), ASSET_TYPES[Path(item.name).suffix])
            for item in folder.iterdir() if Path(item.name).suffix in ASSET_TYPES}


def _sse(event: str, payload: dict[str, Any]) -> str:
    return f"event: {event}\ndata: {to_json(payload)}\n\n"


def _json(payload: dict[str, Any], status_code: int = 200):
    """Strict JSON (no NaN tokens), as in the JSONL log."""
    from starlette.responses import Response

    return Response(to_json(payload), status_code=status_code, media_type="application/json", headers=HEADERS)


@dataclass(eq=False)
class Subscriber:
    stream: str | None  # None: the ward overview
    queue: asyncio.Queue[str | None] = field(default_factory=lambda: asyncio.Queue(CLIENT_QUEUE))
    lagging: bool = False
    dropped: int = 0

    def offer(self, message: str) -> None:
        if self.lagging:
            self.dropped += 1
            return
        try:
            self.queue.put_nowait(message)
        except asyncio.QueueFull:
            self.lagging = True  # what it missed is replaced by a snapshot once it reads again
            self.dropped += 1


class Hub:
    """The ward state, the sink feeding it and the subscribers; used on the server's event loop only."""

    def __init__(self, sink: DisplaySink, config: DisplayConfig) -> None:
        self.sink = sink
        self.ward = WardState(config)
        self.subscribers: set[Subscriber] = set()
        self.loop: asyncio.AbstractEventLoop | None = None  # set while the app runs
        self._last_refresh = 0.0

    def tick(self, now: float | None = None) -> None:
        """Apply what the sink holds (bad records are counted by the ward, never raised) and push the news."""
        now = time.monotonic() if now is None else now
        records, frames = self.sink.drain(limit=20_000)
        wall = time.time()
        for record in records:
            self.ward.apply(record, now, wall)
        for stream, (data, t_end) in frames.items():
            self.ward.bed(stream).apply_window(data, t_end)
        watched = {s.stream for s in self.subscribers}
        refresh = now - self._last_refresh >= WARD_EVERY_S  # ages and staleness move on without records
        if refresh:
            self._last_refresh = now
        for stream, bed in self.ward.beds.items():
            if stream not in watched:
                bed.take_delta(now, eeg=False)  # nobody watches: forget what is pending
            elif bed.has_news or refresh:
                message = _sse("delta", bed.take_delta(now))
                for subscriber in self.subscribers:
                    if subscriber.stream == stream:
                        subscriber.offer(message)
        if records or refresh:
            message = _sse("ward", self.ward.summary(now))
            for subscriber in self.subscribers:
                if subscriber.stream is None:
                    subscriber.offer(message)

    def snapshot(self, stream: str | None) -> str:
        now = time.monotonic()
        if stream is None:
            return _sse("ward", self.ward.summary(now))
        return _sse("snapshot", self.ward.bed(stream).snapshot(now))

    async def events(self, subscriber: Subscriber) -> AsyncIterator[str]:
        self.subscribers.add(subscriber)  # with the snapshot below, in one step of the loop: nothing missed
        try:
            yield self.snapshot(subscriber.stream)
            while (message := await subscriber.queue.get()) is not None:
                yield message
                if subscriber.lagging and subscriber.queue.empty():
                    subscriber.lagging = False
                    yield self.snapshot(subscriber.stream)
        finally:
            self.subscribers.discard(subscriber)

    def close_subscribers(self) -> None:
        for subscriber in self.subscribers:
            with contextlib.suppress(asyncio.QueueFull):
                subscriber.queue.put_nowait(None)


def token_given(scope: dict[str, Any]) -> tuple[str, bool]:
    """The token a request carries (header `Authorization: Bearer`, `?token=`, or the cookie; "" when none),
    and whether it came in the query (then the response sets the cookie)."""
    from starlette.requests import Request

    request = Request(scope)
    via_query = request.query_params.get("token")
    header = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
    return header or via_query or request.cookies.get(COOKIE) or "", bool(via_query)


def token_matches(given: str, token: str) -> bool:
    """In constant time, so the answer's timing says nothing about how much of a guess was right."""
    return hmac.compare_digest(given.encode(), token.encode())


class TokenCheck:
    """ASGI middleware: every HTTP request needs the token, or it is a 401. Pure ASGI (not
    BaseHTTPMiddleware), so event streams pass through unbuffered."""

    def __init__(self, app: Any, *, token: str) -> None:
        self.app = app
        self.token = token

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        from starlette.datastructures import MutableHeaders
        from starlette.responses import PlainTextResponse

        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given, via_query = token_given(scope)
        if not token_matches(given, self.token):
            await PlainTextResponse("a valid display token is required", status_code=401,
                                    headers=HEADERS)(scope, receive, send)
            return

        async def send_with_cookie(message: dict[str, Any]) -> None:
            if via_query and message["type"] == "http.response.start":  # the page's assets and events carry it
                MutableHeaders(scope=message).append("set-cookie", f"{COOKIE}={self.token}; HttpOnly; "
                                                     "SameSite=Strict; Path=/")
            await send(message)

        await self.app(scope, receive, send_with_cookie)


# Route handlers: the hub and the assets are on `request.app.state` (set by create_app).

def _asset(request: Request, name: str) -> Response:
    from starlette.responses import PlainTextResponse, Response

    assets = request.app.state.assets
    if name not in assets:  # a lookup in a dict built at start-up: never a path on disk
        return PlainTextResponse("not found", status_code=404, headers=HEADERS)
    body, media = assets[name]
    return Response(body, media_type=media, headers=HEADERS)


async def ward_page(request: Request) -> Response:
    return _asset(request, "ward.html")


async def bed_page(request: Request) -> Response:
    return _asset(request, "bed.html")


async def static(request: Request) -> Response:
    return _asset(request, request.path_params["name"])


def _known_stream(request: Request) -> str | None:
    stream = request.query_params.get("stream")
    return stream if stream in request.app.state.hub.ward.beds else None


async def api_ward(request: Request) -> Response:
    return _json(request.app.state.hub.ward.summary(time.monotonic()))


async def api_bed(request: Request) -> Response:
    stream = _known_stream(request)
    if stream is None:
        return _json({"error": "no such stream"}, status_code=404)
    return _json(request.app.state.hub.ward.beds[stream].snapshot(time.monotonic()))


async def events(request: Request) -> Response:
    from starlette.responses import PlainTextResponse, StreamingResponse

    stream = None
    if "stream" in request.query_params:
        stream = _known_stream(request)
        if stream is None:
            return PlainTextResponse("no such stream", status_code=404, headers=HEADERS)
    return StreamingResponse(request.app.state.hub.events(Subscriber(stream)), media_type="text/event-stream",
                             headers={**HEADERS, "X-Accel-Buffering": "no"})


@contextlib.asynccontextmanager
async def _pumping(app: Any) -> AsyncIterator[None]:
    """The app's lifespan: the hub's pump runs on the server's loop."""
    hub, tick_s = app.state.hub, app.state.tick_s

    async def pump() -> None:
        while True:
            hub.tick()
            await asyncio.sleep(tick_s)

    hub.loop = asyncio.get_running_loop()
    task = asyncio.create_task(pump())
    try:
        yield
    finally:
        task.cancel()


def create_app(hub: Hub, *, token: str | None = None, tick_s: float = 0.2) -> Any:
    """The Starlette app; the pump runs for the app's lifespan."""
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.routing import Route

    routes = [Route("/", ward_page), Route("/bed", bed_page), Route("/static/{name}", static),
              Route("/api/ward", api_ward), Route("/api/bed", api_bed), Route("/events", events)]
    middleware = [Middleware(TokenCheck, token=token)] if token is not None else []
    app = Starlette(routes=routes, middleware=middleware, lifespan=_pumping)
    app.state.hub, app.state.assets, app.state.tick_s = hub, _load_assets(), tick_s
    return app


def bind(config: ServeConfig) -> socket.socket:
    """The display's listening socket, or a one-line DataError (address in use, not on this machine)."""
    family = socket.AF_INET6 if ":" in config.host else socket.AF_INET
    listening = socket.socket(family, socket.SOCK_STREAM)
    listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listening.bind((config.host, config.port))  # port 0: any free port (tests)
        listening.listen(128)  # pages that connect before the server runs wait instead of being refused
    except OSError as error:
        listening.close()
        raise DataError(f"the live display cannot listen on {config.host}:{config.port} ({error.strerror or error}); "
                        "choose another --serve port or stop what uses it") from None
    return listening


def display_url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


class DisplayServer:
    """uvicorn on a thread of its own, so the runtime's loop never runs display code beyond the sink."""

    def __init__(self, sink: DisplaySink, config: ServeConfig, *, listening: socket.socket | None = None) -> None:
        """`listening`: a socket bound by `bind` (the runtime binds, the display's child process serves)."""
        from edge.errors import import_extra

        uvicorn = import_extra("uvicorn", "display")
        self.config = config.validate()
        self.sink = sink
        self.hub = Hub(sink, config.display)
        app = create_app(self.hub, token=config.token, tick_s=config.tick_s)
        self._server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on",
                                                     timeout_graceful_shutdown=1, access_log=False))
        self._socket = listening if listening is not None else bind(config)
        self.port = self._socket.getsockname()[1]
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._socket]},
                                        name="edge-display", daemon=True)

    @property
    def url(self) -> str:
        return display_url(self.config.host, self.port)

    def start(self, timeout: float = 10.0) -> DisplayServer:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise DataError(f"the display server did not start on {self.url}")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._thread.is_alive():
            if self.hub.loop is not None:
                self.hub.loop.call_soon_threadsafe(self.hub.close_subscribers)
            self._server.should_exit = True
            self._thread.join(timeout=10)
        self._socket.close()

    def __enter__(self) -> DisplayServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
