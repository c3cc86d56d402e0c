"""The official OpenAI Python SDK's `client.responses` against deployments the gateway bridges
to chat: anthropic/ and gemini/ (the providers binary, routes-providers.yaml, in front of
mock_anthropic.py and mock_gemini.py, which refuse what the real APIs refuse) and the
built-in fake (the base binary). JSON and streams through the SDK's event helpers, function
calls round-tripped statelessly (`store: False`, the whole history sent back), checked on
both sides: what the client got, and what the provider received in its own format. Then the
OpenAI Agents SDK running an agent with a function tool on the anthropic/ deployment."""

import json

import openai
import pytest

from openai_sdk_providers import WEATHER_ARGS, WEATHER_RESULT, WEATHER_TOOL, client
from test_openai_sdk_gemini import field

# The chat tool in the Responses API's flat shape.
FLAT_TOOL = {"type": "function", **WEATHER_TOOL["function"]}
QUESTION = "What is the weather in Paris?"


def first_turn(gateway, model):
    return client(gateway).responses.create(
        model=model, instructions="Use the tool.", input=QUESTION, tools=[FLAT_TOOL], store=False, max_output_tokens=200)


def second_turn(gateway, model, first, **kwargs):
    """The next turn as a stateless client sends it: everything so far, the tool's output."""
    call = next(item for item in first.output if item.type == "function_call")
    history = [{"role": "user", "content": QUESTION}, *[item.model_dump(exclude_none=True) for item in first.output],
               {"type": "function_call_output", "call_id": call.call_id, "output": WEATHER_RESULT}]
    return client(gateway).responses.create(
        model=model, instructions="Use the tool.", input=history, tools=[FLAT_TOOL], store=False, **kwargs)


def test_anthropic_function_call_round_trip(providers_gateway, anthropic_upstream):
    anthropic_upstream.reply([{"type": "text", "text": "Let me look."},
                              {"type": "tool_use", "id": "toolu_01Paris", "name": "get_weather", "input": WEATHER_ARGS}],
                             stop_reason="tool_use", input_tokens=30, output_tokens=12, cache_read=5)
    first = first_turn(providers_gateway, "claude")
    assert (first.object, first.model, first.status) == ("response", "claude", "completed")
    assert first.id.startswith("resp_")
    assert [item.type for item in first.output] == ["message", "function_call"]
    assert first.output_text == "Let me look."
    call = first.output[1]
    assert (call.call_id, call.name, json.loads(call.arguments)) == ("toolu_01Paris", "get_weather", WEATHER_ARGS)
    assert (first.usage.input_tokens, first.usage.output_tokens, first.usage.input_tokens_details.cached_tokens) == (35, 12, 5)
    sent = anthropic_upstream.last.body
    assert sent["system"] in ("Use the tool.", [{"type": "text", "text": "Use the tool."}])
    assert sent["max_tokens"] == 200
    assert sent["tools"][0]["name"] == "get_weather" and sent["tools"][0]["input_schema"]["required"] == ["city", "unit"]

    anthropic_upstream.reply("It is 18 degrees and clear in Paris.", input_tokens=50, output_tokens=10)
    second = second_turn(providers_gateway, "claude", first)
    assert second.output_text == "It is 18 degrees and clear in Paris."
    messages = anthropic_upstream.last.body["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "user"]
    assert [b["type"] for b in messages[1]["content"]] == ["text", "tool_use"], "the text and its call in one turn"
    assert messages[1]["content"][1]["id"] == "toolu_01Paris"
    assert messages[2]["content"][0] == {"type": "tool_result", "tool_use_id": "toolu_01Paris", "content": WEATHER_RESULT}


def test_anthropic_stream_through_the_event_helpers(providers_gateway, anthropic_upstream):
    anthropic_upstream.reply([{"type": "text", "text": "Checking the weather now."},
                              {"type": "tool_use", "id": "toolu_01S", "name": "get_weather", "input": WEATHER_ARGS}],
                             stop_reason="tool_use", input_tokens=14, output_tokens=11)
    with client(providers_gateway).responses.stream(model="claude", input=QUESTION, tools=[FLAT_TOOL]) as stream:
        events = list(stream)
        final = stream.get_final_response()
    kinds = [e.type for e in events]
    assert kinds[:2] == ["response.created", "response.in_progress"] and kinds[-1] == "response.completed"
    assert "".join(e.delta for e in events if e.type == "response.output_text.delta") == "Checking the weather now."
    assert [e.sequence_number for e in events] == sorted({e.sequence_number for e in events})
    done = [e.item.type for e in events if e.type == "response.output_item.done"]
    assert done == ["message", "function_call"], "items finish in the order they were added"
    assert final.output_text == "Checking the weather now."
    assert json.loads(final.output[1].arguments) == WEATHER_ARGS
    assert (final.usage.input_tokens, final.usage.output_tokens) == (14, 11)
    assert anthropic_upstream.last.body["stream"] is True


@pytest.mark.parametrize("model", ["gemini-flash", "gemini-3-flash"])
def test_gemini_function_call_round_trip(providers_gateway, gemini_upstream, model):
    gemini_upstream.reply([{"functionCall": {"name": "get_weather", "args": WEATHER_ARGS}}], prompt_tokens=20, candidates_tokens=7)
    first = first_turn(providers_gateway, model)
    call = first.output[-1]
    assert (call.type, call.name, json.loads(call.arguments)) == ("function_call", "get_weather", WEATHER_ARGS)
    assert (first.usage.input_tokens, first.usage.output_tokens) == (20, 7)
    assert field(field(gemini_upstream.last.body, "generation_config"), "max_output_tokens") == 200

    gemini_upstream.reply("18 degrees, clear.")
    second = second_turn(providers_gateway, model, first)
    assert second.output_text == "18 degrees, clear."
    contents = gemini_upstream.last.body["contents"]
    assert [c["role"] for c in contents] == ["user", "model", "user"]
    assert field(contents[2]["parts"][0], "function_response")["name"] == "get_weather", "the output found its call's name"


def test_gemini_stream(providers_gateway, gemini_upstream):
    gemini_upstream.reply("A long enough answer to come in several pieces.", prompt_tokens=6, candidates_tokens=9)
    with client(providers_gateway).responses.stream(model="gemini-flash", input="Say something.") as stream:
        deltas = [e.delta for e in stream if e.type == "response.output_text.delta"]
        final = stream.get_final_response()
    assert len(deltas) > 1 and "".join(deltas) == final.output_text == "A long enough answer to come in several pieces."
    assert final.usage.total_tokens == 15


def test_state_is_refused_with_what_to_do(providers_gateway, anthropic_upstream):
    with pytest.raises(openai.BadRequestError) as refused:
        client(providers_gateway).responses.create(model="claude", input="And Rome?", previous_response_id="resp_abc")
    assert refused.value.body["param"] == "previous_response_id"
    assert "store: false" in refused.value.body["message"] and "Redis" in refused.value.body["message"]
    with pytest.raises(openai.BadRequestError) as hosted:
        client(providers_gateway).responses.create(model="claude", input="Find it.",
                                                   tools=[{"type": "file_search", "vector_store_ids": ["vs_1"]}])
    assert "'file_search'" in hosted.value.body["message"]
    assert not anthropic_upstream.requests, "nothing reached the provider"


def test_fake_json_and_stream(base_gateway):
    fake = openai.OpenAI(base_url=base_gateway.base, api_key="sk-1234", max_retries=0)
    reply = fake.responses.create(model="fake-openai-endpoint", input="Hi", store=False)
    assert reply.output_text == "\n\nHello there, how may I assist you today?"
    assert (reply.model, reply.usage.total_tokens) == ("fake-openai-endpoint", 21)
    with fake.responses.stream(model="fake-openai-endpoint", input="Hi") as stream:
        text = "".join(e.delta for e in stream if e.type == "response.output_text.delta")
        final = stream.get_final_response()
    assert text == final.output_text == "Hello this is a test response from a fixed OpenAI endpoint. "


def test_agents_sdk_runs_a_tool_on_anthropic(providers_gateway, anthropic_upstream):
    import agents  # openai-agents, from tests/sdk/requirements.txt

    agents.set_tracing_disabled(True)
    asked = []

    @agents.function_tool
    def get_weather(city: str, unit: str) -> str:
        """Current weather for a city."""
        asked.append((city, unit))
        return WEATHER_RESULT

    anthropic_upstream.reply([{"type": "tool_use", "id": "toolu_01Agent", "name": "get_weather", "input": WEATHER_ARGS}],
                             stop_reason="tool_use")
    anthropic_upstream.reply("It is 18 degrees and clear in Paris.")
    model = agents.OpenAIResponsesModel(model="claude", openai_client=openai.AsyncOpenAI(
        base_url=providers_gateway.base, api_key=providers_gateway.master_key, max_retries=0))
    agent = agents.Agent(name="weather", instructions="Answer with the tool.", tools=[get_weather], model=model)
    result = agents.Runner.run_sync(agent, QUESTION)
    assert result.final_output == "It is 18 degrees and clear in Paris."
    assert asked == [("Paris", "celsius")]
    first, second = anthropic_upstream.requests[-2:]
    assert first.body["tools"][0]["name"] == "get_weather"
    results = [b for m in second.body["messages"] for b in (m["content"] if isinstance(m["content"], list) else [])
               if b.get("type") == "tool_result"]
    assert results and results[0]["tool_use_id"] == "toolu_01Agent" and "18" in json.dumps(results[0]["content"])
