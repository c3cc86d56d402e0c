"""Fixtures for the real-client tests: the built binaries on free loopback ports, an
OpenAI-compatible mock upstream that records what it receives, and mock Anthropic and
Gemini providers (mock_anthropic.py, mock_gemini.py) behind the providers binary.

scripts/test builds the binaries and names them in MODEL_ROUTER_BASE_BIN,
MODEL_ROUTER_LOCAL_BIN and MODEL_ROUTER_PROVIDERS_BIN; the local one was built with
MODEL_ROUTER_SENTINEL in its build environment as OPENAI_API_KEY, the providers one from
tests/sdk/routes-providers.yaml (environment `providers`).
"""

import json
import os
import secrets
import socket
import subprocess
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from mock_anthropic import AnthropicMock
from mock_gemini import GeminiMock

READY_WITHIN_S = 10.0
STOP_WITHIN_S = 10.0


def _required(name):
    value = os.environ.get(name)
    if not value:
        pytest.fail(f"{name} is not set: run ./scripts/test, which builds the binaries these tests drive")
    return value


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Gateway:
    """A model-router process on 127.0.0.1, its stderr (the logs) captured."""

    def __init__(self, binary, env):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.logs = ""
        full_env = {"PATH": os.environ.get("PATH", ""), "HOST": "127.0.0.1", "PORT": str(self.port), "RUST_LOG": "debug"}
        full_env.update(env)
        self.proc = subprocess.Popen([binary], env=full_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + READY_WITHIN_S
        while not self._ready():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"gateway did not become ready: {self.stop()}")
            time.sleep(0.02)

    def _ready(self):
        try:
            with urllib.request.urlopen(f"{self.base}/health/readiness", timeout=1) as r:
                return r.status == 200
        except OSError:
            return False

    def stop(self):
        """Stops the process (SIGTERM) and returns everything it logged."""
        if self.proc.poll() is None:
            self.proc.terminate()
        out, err = self.proc.communicate(timeout=STOP_WITHIN_S)
        self.logs += (out + err).decode(errors="replace")
        return self.logs


def _chunk(model, delta, finish=None):
    return {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}


class MockUpstream:
    """OpenAI-compatible upstream on a free port: chat JSON or SSE, and embeddings."""

    def __init__(self):
        self.requests = []
        mock = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))) or b"{}")
                mock.requests.append({"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()}, "body": body})
                if self.path.endswith("/embeddings"):
                    self._json({"object": "list", "model": body["model"], "usage": {"prompt_tokens": 1, "total_tokens": 1},
                                "data": [{"object": "embedding", "index": 0, "embedding": [0.5, 0.25]}]})
                elif body.get("stream"):
                    self._stream(body)
                else:
                    self._json({
                        "id": "chatcmpl-mock", "object": "chat.completion", "created": 1, "model": body["model"],
                        "choices": [{"index": 0, "message": {"role": "assistant", "content": "mock says hi"}, "finish_reason": "stop"}],
                        "usage": {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8},
                    })

            def _json(self, payload):
                data = json.dumps(payload).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.send_header("x-request-id", "req-mock-1")
                self.end_headers()
                self.wfile.write(data)

            def _stream(self, body):
                self.send_response(200)
                self.send_header("content-type", "text/event-stream")
                self.send_header("transfer-encoding", "chunked")
                self.end_headers()
                model = body["model"]
                events = [_chunk(model, {"role": "assistant", "content": "mock"}), _chunk(model, {"content": " streams"}),
                          _chunk(model, {}, "stop")]
                if (body.get("stream_options") or {}).get("include_usage"):
                    events.append({"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": model, "choices": [],
                                   "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}})
                for event in events + ["[DONE]"]:
                    data = event if isinstance(event, str) else json.dumps(event)
                    payload = f"data: {data}\n\n".encode()
                    self.wfile.write(f"{len(payload):x}\r\n".encode() + payload + b"\r\n")
                    self.wfile.flush()
                self.wfile.write(b"0\r\n\r\n")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        # A host name, as a k8s Service is reached: the gateway resolves it itself.
        self.base = f"http://localhost:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def base_gateway():
    gateway = Gateway(_required("MODEL_ROUTER_BASE_BIN"), {})
    yield gateway
    gateway.stop()


@pytest.fixture
def upstream():
    mock = MockUpstream()
    yield mock
    mock.stop()


@pytest.fixture
def sentinel():
    return _required("MODEL_ROUTER_SENTINEL")


@pytest.fixture
def local_binary():
    return _required("MODEL_ROUTER_LOCAL_BIN")


@pytest.fixture
def local_gateway(local_binary, upstream, sentinel):
    gateway = Gateway(local_binary, {"OPENAI_API_BASE": upstream.base, "OPENAI_API_KEY": sentinel})
    yield gateway
    gateway.stop()


@pytest.fixture
def providers_binary():
    return _required("MODEL_ROUTER_PROVIDERS_BIN")


@pytest.fixture
def anthropic_upstream():
    mock = AnthropicMock(key=f"sk-ant-api03-{secrets.token_hex(24)}")
    yield mock
    mock.stop()


@pytest.fixture
def gemini_upstream():
    mock = GeminiMock(key=f"AIzaSy{secrets.token_hex(16)}")
    yield mock
    mock.stop()


def providers_env(anthropic, gemini, master_key, anthropic_key=None, gemini_key=None):
    """The providers binary's run-time environment: Anthropic through the vendor's own
    variables, Gemini through the ones the routes name."""
    return {
        "ANTHROPIC_API_BASE": anthropic.base, "ANTHROPIC_API_KEY": anthropic_key or anthropic.key,
        "SDK_GEMINI_BASE": gemini.base, "SDK_GEMINI_KEY": gemini_key or gemini.key,
        "SDK_MASTER_KEY": master_key,
    }


@pytest.fixture
def providers_gateway(providers_binary, anthropic_upstream, gemini_upstream):
    """The providers binary in front of both mocks; on teardown, no provider key in its logs."""
    master_key = f"sk-master-{secrets.token_hex(8)}"
    gateway = Gateway(providers_binary, providers_env(anthropic_upstream, gemini_upstream, master_key))
    gateway.master_key = master_key
    yield gateway
    logs = gateway.stop()
    assert "request served" in logs, "the logs were captured"
    for key in (anthropic_upstream.key, gemini_upstream.key):
        assert key not in logs, "a provider key reached the logs"
