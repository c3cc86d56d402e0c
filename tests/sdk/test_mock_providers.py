"""The mock providers themselves, without the gateway: they answer and refuse as the real
APIs are documented to, so that a test passing against them means something."""

import json
import urllib.error
import urllib.request

import pytest

from mock_anthropic import AnthropicMock
from mock_gemini import GeminiMock


def post(url, body, headers):
    request = urllib.request.Request(url, data=json.dumps(body).encode(),
                                     headers={"content-type": "application/json", **headers})
    try:
        with urllib.request.urlopen(request, timeout=10) as r:
            return r.status, r.headers.get("content-type"), r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("content-type"), e.read()


@pytest.fixture
def anthropic():
    mock = AnthropicMock(key="sk-ant-test")
    yield mock
    mock.stop()


@pytest.fixture
def gemini():
    mock = GeminiMock(key="AIza-test")
    yield mock
    mock.stop()


def claude(anthropic, body, **headers):
    headers = {"x-api-key": "sk-ant-test", "anthropic-version": "2023-06-01", **headers}
    status, kind, raw = post(anthropic.base + "/v1/messages", body, headers)
    return status, kind, raw


HI = {"model": "claude-sonnet-4-5", "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]}


def test_anthropic_message_and_stream(anthropic):
    status, kind, raw = claude(anthropic, HI)
    assert (status, kind) == (200, "application/json")
    message = json.loads(raw)
    assert message["type"] == "message" and message["content"][0]["type"] == "text"
    assert message["stop_reason"] == "end_turn" and message["usage"]["output_tokens"] == 7

    status, kind, raw = claude(anthropic, {**HI, "stream": True})
    assert (status, kind) == (200, "text/event-stream; charset=utf-8")
    events = [e.split("\n", 1) for e in raw.decode().strip().split("\n\n")]
    names = [name.removeprefix("event: ") for name, _ in events]
    assert names[:3] == ["message_start", "content_block_start", "ping"]
    assert names[-4:] == ["content_block_delta", "content_block_stop", "message_delta", "message_stop"]
    for (_, data), name in zip(events, names):
        assert json.loads(data.removeprefix("data: "))["type"] == name


@pytest.mark.parametrize("change, status, message", [
    ({"headers": {"x-api-key": "sk-ant-other"}}, 401, "invalid x-api-key"),
    ({"headers": {"anthropic-version": ""}}, 400, "anthropic-version: header is required"),
    ({"headers": {"anthropic-version": "2024-01-01"}}, 400, "anthropic-version: invalid version"),
    ({"drop": "max_tokens"}, 400, "max_tokens: Field required"),
    ({"body": {"stream_options": {"include_usage": True}}}, 400, "stream_options: Extra inputs are not permitted"),
    ({"body": {"messages": [{"role": "system", "content": "x"}, {"role": "user", "content": "hi"}]}}, 400,
     "messages.0.role: Input should be 'user' or 'assistant'"),
    ({"body": {"messages": [{"role": "user", "content": [{"type": "text", "text": ""}]}]}}, 400,
     "text content blocks must be non-empty"),
    ({"body": {"messages": [
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "w", "input": {}}]},
        {"role": "user", "content": "well?"}]}}, 400,
     "`tool_use` ids were found without `tool_result` blocks immediately after: toolu_1"),
    ({"body": {"messages": [
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "w", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_2", "content": "x"}]}]}}, 400,
     "unexpected `tool_use_id` found in `tool_result` blocks: toolu_2"),
])
def test_anthropic_refuses_as_the_api_does(anthropic, change, status, message):
    body = {k: v for k, v in HI.items() if k != change.get("drop")}
    body.update(change.get("body", {}))
    got, _, raw = claude(anthropic, body, **change.get("headers", {}))
    error = json.loads(raw)
    assert got == status
    assert error["type"] == "error" and error["request_id"].startswith("req_")
    assert error["error"]["type"] == {400: "invalid_request_error", 401: "authentication_error"}[status]
    assert message in error["error"]["message"]


def generate(gemini, body, model="gemini-2.0-flash", method="generateContent", query="", key="AIza-test"):
    headers = {"x-goog-api-key": key} if key else {}
    return post(f"{gemini.base}/models/{model}:{method}{query}", body, headers)


HELLO = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}


def test_gemini_content_and_streams(gemini):
    status, _, raw = generate(gemini, HELLO)
    reply = json.loads(raw)
    assert status == 200 and b"\n  " in raw, "pretty-printed, as Google sends it"
    assert reply["candidates"][0]["finishReason"] == "STOP"
    assert reply["usageMetadata"]["totalTokenCount"] == 14

    status, kind, raw = generate(gemini, HELLO, method="streamGenerateContent", query="?alt=sse")
    assert (status, kind) == (200, "text/event-stream")
    events = raw.split(b"\r\n\r\n")
    assert events[-1] == b"" and all(e.startswith(b"data: {") for e in events[:-1])
    chunks = [json.loads(e.removeprefix(b"data: ")) for e in events[:-1]]
    assert "".join(c["candidates"][0]["content"]["parts"][0]["text"] for c in chunks) == "Hello from the mock Gemini."
    assert [("finishReason" in c["candidates"][0]) for c in chunks][-2:] == [False, True]

    status, kind, raw = generate(gemini, HELLO, method="streamGenerateContent")
    assert (status, kind) == (200, "application/json") and isinstance(json.loads(raw), list), "no alt=sse: a JSON array"


CALL_TURNS = [
    {"role": "user", "parts": [{"text": "weather?"}]},
    {"role": "model", "parts": [{"functionCall": {"name": "w", "args": {}}}, {"functionCall": {"name": "t", "args": {}}}]},
]


@pytest.mark.parametrize("change, status, message", [
    ({"key": "AIza-other"}, 400, "API key not valid. Please pass a valid API key."),
    ({"key": None}, 403, "Method doesn't allow unregistered callers"),
    ({"model": "gemini-9"}, 404, "models/gemini-9 is not found"),
    ({"body": {"stream": True}}, 400, 'Unknown name "stream" at \'\': Cannot find field.'),
    ({"body": {"generationConfig": {"max_tokens": 5}}}, 400, 'Unknown name "max_tokens" at \'generation_config\''),
    ({"body": {"contents": [{"role": "assistant", "parts": [{"text": "x"}]}]}}, 400, "Please use a valid role: user, model."),
    ({"body": {"tools": [{"functionDeclarations": [{"name": "w", "parameters": {
        "type": "object", "additionalProperties": False}}]}]}}, 400, 'Unknown name "additionalProperties"'),
    ({"body": {"contents": CALL_TURNS + [
        {"role": "user", "parts": [{"functionResponse": {"name": "w", "response": {"content": "x"}}}]}]}}, 400,
     "the number of function response parts is equal to the number of function call parts"),
    ({"body": {"contents": CALL_TURNS + [{"role": "user", "parts": [
        {"functionResponse": {"name": "w", "response": "x"}}, {"functionResponse": {"name": "t", "response": {}}}]}]}}, 400,
     "function_response.response"),
    ({"model": "gemini-3-flash-preview", "body": {"contents": CALL_TURNS + [{"role": "user", "parts": [
        {"functionResponse": {"name": "w", "response": {}}}, {"functionResponse": {"name": "t", "response": {}}}]}]}}, 400,
     "Function call is missing a thought_signature in functionCall parts"),
])
def test_gemini_refuses_as_the_api_does(gemini, change, status, message):
    body = dict(HELLO, **change.get("body", {}))
    got, kind, raw = generate(gemini, body, model=change.get("model", "gemini-2.0-flash"), key=change.get("key", "AIza-test"))
    error = json.loads(raw)["error"]
    assert (got, kind) == (status, "application/json")
    assert error["code"] == status
    assert error["status"] == {400: "INVALID_ARGUMENT", 403: "PERMISSION_DENIED", 404: "NOT_FOUND"}[status]
    assert message in error["message"]


def test_gemini_3_signs_function_calls_and_takes_them_back(gemini):
    gemini.reply([{"functionCall": {"name": "w", "args": {}}}, {"functionCall": {"name": "t", "args": {}}}])
    _, _, raw = generate(gemini, HELLO, model="gemini-3-flash-preview")
    parts = json.loads(raw)["candidates"][0]["content"]["parts"]
    assert [("thoughtSignature" in p) for p in parts] == [True, False], "the first call of a step is signed"
    answered = {"contents": [HELLO["contents"][0], {"role": "model", "parts": parts}, {"role": "user", "parts": [
        {"functionResponse": {"name": "w", "response": {}}}, {"functionResponse": {"name": "t", "response": {}}}]}]}
    status, _, _ = generate(gemini, answered, model="gemini-3-flash-preview")
    assert status == 200
