"""The official OpenAI Python SDK against the built binaries: base (built-in fake provider)
and local (every model to an OpenAI-compatible upstream)."""

import openai
import pytest


def client(gateway, key="sk-1234"):
    return openai.OpenAI(base_url=gateway.base, api_key=key, max_retries=0)


def test_chat(base_gateway):
    reply = client(base_gateway).chat.completions.create(model="fake-openai-endpoint", messages=[{"role": "user", "content": "hi"}])
    assert reply.model == "fake-openai-endpoint"
    assert reply.choices[0].message.content == "\n\nHello there, how may I assist you today?"
    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens, reply.usage.total_tokens) == (9, 12, 21)


def test_stream_with_usage(base_gateway):
    stream = client(base_gateway).chat.completions.create(
        model="fake-openai-endpoint", messages=[{"role": "user", "content": "hi"}], stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.strip() == "Hello this is a test response from a fixed OpenAI endpoint."
    assert all(c.model == "fake-openai-endpoint" for c in chunks)
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage.total_tokens == 21


def test_models(base_gateway):
    assert [m.id for m in client(base_gateway).models.list()] == ["fake-openai-endpoint"]


def test_embeddings_decode_from_base64(base_gateway):
    reply = client(base_gateway).embeddings.create(model="fake-openai-endpoint", input=["hello", "world"], dimensions=16)
    assert [len(d.embedding) for d in reply.data] == [16, 16]
    again = client(base_gateway).embeddings.create(model="fake-openai-endpoint", input="hello", dimensions=16)
    assert again.data[0].embedding == reply.data[0].embedding


def test_wrong_key_is_authentication_error(base_gateway):
    with pytest.raises(openai.AuthenticationError) as raised:
        client(base_gateway, key="sk-wrong").chat.completions.create(model="fake-openai-endpoint", messages=[])
    assert raised.value.status_code == 401
    assert raised.value.body["type"] == "auth_error"


def test_rate_limit_is_rate_limit_error(base_gateway):
    with pytest.raises(openai.RateLimitError):
        client(base_gateway).chat.completions.create(model="fake/429", messages=[{"role": "user", "content": "hi"}])


def test_local_chat_reaches_the_openai_base(local_gateway, upstream, sentinel):
    reply = client(local_gateway, key="anything").chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], temperature=0.1)
    assert reply.choices[0].message.content == "mock says hi"
    assert reply.model == "gpt-4o-mini"
    seen = upstream.requests[-1]
    assert seen["path"] == "/v1/chat/completions"
    assert seen["body"]["model"] == "gpt-4o-mini" and seen["body"]["temperature"] == 0.1
    assert seen["headers"]["authorization"] == f"Bearer {sentinel}"


def test_local_stream_with_a_prefixed_model(local_gateway, upstream):
    stream = client(local_gateway, key="anything").chat.completions.create(
        model="openai/gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "mock streams"
    assert chunks[-1].usage.total_tokens == 7
    assert all(c.model == "openai/gpt-4o-mini" for c in chunks)
    assert upstream.requests[-1]["body"]["model"] == "gpt-4o-mini", "the deployment's own provider prefix is dropped"


def test_local_embeddings(local_gateway, upstream):
    reply = client(local_gateway, key="anything").embeddings.create(model="text-embedding-3-small", input="x", encoding_format="float")
    assert reply.data[0].embedding == [0.5, 0.25]
    assert upstream.requests[-1]["path"] == "/v1/embeddings"
