"""The official OpenAI Python SDK against the gemini/ deployments of a built binary
(tests/sdk/routes-providers.yaml), in front of a mock that speaks Google AI Studio's
generateContent API (mock_gemini.py): plain and streamed completions, tool-call round trips
(Gemini 3's thought signatures included) and provider errors, checked on both sides: what
the client got, and what the provider received in its own format. The mock refuses what
the real API refuses, so a mistranslated request fails here as the provider's own 400.
Shared helpers: openai_sdk_providers.py."""

import json

import openai
import pytest

from openai_sdk_providers import WEATHER_ARGS, WEATHER_RESULT, WEATHER_TOOL, ask, no_secret_in, streamed


def field(obj, name):
    """A Gemini request field under either of its proto3 JSON names."""
    head, *rest = name.split("_")
    camel = head + "".join(p.title() for p in rest)
    assert not (name in obj and camel in obj and name != camel), f"both {name} and {camel}: {obj}"
    return obj.get(name, obj.get(camel))


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
