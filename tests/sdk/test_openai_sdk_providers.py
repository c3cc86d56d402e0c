"""The official OpenAI Python SDK against anthropic/ and gemini/ deployments of a built
binary (tests/sdk/routes-providers.yaml), each in front of a mock that speaks the provider's
own protocol (mock_providers.py): plain and streamed completions, a tool-call round trip and
provider errors, checked on both sides: what the client got, and what the provider received
in its own format. The mocks refuse what the real APIs refuse, so a mistranslated request
fails here as the provider's own 400."""

import json

import openai
import pytest

from conftest import Gateway, providers_env

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "City name"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            },
            "required": ["city", "unit"],
            # What strict OpenAI function definitions carry; Gemini's schema subset lacks it.
            "additionalProperties": False,
        },
    },
}
WEATHER_ARGS = {"city": "Paris", "unit": "celsius"}
WEATHER_RESULT = json.dumps({"temperature": 18, "unit": "celsius", "sky": "clear"})


def client(gateway):
    return openai.OpenAI(base_url=gateway.base, api_key=gateway.master_key, max_retries=0)


def ask(gateway, model, messages, **kwargs):
    return client(gateway).chat.completions.create(model=model, messages=messages, **kwargs)


def anthropic_text(content):
    """The text of a Messages API content field (a string or text blocks)."""
    if isinstance(content, str):
        return content
    return "".join(b["text"] for b in content if b["type"] == "text")


def field(obj, name):
    """A Gemini request field under either of its proto3 JSON names."""
    head, *rest = name.split("_")
    camel = head + "".join(p.title() for p in rest)
    assert not (name in obj and camel in obj and name != camel), f"both {name} and {camel}: {obj}"
    return obj.get(name, obj.get(camel))


def no_secret_in(error, *keys):
    text = json.dumps(error.body) + str(error) + json.dumps(dict(error.response.headers))
    for key in keys:
        assert key not in text, "a provider key reached the client"


def streamed(chunks):
    """Content, tool calls (merged by index), finish reasons and the usage chunk of a stream."""
    text, calls, finishes, usage = "", {}, [], None
    for chunk in chunks:
        if chunk.usage is not None:
            usage = chunk
        for choice in chunk.choices:
            text += choice.delta.content or ""
            for call in choice.delta.tool_calls or []:
                merged = calls.setdefault(call.index, {"id": None, "name": "", "arguments": ""})
                merged["id"] = merged["id"] or call.id
                if call.function:
                    merged["name"] += call.function.name or ""
                    merged["arguments"] += call.function.arguments or ""
            if choice.finish_reason:
                finishes.append(choice.finish_reason)
    return text, [calls[i] for i in sorted(calls)], finishes, usage


# ---------------------------------------------------------------------------------------
# anthropic/
# ---------------------------------------------------------------------------------------


def test_anthropic_chat(providers_gateway, anthropic_upstream):
    anthropic_upstream.reply("Paris is the capital of France.", input_tokens=21, output_tokens=8, cache_read=4)
    reply = ask(providers_gateway, "claude", [
        {"role": "system", "content": "Answer in one sentence."},
        {"role": "user", "content": "What is the capital of France?"},
    ], max_tokens=100, temperature=0.3, stop=["\n\n"])

    assert reply.model == "claude"
    assert reply.id.startswith("chatcmpl-")
    choice = reply.choices[0]
    assert (choice.message.role, choice.message.content) == ("assistant", "Paris is the capital of France.")
    assert choice.finish_reason == "stop"
    assert not choice.message.tool_calls
    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens, reply.usage.total_tokens) == (25, 8, 33), \
        "prompt tokens count the cache reads, as OpenAI's do"
    assert reply.usage.prompt_tokens_details.cached_tokens == 4

    seen = anthropic_upstream.last
    assert (seen.method, seen.path) == ("POST", "/v1/messages")
    assert seen.headers["x-api-key"] == anthropic_upstream.key
    assert seen.headers["anthropic-version"] == "2023-06-01"
    assert seen.headers["content-type"].startswith("application/json")
    assert "authorization" not in seen.headers
    assert providers_gateway.master_key not in json.dumps(seen.headers), "the client's key never travels"
    body = seen.body
    assert body["model"] == "claude-sonnet-4-5"
    assert anthropic_text(body["system"]) == "Answer in one sentence.", "the system prompt is top-level"
    assert [m["role"] for m in body["messages"]] == ["user"]
    assert anthropic_text(body["messages"][0]["content"]) == "What is the capital of France?"
    assert (body["max_tokens"], body["temperature"], body["stop_sequences"]) == (100, 0.3, ["\n\n"])
    assert not body.get("stream")


def test_anthropic_stream_with_usage(providers_gateway, anthropic_upstream):
    anthropic_upstream.reply("Streaming works, one small piece at a time.", input_tokens=14, output_tokens=11)
    chunks = list(ask(providers_gateway, "claude", [{"role": "user", "content": "Stream something."}],
                      stream=True, stream_options={"include_usage": True}))

    text, calls, finishes, usage = streamed(chunks)
    assert text == "Streaming works, one small piece at a time."
    assert not calls
    assert finishes == ["stop"]
    assert chunks[0].choices[0].delta.role == "assistant"
    assert len({c.id for c in chunks}) == 1 and all(c.model == "claude" for c in chunks)
    assert usage is chunks[-1] and usage.choices == []
    assert (usage.usage.prompt_tokens, usage.usage.completion_tokens, usage.usage.total_tokens) == (14, 11, 25), \
        "message_delta's output_tokens is cumulative"

    body = anthropic_upstream.last.body
    assert body["stream"] is True
    assert body["max_tokens"] == 4096, "the documented default when the client sets none"


def test_anthropic_tool_call_round_trip(providers_gateway, anthropic_upstream):
    anthropic_upstream.reply([
        {"type": "text", "text": "Let me look that up."},
        {"type": "tool_use", "id": "toolu_01MockWeather", "name": "get_weather", "input": WEATHER_ARGS},
    ], stop_reason="tool_use", input_tokens=380, output_tokens=64)
    messages = [{"role": "user", "content": "What's the weather in Paris?"}]
    first = ask(providers_gateway, "claude", messages, tools=[WEATHER_TOOL], tool_choice="auto")

    assert first.choices[0].finish_reason == "tool_calls"
    message = first.choices[0].message
    assert message.content == "Let me look that up."
    [call] = message.tool_calls
    assert (call.id, call.type, call.function.name) == ("toolu_01MockWeather", "function", "get_weather")
    assert json.loads(call.function.arguments) == WEATHER_ARGS
    sent = anthropic_upstream.last.body
    [tool] = sent["tools"]
    assert (tool["name"], tool["description"]) == ("get_weather", "Current weather for a city")
    assert tool["input_schema"]["properties"] == WEATHER_TOOL["function"]["parameters"]["properties"]
    assert tool["input_schema"]["required"] == ["city", "unit"]
    assert sent["tool_choice"] == {"type": "auto"}

    # The client answers the call the way OpenAI's function-calling guide shows: the
    # assistant message as the SDK returned it, then a tool message with the result.
    messages += [message, {"role": "tool", "tool_call_id": call.id, "content": WEATHER_RESULT}]
    anthropic_upstream.reply("It is 18 °C and clear in Paris.", input_tokens=470, output_tokens=14)
    second = ask(providers_gateway, "claude", messages, tools=[WEATHER_TOOL])

    assert second.choices[0].message.content == "It is 18 °C and clear in Paris."
    assert second.choices[0].finish_reason == "stop"
    turns = anthropic_upstream.last.body["messages"]
    assert [t["role"] for t in turns] == ["user", "assistant", "user"]
    assistant = turns[1]["content"]
    assert anthropic_text(assistant) == "Let me look that up."
    assert [b for b in assistant if b["type"] == "tool_use"] == [
        {"type": "tool_use", "id": "toolu_01MockWeather", "name": "get_weather", "input": WEATHER_ARGS}]
    [result] = turns[2]["content"]
    assert (result["type"], result["tool_use_id"]) == ("tool_result", "toolu_01MockWeather")
    assert anthropic_text(result["content"]) == WEATHER_RESULT


def test_anthropic_parallel_tool_calls_round_trip(providers_gateway, anthropic_upstream):
    """Two tool_use blocks and no text: the SDK's message has no content, and both results
    go back in the one user message that follows, as the API requires."""
    anthropic_upstream.reply([
        {"type": "tool_use", "id": "toolu_01Paris", "name": "get_weather", "input": WEATHER_ARGS},
        {"type": "tool_use", "id": "toolu_01Rome", "name": "get_weather", "input": {"city": "Rome", "unit": "celsius"}},
    ], stop_reason="tool_use")
    messages = [{"role": "user", "content": "Weather in Paris and Rome?"}]
    first = ask(providers_gateway, "claude", messages, tools=[WEATHER_TOOL], max_completion_tokens=300)
    message = first.choices[0].message
    assert message.content is None
    assert [c.id for c in message.tool_calls] == ["toolu_01Paris", "toolu_01Rome"]
    assert anthropic_upstream.last.body["max_tokens"] == 300

    messages += [message] + [{"role": "tool", "tool_call_id": c.id, "content": f"{c.id}: 18 °C"} for c in message.tool_calls]
    anthropic_upstream.reply("18 °C in both.")
    second = ask(providers_gateway, "claude", messages, tools=[WEATHER_TOOL], max_completion_tokens=300)

    assert second.choices[0].message.content == "18 °C in both."
    turns = anthropic_upstream.last.body["messages"]
    assert [t["role"] for t in turns] == ["user", "assistant", "user"]
    assert [b["type"] for b in turns[1]["content"]] == ["tool_use", "tool_use"], "no empty text block"
    assert [(b["type"], b["tool_use_id"], anthropic_text(b["content"])) for b in turns[2]["content"]] == [
        ("tool_result", "toolu_01Paris", "toolu_01Paris: 18 °C"), ("tool_result", "toolu_01Rome", "toolu_01Rome: 18 °C")]


def test_anthropic_streamed_tool_call(providers_gateway, anthropic_upstream):
    anthropic_upstream.reply([
        {"type": "tool_use", "id": "toolu_01MockStream", "name": "get_weather", "input": WEATHER_ARGS},
    ], stop_reason="tool_use", input_tokens=380, output_tokens=40)
    chunks = list(ask(providers_gateway, "claude", [{"role": "user", "content": "Weather in Paris?"}],
                      tools=[WEATHER_TOOL], stream=True))

    text, calls, finishes, usage = streamed(chunks)
    assert text == ""
    assert [(c["id"], c["name"]) for c in calls] == [("toolu_01MockStream", "get_weather")]
    assert json.loads(calls[0]["arguments"]) == WEATHER_ARGS, "the input_json_delta pieces, in order"
    assert finishes == ["tool_calls"]
    assert usage is None, "no usage chunk unless asked"


def test_anthropic_errors_keep_their_status(providers_gateway, anthropic_upstream):
    hi = [{"role": "user", "content": "hi"}]
    anthropic_upstream.fail(400, "prompt is too long: 208310 tokens > 200000 maximum")
    with pytest.raises(openai.BadRequestError) as bad:
        ask(providers_gateway, "claude", hi)
    assert bad.value.status_code == 400
    assert "prompt is too long: 208310 tokens > 200000 maximum" in bad.value.message
    assert "AnthropicException" in bad.value.message

    anthropic_upstream.fail(529, "Overloaded")
    with pytest.raises(openai.InternalServerError) as overloaded:
        ask(providers_gateway, "claude", hi)
    assert overloaded.value.status_code == 529
    assert "Overloaded" in overloaded.value.message

    anthropic_upstream.fail(429, "Number of request tokens has exceeded your per-minute rate limit",
                            headers=[("retry-after", "7")])
    with pytest.raises(openai.RateLimitError) as limited:
        ask(providers_gateway, "claude", hi)
    assert limited.value.status_code == 429
    assert "per-minute rate limit" in limited.value.message

    assert len(anthropic_upstream.requests) == 3, "one call each, no retries"
    for error in (bad.value, overloaded.value, limited.value):
        no_secret_in(error, anthropic_upstream.key)


# ---------------------------------------------------------------------------------------
# gemini/
# ---------------------------------------------------------------------------------------


def test_gemini_chat(providers_gateway, gemini_upstream):
    gemini_upstream.reply("Rome is the capital of Italy.", prompt_tokens=17, candidates_tokens=7)
    reply = ask(providers_gateway, "gemini-flash", [
        {"role": "system", "content": "Answer in one sentence."},
        {"role": "user", "content": "What is the capital of Italy?"},
    ], max_tokens=100, temperature=0.3)

    assert reply.model == "gemini-flash"
    choice = reply.choices[0]
    assert (choice.message.role, choice.message.content) == ("assistant", "Rome is the capital of Italy.")
    assert choice.finish_reason == "stop"
    assert not choice.message.tool_calls
    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens, reply.usage.total_tokens) == (17, 7, 24)

    seen = gemini_upstream.last
    assert (seen.method, seen.path) == ("POST", "/v1beta/models/gemini-2.0-flash:generateContent")
    assert seen.headers["x-goog-api-key"] == gemini_upstream.key
    assert "key" not in seen.query, "the key travels in a header, not in the URL"
    assert "authorization" not in seen.headers
    assert providers_gateway.master_key not in json.dumps(seen.headers), "the client's key never travels"
    body = seen.body
    assert "model" not in body, "the model is in the path"
    assert [p["text"] for p in field(body, "system_instruction")["parts"]] == ["Answer in one sentence."]
    assert body["contents"] == [{"role": "user", "parts": [{"text": "What is the capital of Italy?"}]}]
    config = field(body, "generation_config")
    assert (field(config, "max_output_tokens"), config["temperature"]) == (100, 0.3)


def test_gemini_stream_with_usage(providers_gateway, gemini_upstream):
    gemini_upstream.reply("Gemini streams in several events.", prompt_tokens=6, candidates_tokens=9)
    chunks = list(ask(providers_gateway, "gemini-flash", [{"role": "user", "content": "Stream something."}],
                      stream=True, stream_options={"include_usage": True}))

    text, calls, finishes, usage = streamed(chunks)
    assert text == "Gemini streams in several events."
    assert not calls
    assert finishes == ["stop"]
    assert chunks[0].choices[0].delta.role == "assistant"
    assert all(c.model == "gemini-flash" for c in chunks)
    assert usage is chunks[-1] and usage.choices == []
    assert (usage.usage.prompt_tokens, usage.usage.completion_tokens, usage.usage.total_tokens) == (6, 9, 15), \
        "the last event's usageMetadata"

    seen = gemini_upstream.last
    assert seen.path == "/v1beta/models/gemini-2.0-flash:streamGenerateContent"
    assert seen.query.get("alt") == ["sse"]
    assert "stream" not in seen.body and "stream_options" not in seen.body


def test_gemini_tool_call_round_trip(providers_gateway, gemini_upstream):
    gemini_upstream.reply([{"functionCall": {"name": "get_weather", "args": WEATHER_ARGS}}],
                          prompt_tokens=60, candidates_tokens=12)
    messages = [{"role": "user", "content": "What's the weather in Paris?"}]
    first = ask(providers_gateway, "gemini-flash", messages, tools=[WEATHER_TOOL], tool_choice="auto")

    assert first.choices[0].finish_reason == "tool_calls"
    message = first.choices[0].message
    [call] = message.tool_calls
    assert call.id.startswith("call_") and call.type == "function"
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == WEATHER_ARGS
    sent = gemini_upstream.last.body
    [tools] = sent["tools"]
    [declaration] = field(tools, "function_declarations")
    assert (declaration["name"], declaration["description"]) == ("get_weather", "Current weather for a city")
    assert declaration["parameters"]["required"] == ["city", "unit"]
    assert set(declaration["parameters"]["properties"]) == {"city", "unit"}
    calling = field(field(sent, "tool_config") or {}, "function_calling_config") or {}
    assert calling.get("mode", "AUTO") == "AUTO"

    messages += [message, {"role": "tool", "tool_call_id": call.id, "content": WEATHER_RESULT}]
    gemini_upstream.reply("It is 18 °C and clear in Paris.", prompt_tokens=90, candidates_tokens=11)
    second = ask(providers_gateway, "gemini-flash", messages, tools=[WEATHER_TOOL])

    assert second.choices[0].message.content == "It is 18 °C and clear in Paris."
    assert second.choices[0].finish_reason == "stop"
    contents = gemini_upstream.last.body["contents"]
    assert [c["role"] for c in contents] == ["user", "model", "user"]
    [function_call] = [field(p, "function_call") for p in contents[1]["parts"] if field(p, "function_call")]
    assert (function_call["name"], function_call["args"]) == ("get_weather", WEATHER_ARGS)
    [part] = contents[2]["parts"]
    function_response = field(part, "function_response")
    assert function_response["name"] == "get_weather", "named after the call it answers"
    assert function_response["response"] in ({"content": WEATHER_RESULT}, json.loads(WEATHER_RESULT))


def test_gemini_parallel_tool_calls_round_trip(providers_gateway, gemini_upstream):
    """Two function calls in one step: two function responses in the next turn, each named
    after the call it answers even when the results come back in another order."""
    gemini_upstream.reply([{"functionCall": {"name": "get_weather", "args": WEATHER_ARGS}},
                           {"functionCall": {"name": "get_time", "args": {"city": "Rome"}}}])
    time_tool = {"type": "function", "function": {"name": "get_time", "description": "Local time in a city",
                                                  "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}
    messages = [{"role": "user", "content": "Weather in Paris, time in Rome?"}]
    first = ask(providers_gateway, "gemini-flash", messages, tools=[WEATHER_TOOL, time_tool])
    message = first.choices[0].message
    assert [c.function.name for c in message.tool_calls] == ["get_weather", "get_time"]
    assert len({c.id for c in message.tool_calls}) == 2

    weather, clock = message.tool_calls
    messages += [message, {"role": "tool", "tool_call_id": clock.id, "content": "14:05"},
                 {"role": "tool", "tool_call_id": weather.id, "content": WEATHER_RESULT}]
    gemini_upstream.reply("18 °C in Paris; 14:05 in Rome.")
    second = ask(providers_gateway, "gemini-flash", messages, tools=[WEATHER_TOOL, time_tool])

    assert second.choices[0].message.content == "18 °C in Paris; 14:05 in Rome."
    contents = gemini_upstream.last.body["contents"]
    assert [c["role"] for c in contents] == ["user", "model", "user"]
    responses = [field(p, "function_response") for p in contents[2]["parts"]]
    assert [r["name"] for r in responses] == ["get_time", "get_weather"]


def test_gemini_streamed_tool_call(providers_gateway, gemini_upstream):
    gemini_upstream.reply([{"text": "Checking."}, {"functionCall": {"name": "get_weather", "args": WEATHER_ARGS}}],
                          prompt_tokens=60, candidates_tokens=14)
    chunks = list(ask(providers_gateway, "gemini-flash", [{"role": "user", "content": "Weather in Paris?"}],
                      tools=[WEATHER_TOOL], stream=True, stream_options={"include_usage": True}))

    text, calls, finishes, usage = streamed(chunks)
    assert text == "Checking."
    assert [c["name"] for c in calls] == ["get_weather"] and calls[0]["id"].startswith("call_")
    assert json.loads(calls[0]["arguments"]) == WEATHER_ARGS
    assert finishes == ["tool_calls"]
    assert (usage.usage.prompt_tokens, usage.usage.completion_tokens) == (60, 14)


def test_gemini_errors_keep_their_status(providers_gateway, gemini_upstream):
    hi = [{"role": "user", "content": "hi"}]
    gemini_upstream.fail(400, "The input token count (1200000) exceeds the maximum number of tokens allowed (1048576).")
    with pytest.raises(openai.BadRequestError) as bad:
        ask(providers_gateway, "gemini-flash", hi)
    assert bad.value.status_code == 400
    assert "exceeds the maximum number of tokens allowed" in bad.value.message
    assert "GeminiException" in bad.value.message

    gemini_upstream.fail(503, "The model is overloaded. Please try again later.")
    with pytest.raises(openai.InternalServerError) as unavailable:
        ask(providers_gateway, "gemini-flash", hi)
    assert unavailable.value.status_code == 503
    assert "The model is overloaded" in unavailable.value.message

    gemini_upstream.fail(429, "You exceeded your current quota, please check your plan and billing details.", [
        {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "7s"}])
    with pytest.raises(openai.RateLimitError) as limited:
        ask(providers_gateway, "gemini-flash", hi)
    assert limited.value.status_code == 429
    assert "You exceeded your current quota" in limited.value.message

    assert len(gemini_upstream.requests) == 3, "one call each, no retries"
    for error in (bad.value, unavailable.value, limited.value):
        no_secret_in(error, gemini_upstream.key)


# ---------------------------------------------------------------------------------------
# Both: a key the provider refuses
# ---------------------------------------------------------------------------------------


def test_a_key_the_provider_refuses(providers_binary, anthropic_upstream, gemini_upstream):
    """Anthropic answers a bad key 401 authentication_error; Google AI Studio answers 400
    INVALID_ARGUMENT (API_KEY_INVALID). Each reaches the client with its status, and the
    bad key itself is neither in the answer nor in the logs."""
    wrong_anthropic, wrong_gemini = "sk-ant-api03-wrong-0123456789abcdef", "AIzaSyWrong0123456789abcdef"
    gateway = Gateway(providers_binary, providers_env(anthropic_upstream, gemini_upstream, "sk-m",
                                                      anthropic_key=wrong_anthropic, gemini_key=wrong_gemini))
    gateway.master_key = "sk-m"
    hi = [{"role": "user", "content": "hi"}]
    try:
        with pytest.raises(openai.AuthenticationError) as anthropic_refused:
            ask(gateway, "claude", hi)
        with pytest.raises(openai.BadRequestError) as gemini_refused:
            ask(gateway, "gemini-flash", hi)
    finally:
        logs = gateway.stop()
    assert anthropic_refused.value.status_code == 401
    assert "invalid x-api-key" in anthropic_refused.value.message
    assert anthropic_upstream.last.headers["x-api-key"] == wrong_anthropic, "the configured key was sent"
    assert gemini_refused.value.status_code == 400
    assert "API key not valid" in gemini_refused.value.message
    assert gemini_upstream.last.headers["x-goog-api-key"] == wrong_gemini
    no_secret_in(anthropic_refused.value, wrong_anthropic, wrong_gemini)
    no_secret_in(gemini_refused.value, wrong_anthropic, wrong_gemini)
    assert wrong_anthropic not in logs and wrong_gemini not in logs


def test_gemini_3_tool_call_round_trip_keeps_the_thought_signature(providers_gateway, gemini_upstream):
    """Gemini 3 signs each function call (`thoughtSignature` on the part) and answers 400
    when the next request replays the call without it (ai.google.dev/gemini-api/docs/
    thought-signatures). The OpenAI format has no field for it, so the gateway has to carry
    it through the client (LiteLLM puts it in the tool call's id) and put it back."""
    gemini_upstream.reply([{"functionCall": {"name": "get_weather", "args": WEATHER_ARGS}}])
    messages = [{"role": "user", "content": "What's the weather in Paris?"}]
    first = ask(providers_gateway, "gemini-3-flash", messages, tools=[WEATHER_TOOL])
    message = first.choices[0].message
    [call] = message.tool_calls
    assert json.loads(call.function.arguments) == WEATHER_ARGS

    messages += [message, {"role": "tool", "tool_call_id": call.id, "content": WEATHER_RESULT}]
    gemini_upstream.reply("It is 18 °C and clear in Paris.")
    second = ask(providers_gateway, "gemini-3-flash", messages, tools=[WEATHER_TOOL])

    assert second.choices[0].message.content == "It is 18 °C and clear in Paris."
    [signature] = gemini_upstream.signatures
    replayed = [p for p in gemini_upstream.last.body["contents"][1]["parts"] if field(p, "function_call")]
    assert field(replayed[0], "thought_signature") == signature
