"""The official OpenAI Python SDK against the anthropic/ deployment of a built binary
(tests/sdk/routes-providers.yaml), in front of a mock that speaks Anthropic's Messages API
(mock_anthropic.py): plain and streamed completions, tool-call round trips and provider
errors, checked on both sides: what the client got, and what the provider received in its
own format. The mock refuses what the real API refuses, so a mistranslated request fails
here as the provider's own 400. Also a key each provider refuses (the one test with both mocks).
Shared helpers: openai_sdk_providers.py."""

import json

import openai
import pytest

from conftest import Gateway, providers_env
from openai_sdk_providers import WEATHER_ARGS, WEATHER_RESULT, WEATHER_TOOL, ask, no_secret_in, streamed


def anthropic_text(content):
    """The text of a Messages API content field (a string or text blocks)."""
    if isinstance(content, str):
        return content
    return "".join(b["text"] for b in content if b["type"] == "text")


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
    assert body["max_tokens"] == 64000, \
        "the documented default when the client sets none: claude-sonnet-4-5's maximum from the cost map"


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
