"""A mock of Anthropic's Messages API, for the real-client tests of the translated anthropic/
deployments (test_openai_sdk_anthropic.py), on 127.0.0.1:0 and recording every request
(the server itself: mock_server.py).

It answers as the real API is documented to, not as the gateway happens to expect
(platform.claude.com/docs, Messages API, Streaming, Errors): `POST /v1/messages` with
`x-api-key` and `anthropic-version`; a Message object, or with `"stream": true` the named SSE
events (`message_start` with empty content, `content_block_start`, `ping`,
`content_block_delta` with `text_delta` / `input_json_delta` (the first one empty),
`content_block_stop`, `message_delta` whose usage is cumulative, `message_stop`); errors as
`{"type": "error", "error": {"type", "message"}, "request_id"}`.

It also refuses what the real API refuses, with its status and wording: a wrong or missing
key, missing required fields, unknown fields ("Extra inputs are not permitted"), empty text
blocks, `tool_use` without its `tool_result` in the next message (and the reverse). A
translation bug therefore shows up as the provider's own 400, relayed to the client.

Tests script the answers: `reply(...)` and `fail(...)` queue what the next requests get;
with nothing queued the mock answers a short default text.
"""

import json

from mock_server import MockProvider, Response, json_response, text_pieces


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


class AnthropicMock(MockProvider):
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
        return json_response(status, payload, [("request-id", payload["request_id"]), *headers])

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
        return json_response(200, message, [("request-id", self._request_id())])


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
            for piece in text_pieces(block["text"], 7):
                yield event("content_block_delta", {"type": "content_block_delta", "index": index, "delta": {"type": "text_delta", "text": piece}})
        elif block["type"] == "tool_use":
            yield event("content_block_start", {"type": "content_block_start", "index": index,
                                                "content_block": {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}})
            yield event("content_block_delta", {"type": "content_block_delta", "index": index, "delta": {"type": "input_json_delta", "partial_json": ""}})
            for piece in text_pieces(json.dumps(block["input"]), 9):
                yield event("content_block_delta", {"type": "content_block_delta", "index": index, "delta": {"type": "input_json_delta", "partial_json": piece}})
        yield event("content_block_stop", {"type": "content_block_stop", "index": index})
    # message_delta's usage is cumulative: the final counts, not an increment.
    yield event("message_delta", {"type": "message_delta", "delta": {"stop_reason": message["stop_reason"], "stop_sequence": None},
                                  "usage": {k: usage[k] for k in ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens", "output_tokens")}})
    yield event("message_stop", {"type": "message_stop"})
