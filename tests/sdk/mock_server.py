"""The base the mock providers (mock_anthropic.py, mock_gemini.py) share: an HTTP server on
127.0.0.1:0 that records every request it receives (`Recorded`) and sends whatever the
provider's `answer` returns (`Response`), whole or as chunked SSE pieces; tests queue
answers with the provider's `reply(...)` and `fail(...)`.
"""

import collections
import json
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Recorded:
    """One request as the mock received it."""

    def __init__(self, method, target, headers, raw):
        self.method = method
        parsed = urllib.parse.urlsplit(target)
        self.path = parsed.path
        self.query = urllib.parse.parse_qs(parsed.query)
        self.target = target
        self.headers = {k.lower(): v for k, v in headers.items()}
        self.raw = raw
        try:
            self.body = json.loads(raw) if raw else None
        except ValueError:
            self.body = None

    def __repr__(self):
        return f"{self.method} {self.target} {json.dumps(self.body)[:2000]}"


class Response:
    """What a mock sends: a status, headers, and a body whole or as SSE pieces."""

    def __init__(self, status, headers, body=b"", pieces=None):
        self.status = status
        self.headers = headers
        self.body = body
        self.pieces = pieces


class MockProvider:
    """A provider on a free loopback port; subclasses implement `answer(recorded)`, which
    gets the requests of every method in `METHODS` (the others are `not_found`)."""

    METHODS = ("POST",)

    def __init__(self, key):
        self.key = key
        self.requests = []
        self.queue = collections.deque()
        self._lock = threading.Lock()
        mock = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("content-length", 0)))
                recorded = Recorded("POST", self.path, self.headers, raw)
                with mock._lock:
                    mock.requests.append(recorded)
                self._send(mock.answer(recorded))

            def do_GET(self):
                self._bodyless("GET")

            def do_DELETE(self):
                self._bodyless("DELETE")

            def _bodyless(self, method):
                raw = self.rfile.read(int(self.headers.get("content-length", 0)))
                recorded = Recorded(method, self.path, self.headers, raw)
                with mock._lock:
                    mock.requests.append(recorded)
                self._send(mock.answer(recorded) if method in mock.METHODS else mock.not_found(recorded))

            def _send(self, response):
                self.send_response(response.status)
                for name, value in response.headers:
                    self.send_header(name, value)
                if response.pieces is None:
                    self.send_header("content-length", str(len(response.body)))
                    self.end_headers()
                    self.wfile.write(response.body)
                    return
                self.send_header("transfer-encoding", "chunked")
                self.end_headers()
                for piece in response.pieces:
                    self.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
                    self.wfile.flush()
                self.wfile.write(b"0\r\n\r\n")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def _next(self):
        with self._lock:
            return self.queue.popleft() if self.queue else None

    @property
    def last(self):
        assert self.requests, "the mock received nothing"
        return self.requests[-1]


def json_response(status, payload, headers=(), indent=None):
    body = json.dumps(payload, indent=indent).encode()
    return Response(status, [("content-type", "application/json"), *headers], body)


def text_pieces(text, size):
    return [text[i:i + size] for i in range(0, len(text), size)] or [""]
