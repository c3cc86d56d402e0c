"""A mock of Google AI Studio's Gemini API, for the real-client tests of the translated
gemini/ deployments (test_openai_sdk_gemini.py), on 127.0.0.1:0 and recording every request
(the server itself: mock_server.py).

It answers as the real API is documented to, not as the gateway happens to expect
(ai.google.dev/api, generateContent, streamGenerateContent, Function calling):
`POST /v1beta/models/{model}:generateContent` or `:streamGenerateContent?alt=sse` (without
`alt=sse` the stream is one JSON array) with `x-goog-api-key` (or `?key=`);
GenerateContentResponse objects in camelCase, pretty-printed as Google's front end sends
them, SSE events separated by CRLF pairs, each function call whole in one event; errors as
`{"error": {"code", "message", "status", "details"}}`, a bad key being 400
INVALID_ARGUMENT / API_KEY_INVALID.

It also refuses what the real API refuses, with its status and wording: a wrong or missing
key, missing required fields, unknown fields ("Unknown name ... Cannot find field"), function
response turns that do not answer every call of the function call turn, and on Gemini 3 a
replayed function call without its thought signature. A translation bug therefore shows up
as the provider's own 400, relayed to the client.

Tests script the answers: `reply(...)` and `fail(...)` queue what the next requests get;
with nothing queued the mock answers a short default text.
"""

import base64
import copy
import json

from mock_server import MockProvider, Response, json_response, text_pieces


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


class GeminiMock(MockProvider):
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
        return json_response(status, payload, [("vary", "Origin, X-Origin, Referer")], indent=2)

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
            return json_response(200, _gemini_response(model, parts, finish_reason, prompt_tokens, candidates_tokens,
                                                       response_id), indent=2)
        chunks = list(_gemini_chunks(model, parts, finish_reason, prompt_tokens, candidates_tokens, response_id))
        if recorded.query.get("alt") == ["sse"]:
            # Google's front end separates events with CRLF pairs.
            pieces = [b"data: " + json.dumps(c).encode() + b"\r\n\r\n" for c in chunks]
            return Response(200, [("content-type", "text/event-stream")], pieces=pieces)
        # Without alt=sse the stream is one JSON array, written as it grows.
        return json_response(200, chunks, indent=2)


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
            pieces += [{"text": t} for t in text_pieces(part["text"], 8)]
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
