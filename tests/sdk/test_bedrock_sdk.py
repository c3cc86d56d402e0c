"""The official OpenAI and Anthropic Python SDKs against the bedrock/ deployments of the
providers binary (tests/sdk/routes-providers.yaml), in front of mock_bedrock.py, which
recomputes every SigV4 signature with botocore and refuses a wrong one as AWS does: chat,
stream, a tools round trip and errors through Converse with the deployment's own keys, the
environment's keys with a session token, and web identity through a mock STS; `/v1/messages`
relayed to InvokeModel, plain and streamed."""

import json
import secrets

import anthropic
import openai
import pytest

from conftest import Gateway
from mock_bedrock import BedrockMock, StsMock, converse
from openai_sdk_providers import WEATHER_ARGS, WEATHER_RESULT, WEATHER_TOOL, streamed

KEY_ID = "AKIDSDKBEDROCK01"
ENV_KEY_ID = "ASIASDKENVIRON01"
STS_KEY_ID = "ASIASDKSTSGRANT01"
WEB_IDENTITY = "eyJhbGciOiJSUzI1NiJ9.sdk-web-identity.sig"


@pytest.fixture
def aws():
    """The secrets of one run: the deployment's, the environment's and STS's."""
    return {
        "secret": secrets.token_hex(20), "env_secret": secrets.token_hex(20), "env_token": secrets.token_hex(24),
        "sts_secret": secrets.token_hex(20), "sts_token": secrets.token_hex(24),
    }


@pytest.fixture
def bedrock(aws):
    mock = BedrockMock({KEY_ID: (aws["secret"], None), ENV_KEY_ID: (aws["env_secret"], aws["env_token"]),
                        STS_KEY_ID: (aws["sts_secret"], aws["sts_token"])})
    yield mock
    mock.stop()


@pytest.fixture
def sts(aws):
    mock = StsMock(WEB_IDENTITY, (STS_KEY_ID, aws["sts_secret"], aws["sts_token"]))
    yield mock
    mock.stop()


@pytest.fixture
def gateway(providers_binary, bedrock, sts, aws):
    master_key = f"sk-master-{secrets.token_hex(8)}"
    env = {
        "SDK_MASTER_KEY": master_key, "SDK_BEDROCK_BASE": bedrock.base, "SDK_STS_BASE": sts.base,
        "SDK_AWS_KEY_ID": KEY_ID, "SDK_AWS_SECRET": aws["secret"], "SDK_AWS_WRONG_SECRET": secrets.token_hex(20),
        "SDK_WEB_IDENTITY_TOKEN": WEB_IDENTITY,
        "AWS_ACCESS_KEY_ID": ENV_KEY_ID, "AWS_SECRET_ACCESS_KEY": aws["env_secret"], "AWS_SESSION_TOKEN": aws["env_token"],
    }
    gw = Gateway(providers_binary, env)
    gw.master_key = master_key
    yield gw
    logs = gw.stop()
    for secret in aws.values():
        assert secret not in logs, "an AWS secret reached the logs"


def client(gw):
    return openai.OpenAI(base_url=gw.base, api_key=gw.master_key, max_retries=0)


def test_chat_with_the_deployments_own_keys(gateway, bedrock):
    reply = client(gateway).chat.completions.create(model="bedrock-claude", max_tokens=50, messages=[
        {"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}])
    assert reply.model == "bedrock-claude"
    assert reply.choices[0].message.content == "Hello from Bedrock."
    assert reply.choices[0].finish_reason == "stop"
    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens, reply.usage.total_tokens) == (12, 6, 18)
    seen = bedrock.last
    assert seen.path == "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse"
    assert "x-amz-security-token" not in seen.headers, "the environment's session token stays out"
    body = seen.json()
    assert body["system"] == [{"text": "Be brief."}]
    assert body["messages"] == [{"role": "user", "content": [{"text": "Hi"}]}]
    assert body["inferenceConfig"] == {"maxTokens": 50}
    assert bedrock.signature_failures == 0


def test_stream_with_environment_keys_and_session_token(gateway, bedrock):
    chunks = client(gateway).chat.completions.create(
        model="bedrock-nova", stream=True, stream_options={"include_usage": True},
        messages=[{"role": "user", "content": "Hi"}])
    text, calls, finishes, usage = streamed(chunks)
    assert text == "Hello from Bedrock."
    assert finishes == ["stop"] and not calls
    assert usage.usage.total_tokens == 13
    seen = bedrock.last
    assert seen.path.startswith("/model/arn%3Aaws%3Abedrock%3Aus-west-2%3A123456789012%3Ainference-profile%2F")
    assert seen.path.endswith("/converse-stream")
    assert seen.headers["x-amz-security-token"]
    assert bedrock.signature_failures == 0


def test_tools_round_trip_through_web_identity(gateway, bedrock, sts):
    bedrock.reply(*converse([{"toolUse": {"toolUseId": "tooluse_sdk1", "name": "get_weather", "input": WEATHER_ARGS}}],
                            "tool_use"))
    messages = [{"role": "user", "content": "Weather in Paris?"}]
    first = client(gateway).chat.completions.create(model="bedrock-llama", messages=messages, tools=[WEATHER_TOOL])
    call = first.choices[0].message.tool_calls[0]
    assert first.choices[0].finish_reason == "tool_calls"
    assert (call.id, call.function.name, json.loads(call.function.arguments)) == ("tooluse_sdk1", "get_weather", WEATHER_ARGS)
    messages += [first.choices[0].message.model_dump(exclude_none=True),
                 {"role": "tool", "tool_call_id": call.id, "content": WEATHER_RESULT}]
    second = client(gateway).chat.completions.create(model="bedrock-llama", messages=messages, tools=[WEATHER_TOOL])
    assert second.choices[0].message.content == "Hello from Bedrock."
    body = bedrock.last.json()
    assert body["messages"][1]["content"][-1] == {"toolUse": {"toolUseId": "tooluse_sdk1", "name": "get_weather",
                                                              "input": WEATHER_ARGS}}
    assert body["messages"][2] == {"role": "user", "content": [
        {"toolResult": {"toolUseId": "tooluse_sdk1", "content": [{"text": WEATHER_RESULT}]}}]}
    assert body["toolConfig"]["tools"][0]["toolSpec"]["name"] == "get_weather"
    assert len(sts.seen) == 1, "the STS credentials are cached"
    assert sts.seen[0]["RoleArn"] == ["arn:aws:iam::123456789012:role/sdk-bedrock"]
    assert bedrock.last.headers["authorization"].startswith(f"AWS4-HMAC-SHA256 Credential={STS_KEY_ID}/")
    assert bedrock.signature_failures == 0


@pytest.mark.parametrize("status,error_type,want,exception", [
    (429, "ThrottlingException", 429, openai.RateLimitError),
    (400, "ValidationException", 400, openai.BadRequestError),
    (403, "AccessDeniedException", 403, openai.PermissionDeniedError),
    (503, "ServiceUnavailableException", 503, openai.InternalServerError),
])
def test_errors_keep_their_status(gateway, bedrock, status, error_type, want, exception):
    bedrock.fail(status, error_type, f"{error_type} from the mock")
    with pytest.raises(exception) as raised:
        client(gateway).chat.completions.create(model="bedrock-claude", messages=[{"role": "user", "content": "Hi"}])
    assert raised.value.status_code == want
    assert f"BedrockException - {error_type}: {error_type} from the mock" in raised.value.message


def test_a_wrong_secret_is_refused_as_aws_does(gateway, bedrock, aws):
    with pytest.raises(openai.PermissionDeniedError) as raised:
        client(gateway).chat.completions.create(model="bedrock-wrong-secret", messages=[{"role": "user", "content": "Hi"}])
    assert "InvalidSignatureException" in raised.value.message
    assert bedrock.signature_failures == 1
    assert aws["secret"] not in json.dumps(raised.value.body)


def test_anthropic_sdk_messages_go_to_invoke_model(gateway, bedrock):
    sdk = anthropic.Anthropic(base_url=gateway.base, api_key=gateway.master_key, max_retries=0)
    message = sdk.messages.create(model="bedrock-claude", max_tokens=64, messages=[{"role": "user", "content": "Hi"}],
                                  extra_headers={"anthropic-beta": "prompt-caching-2024-07-31"})
    assert message.content[0].text == "Hello from InvokeModel."
    assert message.model == "bedrock-claude"
    seen = bedrock.last
    assert seen.path == "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/invoke"
    body = seen.json()
    assert body["anthropic_version"] == "bedrock-2023-05-31"
    assert body["anthropic_beta"] == ["prompt-caching-2024-07-31"]
    assert "model" not in body and "stream" not in body

    with sdk.messages.stream(model="bedrock-claude", max_tokens=64, messages=[{"role": "user", "content": "Hi"}]) as s:
        text = "".join(s.text_stream)
        final = s.get_final_message()
    assert text == "Streamed."
    assert final.stop_reason == "end_turn"
    assert bedrock.last.path.endswith("/invoke-with-response-stream")
    assert bedrock.signature_failures == 0
