"""A mock AWS Bedrock runtime and a mock STS on 127.0.0.1:0, for the real-client tests of
the bedrock/ deployments (test_bedrock_sdk.py).

The runtime refuses a request whose SigV4 signature is not the one botocore computes for it
with the credentials it expects (the key id names them), as AWS does: 403 with
`x-amzn-ErrorType: InvalidSignatureException` (or `UnrecognizedClientException` for an
unknown key, `ExpiredTokenException`-like 403 for a wrong session token). The signature is
recomputed from the request as received: the headers its `SignedHeaders` names, the raw path
(double-encoded for the canonical request as botocore does for every service but S3), the
body's SHA-256 and its `x-amz-date`. Then it answers Converse JSON, ConverseStream and
InvokeModel event-stream frames (encoded here: prelude, headers, payload, CRC32s), or the
error a test queued.

STS answers `AssumeRoleWithWebIdentity` for the one web identity token it knows with
temporary credentials the runtime then accepts.
"""

import base64
import json
import struct
import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials


def frame(event_type, payload, message_type="event"):
    """One AWS event-stream message."""
    type_header = ":exception-type" if message_type == "exception" else ":event-type"
    headers = b""
    for name, value in ((":message-type", message_type), (type_header, event_type),
                        (":content-type", "application/json")):
        name, value = name.encode(), value.encode()
        headers += struct.pack("B", len(name)) + name + b"\x07" + struct.pack(">H", len(value)) + value
    body = json.dumps(payload).encode()
    total = 12 + len(headers) + len(body) + 4
    prelude = struct.pack(">II", total, len(headers))
    message = prelude + struct.pack(">I", zlib.crc32(prelude)) + headers + body
    return message + struct.pack(">I", zlib.crc32(message))


def chunk(event):
    """An InvokeModel stream chunk carrying one Anthropic event."""
    return frame("chunk", {"bytes": base64.b64encode(json.dumps(event).encode()).decode(), "p": "abcd"})


class Seen:
    def __init__(self, method, path, headers, body):
        self.method, self.path, self.headers, self.body = method, path, headers, body

    def json(self):
        return json.loads(self.body)


class BedrockMock:
    """The runtime. `keys` maps key id → (secret, session token or None)."""

    def __init__(self, keys):
        self.keys = dict(keys)
        self.seen = []
        self.queue = []
        self.signature_failures = 0
        mock = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                seen = Seen("POST", self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                mock.seen.append(seen)
                refusal = mock.check_signature(seen, self.server.server_address)
                status, headers, payload = refusal or mock.answer(seen)
                self.send_response(status)
                for name, value in headers:
                    self.send_header(name, value)
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()

    @property
    def last(self):
        return self.seen[-1]

    def check_signature(self, seen, address):
        auth = seen.headers.get("authorization", "")
        try:
            scheme, rest = auth.split(" ", 1)
            parts = dict(p.strip().split("=", 1) for p in rest.split(","))
            key_id, date, region, service, terminal = parts["Credential"].split("/")
            signed_headers = parts["SignedHeaders"].split(";")
        except (ValueError, KeyError):
            return _error(403, "MissingAuthenticationTokenException", "Missing Authentication Token")
        if scheme != "AWS4-HMAC-SHA256" or service != "bedrock" or terminal != "aws4_request":
            return _error(403, "IncompleteSignatureException", "bad credential scope")
        if key_id not in self.keys:
            return _error(403, "UnrecognizedClientException", "The security token included in the request is invalid.")
        secret, token = self.keys[key_id]
        if token is not None and seen.headers.get("x-amz-security-token") != token:
            return _error(403, "UnrecognizedClientException", "The security token included in the request is invalid.")
        if token is None and "x-amz-security-token" in seen.headers:
            return _error(403, "UnrecognizedClientException", "The security token included in the request is invalid.")
        headers = {name: seen.headers[name] for name in signed_headers if name in seen.headers}
        headers.setdefault("host", f"{address[0]}:{address[1]}")
        request = AWSRequest(method="POST", url=f"http://{headers['host']}{seen.path}", data=seen.body, headers=headers)
        request.context["timestamp"] = seen.headers.get("x-amz-date", "")
        signer = SigV4Auth(Credentials(key_id, secret, token), "bedrock", region)
        canonical = signer.canonical_request(request)
        expected = signer.signature(signer.string_to_sign(request, canonical), request)
        if expected != parts.get("Signature"):
            self.signature_failures += 1
            return _error(403, "InvalidSignatureException",
                          "The request signature we calculated does not match the signature you provided.")
        return None

    def reply(self, status, headers, payload):
        self.queue.append((status, headers, payload))

    def fail(self, status, error_type, message):
        self.queue.append(_error(status, error_type, message))

    def answer(self, seen):
        if self.queue:
            return self.queue.pop(0)
        if seen.path.endswith("/converse-stream"):
            return _stream([
                frame("messageStart", {"role": "assistant"}),
                frame("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "Hello from "}}),
                frame("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "Bedrock."}}),
                frame("contentBlockStop", {"contentBlockIndex": 0}),
                frame("messageStop", {"stopReason": "end_turn"}),
                frame("metadata", {"usage": {"inputTokens": 9, "outputTokens": 4, "totalTokens": 13}, "metrics": {}}),
            ])
        if seen.path.endswith("/invoke"):
            return 200, [("content-type", "application/json")], json.dumps({
                "id": "msg_bdrk_01", "type": "message", "role": "assistant", "model": "claude-3-5-sonnet-20240620",
                "content": [{"type": "text", "text": "Hello from InvokeModel."}], "stop_reason": "end_turn",
                "stop_sequence": None, "usage": {"input_tokens": 8, "output_tokens": 5},
            }).encode()
        if seen.path.endswith("/invoke-with-response-stream"):
            return _stream([
                chunk({"type": "message_start", "message": {
                    "id": "msg_bdrk_02", "type": "message", "role": "assistant", "model": "claude-3-5-sonnet-20240620",
                    "content": [], "stop_reason": None, "stop_sequence": None,
                    "usage": {"input_tokens": 8, "output_tokens": 1}}}),
                chunk({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
                chunk({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Streamed."}}),
                chunk({"type": "content_block_stop", "index": 0}),
                chunk({"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                       "usage": {"output_tokens": 3}}),
                chunk({"type": "message_stop"}),
            ])
        return converse([{"text": "Hello from Bedrock."}], "end_turn")


def converse(content, stop_reason, usage=(12, 6)):
    body = {"output": {"message": {"role": "assistant", "content": content}}, "stopReason": stop_reason,
            "usage": {"inputTokens": usage[0], "outputTokens": usage[1], "totalTokens": sum(usage)},
            "metrics": {"latencyMs": 42}}
    return 200, [("content-type", "application/json")], json.dumps(body).encode()


def _stream(frames):
    return 200, [("content-type", "application/vnd.amazon.eventstream")], b"".join(frames)


def _error(status, error_type, message):
    headers = [("content-type", "application/json"),
               ("x-amzn-errortype", f"{error_type}:http://internal.amazon.com/coral/com.amazon.bedrock/")]
    return status, headers, json.dumps({"message": message}).encode()


class StsMock:
    """AssumeRoleWithWebIdentity for `token`, handing out `credentials` (key, secret, token)."""

    def __init__(self, token, credentials):
        self.token, self.credentials, self.seen = token, credentials, []
        mock = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                form = parse_qs(self.rfile.read(int(self.headers.get("content-length", 0))).decode())
                mock.seen.append(form)
                key, secret, session = mock.credentials
                if form.get("Action") != ["AssumeRoleWithWebIdentity"] or form.get("WebIdentityToken") != [mock.token]:
                    status, body = 403, ("<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code>"
                                         "<Message>Not authorized to perform sts:AssumeRoleWithWebIdentity</Message>"
                                         "</Error></ErrorResponse>")
                else:
                    status, body = 200, (
                        "<AssumeRoleWithWebIdentityResponse><AssumeRoleWithWebIdentityResult><Credentials>"
                        f"<AccessKeyId>{key}</AccessKeyId><SecretAccessKey>{secret}</SecretAccessKey>"
                        f"<SessionToken>{session}</SessionToken><Expiration>2099-01-01T00:00:00Z</Expiration>"
                        "</Credentials></AssumeRoleWithWebIdentityResult></AssumeRoleWithWebIdentityResponse>")
                payload = body.encode()
                self.send_response(status)
                self.send_header("content-type", "text/xml")
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
