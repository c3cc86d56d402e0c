"""The official Anthropic Python SDK against /v1/messages of the built base binary, whose
one model is answered by the built-in fake provider: the Messages request is translated
into a chat call and the reply (JSON or SSE events) back into Anthropic's format."""

import anthropic
import pytest


def client(gateway, key="sk-1234"):
    return anthropic.Anthropic(base_url=gateway.base, api_key=key, max_retries=0)


def test_message(base_gateway):
    reply = client(base_gateway).messages.create(
        model="fake-openai-endpoint", max_tokens=64, system="Be brief.",
        messages=[{"role": "user", "content": "hi"}],
    )
    assert reply.id.startswith("msg_")
    assert reply.model == "fake-openai-endpoint"
    assert reply.role == "assistant" and reply.type == "message"
    assert [b.type for b in reply.content] == ["text"]
    assert reply.content[0].text == "\n\nHello there, how may I assist you today?"
    assert reply.stop_reason == "end_turn"
    assert (reply.usage.input_tokens, reply.usage.output_tokens) == (9, 12)


def test_stream(base_gateway):
    with client(base_gateway).messages.stream(
        model="fake-openai-endpoint", max_tokens=64, messages=[{"role": "user", "content": "hi"}],
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text.strip() == "Hello this is a test response from a fixed OpenAI endpoint."
    assert final.id.startswith("msg_")
    assert final.model == "fake-openai-endpoint"
    assert final.stop_reason == "end_turn"
    assert final.usage.output_tokens > 0


def test_raw_stream_event_sequence(base_gateway):
    events = client(base_gateway).messages.create(
        model="fake-openai-endpoint", max_tokens=64, stream=True, messages=[{"role": "user", "content": "hi"}],
    )
    kinds = [e.type for e in events]
    assert kinds[0] == "message_start"
    assert kinds[1] == "content_block_start"
    assert set(kinds[2:-3]) == {"content_block_delta"}
    assert kinds[-3:] == ["content_block_stop", "message_delta", "message_stop"]


def test_errors_are_anthropic_errors(base_gateway):
    with pytest.raises(anthropic.AuthenticationError) as wrong_key:
        client(base_gateway, key="sk-wrong").messages.create(
            model="fake-openai-endpoint", max_tokens=8, messages=[{"role": "user", "content": "hi"}],
        )
    assert wrong_key.value.body["type"] == "error"
    assert wrong_key.value.body["error"]["type"] == "authentication_error"
    with pytest.raises(anthropic.BadRequestError) as unknown:
        client(base_gateway).messages.create(model="nope", max_tokens=8, messages=[{"role": "user", "content": "hi"}])
    assert unknown.value.body["error"]["type"] == "invalid_request_error"
    assert "model=nope" in unknown.value.body["error"]["message"]
