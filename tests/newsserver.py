"""A real HTTP server on loopback for the fetch and feed tests: routes, request counts, ETags."""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Route:
    body: bytes = b""
    content_type: str = "text/html; charset=utf-8"
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before answering (a slow page)
    drip: float = 0.0  # seconds between 1 kB pieces of the body (a trickling server)
    etag: str = ""  # answer 304 to a request carrying it in If-None-Match
    last_modified: str = ""  # answer 304 to a request carrying it in If-Modified-Since


class NewsServer:
    """Serves `routes` (path -> Route) on 127.0.0.1; `hits` counts requests per path."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.hits: Counter[str] = Counter()
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the http.server name
                server.answer(self)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def url(self, path: str) -> str:
        return self.base + path

    def page_hits(self, prefix: str = "/news/") -> int:
        with self.lock:
            return sum(n for p, n in self.hits.items() if p.startswith(prefix))

    def answer(self, h: BaseHTTPRequestHandler) -> None:
        path = h.path.split("?")[0]
        with self.lock:
            self.hits[path] += 1
            route = self.routes.get(path)
        if route is None:
            return self._send(h, Route(b"<html><body>Not found</body></html>", status=404))
        if route.delay:
            time.sleep(route.delay)
        if (route.etag and h.headers.get("If-None-Match") == route.etag) or (
                route.last_modified and h.headers.get("If-Modified-Since") == route.last_modified):
            return self._send(h, Route(status=304, etag=route.etag,
                                       last_modified=route.last_modified))
        self._send(h, route)

    def _send(self, h: BaseHTTPRequestHandler, route: Route) -> None:
        try:
            h.send_response(route.status)
            if route.status != 304:
                h.send_header("Content-Type", route.content_type)
                h.send_header("Content-Length", str(len(route.body)))
            for key, value in route.headers.items():
                h.send_header(key, value)
            if route.etag:
                h.send_header("ETag", route.etag)
            if route.last_modified:
                h.send_header("Last-Modified", route.last_modified)
            h.end_headers()
            if route.status == 304:
                return
            if not route.drip:
                h.wfile.write(route.body)
            for i in range(0, len(route.body) if route.drip else 0, 1024):
                h.wfile.write(route.body[i:i + 1024])
                h.wfile.flush()
                time.sleep(route.drip)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def __enter__(self) -> NewsServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
