"""The official OpenAI Python SDK's stored-response calls on a deployment the gateway bridges
to chat (anthropic/, the providers binary in front of mock_anthropic.py), with a redis-server
of the test's own named by LiteLLM's REDIS_URL: `responses.create(previous_response_id=...)`
gives the provider the whole history, `retrieve`, `input_items.list` and `delete` answer
from the store, a deleted response is OpenAI's not-found, and nothing the conversation said
reaches the logs."""

import secrets
import shutil
import socket
import subprocess
import time

import openai
import pytest

from conftest import Gateway, free_port, providers_env
from openai_sdk_providers import client

READY_WITHIN_S = 10.0
QUESTION = "Which river runs through Paris, secret-word-azure?"
ANSWER = "The Seine, secret-word-crimson."


def _answers(port, password):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.sendall(f"AUTH {password}\r\nPING\r\n".encode())
            seen = b""
            while b"PONG" not in seen and len(seen) < 256:
                chunk = s.recv(256)
                if not chunk:
                    break
                seen += chunk
            return b"PONG" in seen
    except OSError:
        return False


@pytest.fixture
def redis_url():
    """A redis-server on a free loopback port with a random password, no persistence."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server is not on PATH: apt-get install redis-server (or scripts/setup-packaging as root)")
    port, password = free_port(), secrets.token_hex(16)
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--requirepass", password, "--save", "",
         "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + READY_WITHIN_S
    while not _answers(port, password):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"redis-server on port {port} did not answer")
        time.sleep(0.02)
    yield f"redis://:{password}@127.0.0.1:{port}"
    proc.terminate()
    proc.wait(timeout=10)


def test_a_bridged_conversation_is_stored_listed_and_deleted(providers_binary, anthropic_upstream, gemini_upstream,
                                                             redis_url):
    master_key = f"sk-master-{secrets.token_hex(8)}"
    env = providers_env(anthropic_upstream, gemini_upstream, master_key) | {"REDIS_URL": redis_url}
    gateway = Gateway(providers_binary, env)
    gateway.master_key = master_key
    try:
        sdk = client(gateway)
        anthropic_upstream.reply(ANSWER)
        first = sdk.responses.create(model="claude", input=QUESTION)
        assert (first.store, first.output_text, first.model) == (True, ANSWER, "claude")

        anthropic_upstream.reply("About 775 km.")
        second = sdk.responses.create(model="claude", input="How long is it?", previous_response_id=first.id)
        assert (second.previous_response_id, second.output_text) == (first.id, "About 775 km.")
        messages = anthropic_upstream.last.body["messages"]
        assert [m["role"] for m in messages] == ["user", "assistant", "user"], messages
        assert messages[1]["content"] in (ANSWER, [{"type": "text", "text": ANSWER}]), messages

        retrieved = sdk.responses.retrieve(second.id)
        assert (retrieved.id, retrieved.output_text, retrieved.model) == (second.id, "About 775 km.", "claude")
        items = list(sdk.responses.input_items.list(second.id, order="asc", limit=1))
        assert [(item.type, item.role) for item in items] == [("message", "user"), ("message", "assistant"),
                                                            ("message", "user")]
        assert items[0].content[0].text == QUESTION
        assert len(anthropic_upstream.requests) == 2, "retrieve and list never reach the provider"

        deleted = sdk.responses.delete(second.id)
        assert deleted is None, "the SDK returns nothing for a delete that succeeded"
        with pytest.raises(openai.NotFoundError):
            sdk.responses.retrieve(second.id)
        with pytest.raises(openai.BadRequestError) as refused:
            sdk.responses.create(model="claude", input="And then?", previous_response_id=second.id)
        assert refused.value.code == "previous_response_not_found"
    finally:
        logs = gateway.stop()
    assert "request served" in logs, "the logs were captured"
    for said in ("secret-word-azure", "secret-word-crimson"):
        assert said not in logs, "stored conversation content reached the logs"
