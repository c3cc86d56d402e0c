"""Mock providers that speak each provider's own protocol, for the real-client tests of the
translated deployments (test_openai_sdk_providers.py): Anthropic's Messages API and Google
AI Studio's generateContent API, each on 127.0.0.1:0, recording every request.

They answer as the real APIs are documented to, not as the gateway happens to expect:

- Anthropic (platform.claude.com/docs, Messages API, Streaming, Errors): `POST /v1/messages`
  with `x-api-key` and `anthropic-version`; a Message object, or with `"stream": true` the
  named SSE events (`message_start` with empty content, `content_block_start`, `ping`,
  `content_block_delta` with `text_delta` / `input_json_delta` (the first one empty),
  `content_block_stop`, `message_delta` whose usage is cumulative, `message_stop`); errors
  as `{"type": "error", "error": {"type", "message"}, "request_id"}`.
- Gemini (ai.google.dev/api, generateContent, streamGenerateContent, Function calling):
  `POST /v1beta/models/{model}:generateContent` or `:streamGenerateContent?alt=sse` (without
  `alt=sse` the stream is one JSON array) with `x-goog-api-key` (or `?key=`);
  GenerateContentResponse objects in camelCase, pretty-printed as Google's front end sends
  them, SSE events separated by CRLF pairs, each function call whole in one event; errors as
  `{"error": {"code", "message", "status", "details"}}`, a bad key being 400
  INVALID_ARGUMENT / API_KEY_INVALID.

Each mock also refuses what the real API refuses, with the real API's status and wording:
a wrong or missing key, missing required fields, unknown fields (Anthropic: "Extra inputs
are not permitted"; Google: "Unknown name ... Cannot find field"), empty text blocks,
`tool_use` without its `tool_result` in the next message (and the reverse), function
response turns that do not answer every call of the function call turn. A translation bug
therefore shows up as the provider's own 400, relayed to the client.

Tests script the answers: `reply(...)` and `fail(...)` queue what the next requests get;
with nothing queued a mock answers a short default text.
"""

import base64
import collections
import copy
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


class _Mock:
    """A provider on a free loopback port; subclasses implement `answer(recorded)`."""

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
                recorded = Recorded("GET", self.path, self.headers, b"")
                with mock._lock:
                    mock.requests.append(recorded)
                self._send(mock.not_found(recorded))

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


def _json_response(status, payload, headers=(), indent=None):
    body = json.dumps(payload, indent=indent).encode()
    return Response(status, [("content-type", "application/json"), *headers], body)


# --------------------------------------------------------------------------------------
# Anthropic Messages API
# --------------------------------------------------------------------------------------

# The API versions the Messages API takes (Versions page; 2023-06-01 is current).
ANTHROPIC_VERSIONS = ("2023-06-01", "2023-01-01")
# The Messages API's request fields (Messages > Create, 2025-2026), beta ones included.
_ANTHROPIC_FIELDS = {
    "model", "messages", "max_tokens", "container", "context_management", "mcp_servers", "metadata",
    "service_tier", "stop_sequences", "stream", "system", "temperature", "thinking", "tool_choice", "tools",
    "top_k", "top_p", "output_format", "output_config", "inference_geo",
}
_ANTHROPIC_BLOCKS = {
    "user": {"text", "image", "document", "tool_result", "search_result"},
    "assistant": {"text", "tool_use", "thinking", "redacted_thinking", "server_tool_use", "web_search_tool_result"},
}
_ANTHROPIC_ERROR_TYPES = {
    400: "invalid_request_error", 401: "authentication_error", 403: "permission_error", 404: "not_found_error",
    413: "request_too_large", 429: "rate_limit_error", 500: "api_error", 529: "overloaded_error",
}


class AnthropicError(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message


def _anthropic_check(headers, body, key):
    """Raises AnthropicError for what the real API refuses."""
    if headers.get("x-api-key") != key:
        raise AnthropicError(401, "invalid x-api-key")
    if not headers.get("anthropic-version"):
        raise AnthropicError(400, "anthropic-version: header is required")
    if headers["anthropic-version"] not in ANTHROPIC_VERSIONS:
        raise AnthropicError(400, f"anthropic-version: invalid version {headers['anthropic-version']}")
    if not headers.get("content-type", "").startswith("application/json") or not isinstance(body, dict):
        raise AnthropicError(400, "Invalid request body: expected a JSON object")
    for field in body:
        if field not in _ANTHROPIC_FIELDS:
            raise AnthropicError(400, f"{field}: Extra inputs are not permitted")
    for field in ("model", "max_tokens", "messages"):
        if field not in body:
            raise AnthropicError(400, f"{field}: Field required")
    if not isinstance(body["max_tokens"], int) or body["max_tokens"] < 1:
        raise AnthropicError(400, "max_tokens: Input should be a valid integer greater than or equal to 1")
    system = body.get("system")
    if system is not None and not isinstance(system, str):
        if not isinstance(system, list) or any(b.get("type") != "text" or not b.get("text") for b in system):
            raise AnthropicError(400, "system: Input should be a valid string or a list of non-empty text blocks")
    messages = body["messages"]
    if not isinstance(messages, list) or not messages:
        raise AnthropicError(400, "messages: at least one message is required")
    previous_tool_uses = set()
    for i, message in enumerate(messages):
        role = message.get("role")
        if role not in ("user", "assistant"):
            raise AnthropicError(400, f"messages.{i}.role: Input should be 'user' or 'assistant'")
        extra = set(message) - {"role", "content"}
        if extra:
            raise AnthropicError(400, f"messages.{i}.{sorted(extra)[0]}: Extra inputs are not permitted")
        content = message.get("content")
        final_assistant = role == "assistant" and i == len(messages) - 1
        if isinstance(content, str):
            blocks = [{"type": "text", "text": content}] if content or not final_assistant else []
        elif isinstance(content, list):
            blocks = content
        else:
            raise AnthropicError(400, f"messages.{i}.content: Input should be a valid string or list")
        if not blocks and not final_assistant:
            raise AnthropicError(400, f"messages.{i}: all messages must have non-empty content except for the optional final assistant message")
        tool_uses, tool_results, seen_other = [], [], False
        for j, block in enumerate(blocks):
            kind = block.get("type")
            if kind not in _ANTHROPIC_BLOCKS[role]:
                raise AnthropicError(400, f"messages.{i}.content.{j}.type: Input tag '{kind}' is not allowed for the {role} role")
            if kind == "text" and not block.get("text"):
                raise AnthropicError(400, "messages: text content blocks must be non-empty")
            if kind == "tool_use":
                if not block.get("id") or not block.get("name") or not isinstance(block.get("input"), dict):
                    raise AnthropicError(400, f"messages.{i}.content.{j}.tool_use: id, name and an object input are required")
                tool_uses.append(block["id"])
            if kind == "tool_result":
                if seen_other:
                    raise AnthropicError(400, f"messages.{i}: tool_result blocks must come first in the content, before any text")
                tool_results.append(block.get("tool_use_id"))
                content_ = block.get("content", "")
                if not isinstance(content_, (str, list)):
                    raise AnthropicError(400, f"messages.{i}.content.{j}.content: Input should be a valid string or list")
            else:
                seen_other = True
        unexpected = [t for t in tool_results if t not in previous_tool_uses]
        if unexpected:
            raise AnthropicError(400, f"messages.{i}.content.0: unexpected `tool_use_id` found in `tool_result` blocks: {unexpected[0]}. Each `tool_result` block must have a corresponding `tool_use` block in the previous message.")
        missing = [t for t in previous_tool_uses if t not in tool_results]
        if missing:
            raise AnthropicError(400, f"messages.{i - 1}: `tool_use` ids were found without `tool_result` blocks immediately after: {missing[0]}. Each `tool_use` block must have a corresponding `tool_result` block in the next message.")
        previous_tool_uses = set(tool_uses)
    for k, tool in enumerate(body.get("tools") or []):
        if not tool.get("name") or tool.get("type", "custom") == "custom" and not isinstance(tool.get("input_schema"), dict):
            raise AnthropicError(400, f"tools.{k}: name and input_schema are required")
        if tool.get("type", "custom") == "custom" and tool["input_schema"].get("type") != "object":
            raise AnthropicError(400, f"tools.{k}.custom.input_schema.type: Input should be 'object'")
    choice = body.get("tool_choice")
    if choice is not None and choice.get("type") not in ("auto", "any", "tool", "none"):
        raise AnthropicError(400, "tool_choice.type: Input tag does not match any of the expected tags: 'auto', 'any', 'tool', 'none'")


class AnthropicMock(_Mock):
    """Anthropic's Messages API. `base` is what ANTHROPIC_API_BASE takes (no `/v1`)."""

    MODEL_VERSION = "claude-sonnet-4-5-20250929"

    def __init__(self, key):
        super().__init__(key)
        self.base = f"http://127.0.0.1:{self.port}"
        self._ids = 0

    def reply(self, content, stop_reason="end_turn", input_tokens=12, output_tokens=6, cache_read=0):
        """Queues a Message: `content` is a string (one text block) or a list of blocks."""
        blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content
        self.queue.append(("message", blocks, stop_reason, {
            "input_tokens": input_tokens, "cache_creation_input_tokens": 0, "cache_read_input_tokens": cache_read,
            "output_tokens": output_tokens,
        }))

    def fail(self, status, message, headers=()):
        """Queues an error answer with the type the API uses for `status`."""
        self.queue.append(("error", status, message, list(headers)))

    def not_found(self, recorded):
        return self._error(404, f"Not Found: {recorded.path}")

    def _request_id(self):
        self._ids += 1
        return f"req_011CMock{self._ids:08d}"

    def _error(self, status, message, headers=()):
        payload = {"type": "error", "error": {"type": _ANTHROPIC_ERROR_TYPES.get(status, "api_error"), "message": message},
                   "request_id": self._request_id()}
        return _json_response(status, payload, [("request-id", payload["request_id"]), *headers])

    def answer(self, recorded):
        if recorded.path != "/v1/messages":
            return self.not_found(recorded)
        try:
            _anthropic_check(recorded.headers, recorded.body, self.key)
        except AnthropicError as e:
            return self._error(e.status, e.message)
        script = self._next() or ("message", [{"type": "text", "text": "Hello from the mock Claude."}], "end_turn",
                                  {"input_tokens": 10, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0, "output_tokens": 7})
        if script[0] == "error":
            _, status, message, headers = script
            return self._error(status, message, headers)
        _, blocks, stop_reason, usage = script
        message = {
            "id": f"msg_01Mock{len(self.requests):06d}", "type": "message", "role": "assistant",
            "model": self.MODEL_VERSION, "content": blocks, "stop_reason": stop_reason, "stop_sequence": None,
            "usage": {**usage, "service_tier": "standard"},
        }
        if recorded.body.get("stream"):
            return Response(200, [("content-type", "text/event-stream; charset=utf-8"), ("cache-control", "no-cache"),
                                  ("request-id", self._request_id())], pieces=list(_anthropic_events(message)))
        return _json_response(200, message, [("request-id", self._request_id())])


def _pieces(text, size):
    return [text[i:i + size] for i in range(0, len(text), size)] or [""]


def _anthropic_events(message):
    """The SSE events the Messages API streams for `message`, as documented."""

    def event(name, data):
        return f"event: {name}\ndata: {json.dumps(data)}\n\n".encode()

    usage = message["usage"]
    start = dict(message, content=[], stop_reason=None, stop_sequence=None,
                 usage=dict(usage, output_tokens=1))
    yield event("message_start", {"type": "message_start", "message": start})
    for index, block in enumerate(message["content"]):
        if block["type"] == "text":
            yield event("content_block_start", {"type": "content_block_start", "index": index, "content_block": {"type": "text", "text": ""}})
            if index == 0:
                yield event("ping", {"type": "ping"})
            for piece in _pieces(block["text"], 7):
                yield event("content_block_delta", {"type": "content_block_delta", "index": index, "delta": {"type": "text_delta", "text": piece}})
        elif block["type"] == "tool_use":
            yield event("content_block_start", {"type": "content_block_start", "index": index,
                                                "content_block": {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}})
            yield event("content_block_delta", {"type": "content_block_delta", "index": index, "delta": {"type": "input_json_delta", "partial_json": ""}})
            for piece in _pieces(json.dumps(block["input"]), 9):
                yield event("content_block_delta", {"type": "content_block_delta", "index": index, "delta": {"type": "input_json_delta", "partial_json": piece}})
        yield event("content_block_stop", {"type": "content_block_stop", "index": index})
    # message_delta's usage is cumulative: the final counts, not an increment.
    yield event("message_delta", {"type": "message_delta", "delta": {"stop_reason": message["stop_reason"], "stop_sequence": None},
                                  "usage": {k: usage[k] for k in ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens", "output_tokens")}})
    yield event("message_stop", {"type": "message_stop"})


# --------------------------------------------------------------------------------------
# Google AI Studio (Gemini API) generateContent
# --------------------------------------------------------------------------------------

def _camel(name):
    head, *rest = name.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


def _fields(*names):
    """Field names as proto3 JSON accepts them: lowerCamelCase or the proto's snake_case."""
    out = set()
    for name in names:
        out |= {name, _camel(name)}
    return out


_GEMINI_REQUEST = _fields("contents", "tools", "tool_config", "safety_settings", "system_instruction", "generation_config",
                          "cached_content")
_GEMINI_CONTENT = _fields("role", "parts")
_GEMINI_PART_DATA = _fields("text", "inline_data", "function_call", "function_response", "file_data", "executable_code",
                            "code_execution_result")
_GEMINI_PART = _GEMINI_PART_DATA | _fields("thought", "thought_signature", "video_metadata", "part_metadata")
_GEMINI_GENERATION = _fields(
    "stop_sequences", "response_mime_type", "response_schema", "response_json_schema", "response_modalities",
    "candidate_count", "max_output_tokens", "temperature", "top_p", "top_k", "seed", "presence_penalty",
    "frequency_penalty", "response_logprobs", "logprobs", "enable_enhanced_civic_answers", "speech_config",
    "thinking_config", "media_resolution",
)
_GEMINI_TOOL = _fields("function_declarations", "google_search_retrieval", "code_execution", "google_search", "url_context",
                       "computer_use", "file_search", "google_maps")
_GEMINI_DECLARATION = _fields("name", "description", "parameters", "parameters_json_schema", "response",
                              "response_json_schema", "behavior")
_GEMINI_SCHEMA = _fields("type", "format", "title", "description", "nullable", "enum", "max_items", "min_items",
                         "properties", "required", "min_properties", "max_properties", "min_length", "max_length",
                         "pattern", "example", "any_of", "property_ordering", "default", "items", "minimum", "maximum")
_GEMINI_STATUS = {400: "INVALID_ARGUMENT", 403: "PERMISSION_DENIED", 404: "NOT_FOUND", 429: "RESOURCE_EXHAUSTED",
                  500: "INTERNAL", 503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED"}


def _get(obj, name):
    """A field by either of its JSON names."""
    return obj.get(name, obj.get(_camel(name)))


class GeminiError(Exception):
    def __init__(self, status, message, details=None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.details = details or []


def _unknown(obj, allowed, where):
    for name in obj:
        if name not in allowed:
            message = f"Invalid JSON payload received. Unknown name \"{name}\" at '{where}': Cannot find field."
            raise GeminiError(400, message, [{"@type": "type.googleapis.com/google.rpc.BadRequest",
                                              "fieldViolations": [{"field": where, "description": message}]}])


def _gemini_schema(schema, where):
    if not isinstance(schema, dict):
        return
    _unknown(schema, _GEMINI_SCHEMA, where)
    for name, sub in (_get(schema, "properties") or {}).items():
        _gemini_schema(sub, f"{where}.properties[{name}].value")
    if "items" in schema:
        _gemini_schema(schema["items"], f"{where}.items")
    for k, sub in enumerate(_get(schema, "any_of") or []):
        _gemini_schema(sub, f"{where}.any_of[{k}]")


def _gemini_check(body):
    """Raises GeminiError for what generateContent refuses."""
    if not isinstance(body, dict):
        raise GeminiError(400, "Invalid JSON payload received.")
    _unknown(body, _GEMINI_REQUEST, "")
    system = _get(body, "system_instruction")
    if system is not None:
        _unknown(system, _GEMINI_CONTENT, "system_instruction")
        for k, part in enumerate(system.get("parts") or []):
            _unknown(part, _GEMINI_PART, f"system_instruction.parts[{k}]")
    contents = body.get("contents")
    if not contents:
        raise GeminiError(400, "* GenerateContentRequest.contents: contents is not specified\n")
    previous_calls = 0
    previous_role = None
    for i, content in enumerate(contents):
        _unknown(content, _GEMINI_CONTENT, f"contents[{i}]")
        role = content.get("role")
        if role not in ("user", "model"):
            raise GeminiError(400, "Please use a valid role: user, model.")
        parts = content.get("parts")
        if not parts:
            raise GeminiError(400, f"* GenerateContentRequest.contents[{i}].parts: contents.parts must not be empty.\n")
        calls = responses = 0
        for k, part in enumerate(parts):
            where = f"contents[{i}].parts[{k}]"
            _unknown(part, _GEMINI_PART, where)
            data = [name for name in part if name in _GEMINI_PART_DATA]
            if len(data) != 1:
                raise GeminiError(400, f"* GenerateContentRequest.{where}.data: required oneof field 'data' must have one initialized field\n")
            call = _get(part, "function_call")
            if call is not None:
                _unknown(call, _fields("id", "name", "args"), f"{where}.function_call")
                if role != "model" or not call.get("name"):
                    raise GeminiError(400, f"* GenerateContentRequest.{where}.function_call: a function call needs a name and the model role\n")
                calls += 1
            response = _get(part, "function_response")
            if response is not None:
                _unknown(response, _fields("id", "name", "response", "will_continue", "scheduling", "parts"), f"{where}.function_response")
                if not response.get("name"):
                    raise GeminiError(400, f"* GenerateContentRequest.{where}.function_response.name: Name cannot be empty.\n")
                if not isinstance(response.get("response"), dict):
                    message = f"Invalid value at '{where}.function_response.response' (type.googleapis.com/google.protobuf.Struct)"
                    raise GeminiError(400, message)
                responses += 1
        if calls and previous_role != "user":
            raise GeminiError(400, "Please ensure that function call turn comes immediately after a user turn or after a function response turn.")
        if previous_calls and responses != previous_calls:
            raise GeminiError(400, "Please ensure that the number of function response parts is equal to the number of function call parts of the function call turn.")
        if responses and not previous_calls:
            raise GeminiError(400, "Please ensure that function response turn comes immediately after a function call turn.")
        previous_calls, previous_role = calls, role
    generation = _get(body, "generation_config")
    if generation is not None:
        _unknown(generation, _GEMINI_GENERATION, "generation_config")
    for t, tool in enumerate(body.get("tools") or []):
        _unknown(tool, _GEMINI_TOOL, f"tools[{t}]")
        for d, declaration in enumerate(_get(tool, "function_declarations") or []):
            where = f"tools[{t}].function_declarations[{d}]"
            _unknown(declaration, _GEMINI_DECLARATION, where)
            if "parameters" in declaration:
                _gemini_schema(declaration["parameters"], f"{where}.parameters")
    config = _get(body, "tool_config")
    if config is not None:
        _unknown(config, _fields("function_calling_config", "retrieval_config"), "tool_config")
        calling = _get(config, "function_calling_config") or {}
        _unknown(calling, _fields("mode", "allowed_function_names"), "tool_config.function_calling_config")
        if calling.get("mode") not in (None, "AUTO", "ANY", "NONE", "VALIDATED", "MODE_UNSPECIFIED"):
            raise GeminiError(400, f"Invalid value at 'tool_config.function_calling_config.mode' ({calling.get('mode')})")


def _gemini_signatures_check(body, issued):
    """Gemini 3: in the current turn (the contents after the last user turn that is not a
    function response), the first function call of each model step carries the signature
    it was issued with."""
    contents = body["contents"]
    start = 0
    for i, content in enumerate(contents):
        if content["role"] == "user" and not any(_get(p, "function_response") for p in content["parts"]):
            start = i + 1
    for i in range(start, len(contents)):
        content = contents[i]
        calls = [(k, p) for k, p in enumerate(content["parts"]) if _get(p, "function_call")]
        if content["role"] != "model" or not calls:
            continue
        k, first = calls[0]
        signature = _get(first, "thought_signature")
        if signature is None:
            name = _get(first, "function_call")["name"]
            raise GeminiError(400, "Function call is missing a thought_signature in functionCall parts. This is required for "
                                   "tools to work correctly, and missing thought_signature may lead to degraded model "
                                   f"performance. Additional data, function call `default_api:{name}` , position {k + 1}. "
                                   "Please refer to https://ai.google.dev/gemini-api/docs/thought-signatures for more details.")
        if signature not in issued:
            raise GeminiError(400, "Corrupted thought signature.")


class GeminiMock(_Mock):
    """Google AI Studio's Gemini API. `base` is what a gemini/ api_base takes (with `/v1beta`).

    Gemini 3 models sign their function calls (a `thoughtSignature` on the first
    `functionCall` part of each step) and refuse a request whose current turn replays a
    function call without its signature (ai.google.dev/gemini-api/docs/thought-signatures).
    """

    MODELS = ("gemini-2.0-flash", "gemini-3-flash-preview")

    def __init__(self, key):
        super().__init__(key)
        self.base = f"http://127.0.0.1:{self.port}/v1beta"
        self.signatures = []

    def reply(self, parts, finish_reason="STOP", prompt_tokens=9, candidates_tokens=5):
        """Queues a candidate: `parts` is a string (one text part) or a list of parts."""
        parts = [{"text": parts}] if isinstance(parts, str) else parts
        self.queue.append(("content", parts, finish_reason, prompt_tokens, candidates_tokens))

    def fail(self, status, message, details=()):
        self.queue.append(("error", status, message, list(details)))

    def not_found(self, recorded):
        return self._error(404, f"models/{recorded.path}: the method is not found.")

    def _error(self, status, message, details=()):
        payload = {"error": {"code": status, "message": message, "status": _GEMINI_STATUS.get(status, "UNKNOWN")}}
        if details:
            payload["error"]["details"] = list(details)
        return _json_response(status, payload, [("vary", "Origin, X-Origin, Referer")], indent=2)

    def answer(self, recorded):
        model, _, method = recorded.path.removeprefix("/v1beta/models/").partition(":")
        if not recorded.path.startswith("/v1beta/models/") or method not in ("generateContent", "streamGenerateContent"):
            return self.not_found(recorded)
        key = recorded.headers.get("x-goog-api-key") or (recorded.query.get("key") or [None])[0]
        if key is None:
            return self._error(403, "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.")
        if key != self.key:
            return self._error(400, "API key not valid. Please pass a valid API key.", [
                {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID", "domain": "googleapis.com",
                 "metadata": {"service": "generativelanguage.googleapis.com"}},
            ])
        if model not in self.MODELS:
            return self._error(404, f"models/{model} is not found for API version v1beta, or is not supported for generateContent.")
        signs = model.startswith("gemini-3")
        try:
            _gemini_check(recorded.body)
            if signs:
                _gemini_signatures_check(recorded.body, self.signatures)
        except GeminiError as e:
            return self._error(e.status, e.message, e.details)
        script = self._next() or ("content", [{"text": "Hello from the mock Gemini."}], "STOP", 8, 6)
        if script[0] == "error":
            _, status, message, details = script
            return self._error(status, message, details)
        _, parts, finish_reason, prompt_tokens, candidates_tokens = script
        parts = copy.deepcopy(parts)
        if signs:
            calls = [p for p in parts if "functionCall" in p]
            if calls:
                signature = base64.b64encode(f"mock-signature-{len(self.signatures)}".encode()).decode()
                calls[0]["thoughtSignature"] = signature
                self.signatures.append(signature)
        response_id = f"mockResponse{len(self.requests):04d}"
        if method == "generateContent":
            return _json_response(200, _gemini_response(model, parts, finish_reason, prompt_tokens, candidates_tokens,
                                                        response_id), indent=2)
        chunks = list(_gemini_chunks(model, parts, finish_reason, prompt_tokens, candidates_tokens, response_id))
        if recorded.query.get("alt") == ["sse"]:
            # Google's front end separates events with CRLF pairs.
            pieces = [b"data: " + json.dumps(c).encode() + b"\r\n\r\n" for c in chunks]
            return Response(200, [("content-type", "text/event-stream")], pieces=pieces)
        # Without alt=sse the stream is one JSON array, written as it grows.
        return _json_response(200, chunks, indent=2)


def _usage(prompt_tokens, candidates_tokens):
    usage = {"promptTokenCount": prompt_tokens, "totalTokenCount": prompt_tokens + candidates_tokens,
             "promptTokensDetails": [{"modality": "TEXT", "tokenCount": prompt_tokens}]}
    if candidates_tokens:
        usage["candidatesTokenCount"] = candidates_tokens
        usage["candidatesTokensDetails"] = [{"modality": "TEXT", "tokenCount": candidates_tokens}]
    return usage


def _gemini_response(model, parts, finish_reason, prompt_tokens, candidates_tokens, response_id):
    return {
        "candidates": [{"content": {"parts": copy.deepcopy(parts), "role": "model"}, "finishReason": finish_reason,
                        "avgLogprobs": -0.0421}],
        "usageMetadata": _usage(prompt_tokens, candidates_tokens),
        "modelVersion": model,
        "responseId": response_id,
    }


def _gemini_chunks(model, parts, finish_reason, prompt_tokens, candidates_tokens, response_id):
    """streamGenerateContent's events: text in pieces, each function call whole, the finish
    reason and final usage on the last event, usage so far on every one."""
    pieces = []
    for part in parts:
        if "text" in part:
            pieces += [{"text": t} for t in _pieces(part["text"], 8)]
        else:
            pieces.append(part)
    for n, piece in enumerate(pieces):
        last = n == len(pieces) - 1
        candidate = {"content": {"parts": [piece], "role": "model"}}
        if last:
            candidate["finishReason"] = finish_reason
        so_far = candidates_tokens if last else max(1, candidates_tokens * (n + 1) // len(pieces))
        yield {"candidates": [candidate], "usageMetadata": _usage(prompt_tokens, so_far),
               "modelVersion": model, "responseId": response_id}
