"""A mock of OpenAI's Responses API, for the real-client tests of a relayed openai/
deployment (test_openai_sdk_responses.py), on 127.0.0.1:0 and recording every request
(the server itself: mock_server.py).

It answers as the API is documented (platform.openai.com/docs/api-reference/responses):
`POST /v1/responses` with `Authorization: Bearer`; a Response object, or with
`"stream": true` the named SSE events (`response.created`, `response.in_progress`,
`response.output_item.added`, `response.content_part.added`, `response.output_text.delta`,
`response.output_text.done`, `response.content_part.done`,
`response.function_call_arguments.delta` / `.done`, `response.output_item.done`,
`response.completed`), each with its `sequence_number`; `GET /v1/responses/{id}`,
`DELETE /v1/responses/{id}`, `GET /v1/responses/{id}/input_items` on the responses it
stored. Errors as `{"error": {"message", "type", "param", "code"}}`.

It refuses what the API refuses: a wrong key (401 `invalid_api_key`), an unknown parameter
(400 `unknown_parameter`), a `previous_response_id` it did not issue (400
`previous_response_not_found`), an unknown response id (404).

With function tools and no `function_call_output` in the input, it calls the first tool
with `CALL_ARGS`; given a tool's output, it answers `"The tool said: <output>"`; else it
answers `DEFAULT_TEXT`.
"""

import itertools
import json
import re
import threading

from mock_server import MockProvider, Response, json_response

DEFAULT_TEXT = "Hello from the Responses API."
CALL_ARGS = {"city": "Paris"}
# Request parameters of `POST /v1/responses` (Responses > Create, 2025-2026).
_FIELDS = {
    "background", "conversation", "include", "input", "instructions", "max_output_tokens", "max_tool_calls",
    "metadata", "model", "parallel_tool_calls", "previous_response_id", "prompt", "prompt_cache_key",
    "prompt_cache_retention", "reasoning", "safety_identifier", "service_tier", "store", "stream",
    "stream_options", "temperature", "text", "tool_choice", "tools", "top_logprobs", "top_p", "truncation", "user",
}
_ID = re.compile(r"^/v1/responses/([^/]+)(/input_items)?$")


def _error(status, message, param=None, code=None, kind="invalid_request_error"):
    return json_response(status, {"error": {"message": message, "type": kind, "param": param, "code": code}})


class ResponsesMock(MockProvider):
    METHODS = ("POST", "GET", "DELETE")

    def __init__(self, key):
        super().__init__(key)
        self.stored = {}
        self._ids = itertools.count(1)
        self._store_lock = threading.Lock()

    def not_found(self, recorded):
        return _error(404, f"Invalid URL ({recorded.method} {recorded.path})")

    def answer(self, recorded):
        if recorded.headers.get("authorization") != f"Bearer {self.key}":
            return _error(401, "Incorrect API key provided.", code="invalid_api_key")
        if recorded.method == "POST" and recorded.path == "/v1/responses":
            return self._create(recorded.body)
        match = _ID.match(recorded.path)
        if not match:
            return self.not_found(recorded)
        response_id, items = match.group(1), match.group(2)
        with self._store_lock:
            stored = self.stored.get(response_id)
            if stored is None:
                return _error(404, f"Response with id '{response_id}' not found.")
            if recorded.method == "DELETE" and not items:
                del self.stored[response_id]
                return json_response(200, {"id": response_id, "object": "response.deleted", "deleted": True})
        if recorded.method == "GET" and items:
            data = stored["input_items"]
            return json_response(200, {"object": "list", "data": data, "first_id": data[0]["id"] if data else None,
                                       "last_id": data[-1]["id"] if data else None, "has_more": False})
        if recorded.method == "GET":
            return json_response(200, stored["response"])
        return self.not_found(recorded)

    def _create(self, body):
        if not isinstance(body, dict):
            return _error(400, "We could not parse the JSON body of your request.")
        for name in body:
            if name not in _FIELDS:
                return _error(400, f"Unknown parameter: '{name}'.", param=name, code="unknown_parameter")
        previous = body.get("previous_response_id")
        if previous is not None and previous not in self.stored:
            return _error(400, f"Previous response with id '{previous}' not found.", param="previous_response_id",
                          code="previous_response_not_found")
        number = next(self._ids)
        response_id = f"resp_mock{number:04d}"
        output = self._output(body, number)
        response = {
            "id": response_id, "object": "response", "created_at": 1700000000 + number, "status": "completed",
            "background": False, "error": None, "incomplete_details": None, "instructions": body.get("instructions"),
            "max_output_tokens": body.get("max_output_tokens"), "model": f"{body.get('model')}-2025-04-14",
            "output": output, "parallel_tool_calls": body.get("parallel_tool_calls", True),
            "previous_response_id": previous, "reasoning": {"effort": None, "summary": None},
            "store": body.get("store", True), "temperature": body.get("temperature", 1.0),
            "text": body.get("text", {"format": {"type": "text"}}), "tool_choice": body.get("tool_choice", "auto"),
            "tools": body.get("tools", []), "top_p": body.get("top_p", 1.0), "truncation": "disabled",
            "usage": {"input_tokens": 11, "input_tokens_details": {"cached_tokens": 2}, "output_tokens": 7,
                      "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": 18},
            "user": None, "metadata": body.get("metadata", {}),
        }
        if body.get("store", True):
            with self._store_lock:
                self.stored[response_id] = {"response": response, "input_items": self._input_items(body, number)}
        if body.get("stream"):
            return Response(200, [("content-type", "text/event-stream")], pieces=self._events(response))
        return json_response(200, response)

    @staticmethod
    def _input_items(body, number):
        given = body.get("input")
        if isinstance(given, str):
            given = [{"role": "user", "content": [{"type": "input_text", "text": given}]}]
        items = []
        for i, item in enumerate(given or []):
            item = dict(item)
            item.setdefault("type", "message")
            item.setdefault("id", f"msg_in{number:04d}_{i}")
            items.append(item)
        return items

    @staticmethod
    def _output(body, number):
        given = body.get("input")
        outputs = [i.get("output") for i in (given if isinstance(given, list) else []) if i.get("type") == "function_call_output"]
        tools = [t for t in body.get("tools") or [] if t.get("type") == "function"]
        if tools and not outputs:
            return [{"id": f"fc_mock{number:04d}", "type": "function_call", "status": "completed",
                     "call_id": f"call_mock{number:04d}", "name": tools[0]["name"], "arguments": json.dumps(CALL_ARGS)}]
        text = f"The tool said: {outputs[-1]}" if outputs else DEFAULT_TEXT
        return [{"id": f"msg_mock{number:04d}", "type": "message", "status": "completed", "role": "assistant",
                 "content": [{"type": "output_text", "text": text, "annotations": []}]}]

    @staticmethod
    def _events(response):
        """The documented event sequence of `response`, as SSE pieces."""
        sequence = itertools.count()
        events = []

        def emit(kind, **fields):
            events.append((kind, {"type": kind, "sequence_number": next(sequence), **fields}))

        opening = {**response, "status": "in_progress", "output": [], "usage": None}
        emit("response.created", response=opening)
        emit("response.in_progress", response=opening)
        for index, item in enumerate(response["output"]):
            if item["type"] == "function_call":
                emit("response.output_item.added", output_index=index, item={**item, "status": "in_progress", "arguments": ""})
                half = len(item["arguments"]) // 2
                for delta in (item["arguments"][:half], item["arguments"][half:]):
                    emit("response.function_call_arguments.delta", item_id=item["id"], output_index=index, delta=delta)
                emit("response.function_call_arguments.done", item_id=item["id"], output_index=index,
                     name=item["name"], arguments=item["arguments"])
            else:
                text = item["content"][0]["text"]
                emit("response.output_item.added", output_index=index, item={**item, "status": "in_progress", "content": []})
                empty = {"type": "output_text", "text": "", "annotations": []}
                emit("response.content_part.added", item_id=item["id"], output_index=index, content_index=0, part=empty)
                for word in re.findall(r"\S+\s*", text):
                    emit("response.output_text.delta", item_id=item["id"], output_index=index, content_index=0,
                         delta=word, logprobs=[])
                emit("response.output_text.done", item_id=item["id"], output_index=index, content_index=0,
                     text=text, logprobs=[])
                emit("response.content_part.done", item_id=item["id"], output_index=index, content_index=0,
                     part=item["content"][0])
            emit("response.output_item.done", output_index=index, item=item)
        emit("response.completed", response=response)
        return [f"event: {kind}\ndata: {json.dumps(data)}\n\n".encode() for kind, data in events]
