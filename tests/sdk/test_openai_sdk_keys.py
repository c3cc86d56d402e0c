"""The official OpenAI Python SDK with a team's virtual key (tests/sdk/routes-providers.yaml,
key sdk-agent of team sdk-team, its secret read from SDK_TEAM_KEY at start-up): a model of
the team is served, a model outside it is refused with LiteLLM's 401 before any provider
sees it, and once the key's budget is spent it gets LiteLLM's 400 budget_exceeded."""

import json
import secrets

import openai
import pytest

from conftest import Gateway, providers_env

HI = [{"role": "user", "content": "Say hi."}]


@pytest.fixture
def team_key():
    return f"sk-{secrets.token_urlsafe(32)}"


@pytest.fixture
def keyed_gateway(providers_binary, anthropic_upstream, gemini_upstream, team_key):
    master_key = f"sk-master-{secrets.token_hex(8)}"
    env = providers_env(anthropic_upstream, gemini_upstream, master_key)
    env["SDK_TEAM_KEY"] = team_key
    gateway = Gateway(providers_binary, env)
    yield gateway
    logs = gateway.stop()
    assert "request served" in logs, "the logs were captured"
    assert team_key not in logs, "a virtual key's secret reached the logs"


def test_a_team_key_is_served_refused_and_stopped_by_its_budget(keyed_gateway, anthropic_upstream, gemini_upstream, team_key):
    client = openai.OpenAI(base_url=keyed_gateway.base, api_key=team_key, max_retries=0)
    assert [m.id for m in client.models.list()] == ["claude"], "only what the team may call is listed"

    anthropic_upstream.reply("Hi.", input_tokens=12, output_tokens=6)
    reply = client.chat.completions.create(model="claude", messages=HI, max_tokens=50)
    assert (reply.model, reply.choices[0].message.content) == ("claude", "Hi.")
    assert len(anthropic_upstream.requests) == 1
    assert team_key not in json.dumps(anthropic_upstream.last.headers), "the virtual key never travels upstream"

    with pytest.raises(openai.AuthenticationError) as refused:
        client.chat.completions.create(model="gemini-flash", messages=HI, max_tokens=50)
    assert refused.value.status_code == 401
    assert refused.value.body["type"] == "team_model_access_denied"
    assert refused.value.body["message"] == (
        "Team not allowed to access model. Team=sdk-team, Model=gemini-flash. Allowed team models = ['claude']"
    )
    assert gemini_upstream.requests == [], "a refused model reaches no provider"

    with pytest.raises(openai.BadRequestError) as spent:
        client.chat.completions.create(model="claude", messages=HI, max_tokens=50)
    assert spent.value.status_code == 400
    assert spent.value.body["type"] == "budget_exceeded"
    assert spent.value.body["message"] == "Budget has been exceeded! Current cost: 0.000126, Max budget: 0.0001"
    assert len(anthropic_upstream.requests) == 1, "a spent key reaches no provider"

    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=keyed_gateway.base, api_key="sk-not-a-key", max_retries=0).models.list()
