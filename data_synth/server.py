"""One small loopback HTTP server per worker, serving generated pages from memory.

``/static/*`` are the shared scripts and stylesheet (cacheable across tasks); ``/t/<name>/``
is one task's page. Nothing is read from disk after start and nothing else is answered.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from data_synth.page import static_assets

_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}


class AppServer:
    def __init__(self) -> None:
        self._pages: dict[str, bytes] = {}
        self._lock = threading.Lock()
        assets = static_assets()
        pages, lock = self._pages, self._lock

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                if path in assets:
                    body, ctype, cache = assets[path], _TYPES[path[path.rfind("."):]], "max-age=3600"
                else:
                    with lock:
                        page = pages.get(path)
                    if page is None:
                        self.send_error(404)
                        return
                    body, ctype, cache = page, "text/html; charset=utf-8", "no-store"
                self.send_response(200)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", cache)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # a line per request on stderr helps nobody

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="synth-http", daemon=True)
        self._thread.start()

    @property
    def origin(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def publish(self, name: str, html: str) -> str:
        """Serve ``html`` as task ``name``'s page; returns its URL. Replaces the only other
        page kept, so a long run holds two pages at most."""
        path = f"/t/{name}/"
        with self._lock:
            if len(self._pages) > 1:
                self._pages.clear()
            self._pages[path] = html.encode()
        return self.origin + path

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
