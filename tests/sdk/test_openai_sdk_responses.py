"""The official OpenAI Python SDK's `client.responses` and the OpenAI Agents SDK against the
openai/ deployment `gpt-responses` of the providers binary (tests/sdk/routes-providers.yaml),
relayed to a mock that speaks the Responses API as documented (mock_responses.py): create,
stream with the SDK's event helpers, retrieve, delete, input items, previous_response_id and
function-calling round trips, checked on both sides: what the client got, and what the
provider received."""

import asyncio
import json
import secrets

import openai
import pytest

from conftest import Gateway, _required
from mock_responses import CALL_ARGS, DEFAULT_TEXT, ResponsesMock

MODEL = "gpt-responses"
UPSTREAM_MODEL = "gpt-4.1-mini"
WEATHER = {
    "type": "function", "name": "get_weather", "description": "Current weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"],
                   "additionalProperties": False},
    "strict": True,
}


@pytest.fixture
def responses_upstream():
    mock = ResponsesMock(key=f"sk-proj-{secrets.token_hex(24)}")
    mock.base = f"http://127.0.0.1:{mock.port}/v1"
    yield mock
    mock.stop()


@pytest.fixture
def responses_gateway(responses_upstream):
    master_key = f"sk-master-{secrets.token_hex(8)}"
    env = {"SDK_MASTER_KEY": master_key, "SDK_RESPONSES_BASE": responses_upstream.base,
           "SDK_RESPONSES_KEY": responses_upstream.key}
    gateway = Gateway(_required("MODEL_ROUTER_PROVIDERS_BIN"), env)
    gateway.master_key = master_key
    yield gateway
    logs = gateway.stop()
    assert responses_upstream.key not in logs, "the provider key reached the logs"


def client(gateway):
    return openai.OpenAI(base_url=gateway.base, api_key=gateway.master_key, max_retries=0)


def test_create_relays_the_body_and_names_the_requested_model(responses_gateway, responses_upstream):
    reply = client(responses_gateway).responses.create(
        model=MODEL, input="Say hello", instructions="Be brief.", metadata={"team": "agents"},
        reasoning={"effort": "low"}, include=["reasoning.encrypted_content"], store=True, prompt_cache_key="k1",
        extra_body={"max_tool_calls": 3},
    )
    assert reply.model == MODEL
    assert reply.id.startswith("resp_mr1_") and reply.id.endswith("_resp_mock0001")
    assert reply.output_text == DEFAULT_TEXT
    assert (reply.usage.input_tokens, reply.usage.output_tokens, reply.usage.total_tokens) == (11, 7, 18)
    assert reply.usage.input_tokens_details.cached_tokens == 2

    seen = responses_upstream.last
    assert (seen.method, seen.path) == ("POST", "/v1/responses")
    assert seen.headers["authorization"] == f"Bearer {responses_upstream.key}"
    assert responses_gateway.master_key not in json.dumps(seen.headers), "the client's key never travels"
    assert seen.body == {
        "model": UPSTREAM_MODEL, "input": "Say hello", "instructions": "Be brief.", "metadata": {"team": "agents"},
        "reasoning": {"effort": "low"}, "include": ["reasoning.encrypted_content"], "store": True,
        "prompt_cache_key": "k1", "max_tool_calls": 3,
    }, "only model changed"


def test_stream_events_reach_the_sdk_helpers_in_order(responses_gateway, responses_upstream):
    kinds, text = [], []
    with client(responses_gateway).responses.stream(model=MODEL, input="Say hello") as stream:
        for event in stream:
            kinds.append(event.type)
            if event.type == "response.output_text.delta":
                text.append(event.delta)
        final = stream.get_final_response()
    assert kinds == [
        "response.created", "response.in_progress", "response.output_item.added", "response.content_part.added",
        *["response.output_text.delta"] * len(text), "response.output_text.done", "response.content_part.done",
        "response.output_item.done", "response.completed",
    ]
    assert "".join(text) == DEFAULT_TEXT
    assert final.output_text == DEFAULT_TEXT
    assert final.model == MODEL
    assert final.id.startswith("resp_mr1_") and final.id.endswith("_resp_mock0001")
    assert final.usage.total_tokens == 18
    assert responses_upstream.last.body["stream"] is True
    assert responses_upstream.last.headers["accept"] == "text/event-stream"


def test_follow_ups_reach_the_stored_response(responses_gateway, responses_upstream):
    sdk = client(responses_gateway)
    first = sdk.responses.create(model=MODEL, input="Remember: blue.")
    second = sdk.responses.create(model=MODEL, input="What colour?", previous_response_id=first.id)
    assert responses_upstream.last.body["previous_response_id"] == "resp_mock0001", "decoded for the provider"
    assert second.previous_response_id == first.id, "and issued again for the client"

    retrieved = sdk.responses.retrieve(first.id)
    assert (retrieved.id, retrieved.output_text) == (first.id, DEFAULT_TEXT)
    assert (responses_upstream.last.method, responses_upstream.last.path) == ("GET", "/v1/responses/resp_mock0001")

    items = sdk.responses.input_items.list(first.id)
    assert [item.content[0].text for item in items.data] == ["Remember: blue."]
    assert responses_upstream.last.path == "/v1/responses/resp_mock0001/input_items"

    deleted = sdk.responses.delete(first.id)
    assert deleted is None, "the SDK returns nothing for a deletion"
    assert (responses_upstream.last.method, responses_upstream.last.path) == ("DELETE", "/v1/responses/resp_mock0001")
    with pytest.raises(openai.NotFoundError):
        sdk.responses.retrieve(first.id)


def test_an_unknown_previous_response_keeps_openais_code(responses_gateway, responses_upstream):
    with pytest.raises(openai.BadRequestError) as caught:
        client(responses_gateway).responses.create(model=MODEL, input="hi", previous_response_id="resp_from_elsewhere")
    error = caught.value
    assert error.status_code == 400
    assert error.code == "previous_response_not_found"
    assert error.param == "previous_response_id"
    assert responses_upstream.last.body["previous_response_id"] == "resp_from_elsewhere", "passed unchanged"


def test_a_function_call_round_trip(responses_gateway, responses_upstream):
    sdk = client(responses_gateway)
    asked = [{"role": "user", "content": "Weather in Paris?"}]
    first = sdk.responses.create(model=MODEL, input=asked, tools=[WEATHER], store=False)
    (call,) = first.output
    assert (call.type, call.name, json.loads(call.arguments)) == ("function_call", "get_weather", CALL_ARGS)
    assert responses_upstream.last.body["tools"] == [WEATHER]
    result = {"type": "function_call_output", "call_id": call.call_id, "output": "18C and clear"}
    history = asked + [call.model_dump(exclude_none=True), result]
    second = sdk.responses.create(model=MODEL, input=history, tools=[WEATHER], store=False)
    assert second.output_text == "The tool said: 18C and clear"
    sent = responses_upstream.last.body["input"]
    assert sent[1]["call_id"] == call.call_id and sent[1]["id"] == call.id, "item ids are the provider's"
    assert sent[2] == result


def test_an_agent_with_a_function_tool_runs_through_the_gateway(responses_gateway, responses_upstream):
    agents = pytest.importorskip("agents")

    @agents.function_tool
    def get_weather(city: str) -> str:
        """Current weather for a city."""
        return f"sunny in {city}"

    sdk = openai.AsyncOpenAI(base_url=responses_gateway.base, api_key=responses_gateway.master_key, max_retries=0)
    agents.set_tracing_disabled(True)
    agent = agents.Agent(
        name="weather", instructions="Use the tool.", tools=[get_weather],
        model=agents.OpenAIResponsesModel(model=MODEL, openai_client=sdk),
    )
    result = asyncio.run(agents.Runner.run(agent, "What is the weather in Paris?"))
    assert result.final_output == "The tool said: sunny in Paris"
    creates = [r for r in responses_upstream.requests if r.path == "/v1/responses"]
    assert len(creates) == 2, creates
    assert all(r.body["model"] == UPSTREAM_MODEL for r in creates)
    assert creates[0].body["tools"][0]["name"] == "get_weather"
    outputs = [i for i in creates[1].body["input"] if i.get("type") == "function_call_output"]
    assert outputs == [{"type": "function_call_output", "call_id": "call_mock0001", "output": "sunny in Paris"}]
