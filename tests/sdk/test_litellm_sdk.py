"""The LiteLLM Python SDK calling model-router the way agentic-layer agents do:
LITELLM_PROXY_API_BASE, LITELLM_PROXY_API_KEY, USE_LITELLM_PROXY and provider-prefixed
model names. Run in a subprocess so the SDK reads those variables at import."""

import json
import os
import subprocess
import sys

AGENT_KEY = "myns/myagent"
SDK_TIMEOUT_S = 120

SCRIPT = """
import json, litellm
reply = litellm.completion(model="openai/gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
stream = litellm.completion(model="openai/gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], stream=True)
text = "".join((c.choices[0].delta.content or "") for c in stream if c.choices)
print(json.dumps({"content": reply.choices[0].message.content, "stream": text}))
"""


def test_agentic_layer_style_calls(local_gateway, upstream, sentinel):
    env = dict(os.environ)
    env.update({
        "LITELLM_PROXY_API_BASE": local_gateway.base,
        "LITELLM_PROXY_API_KEY": AGENT_KEY,
        "USE_LITELLM_PROXY": "True",
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    })
    for name in ("OPENAI_API_KEY", "OPENAI_API_BASE"):
        env.pop(name, None)
    run = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=SDK_TIMEOUT_S)
    assert run.returncode == 0, run.stderr[-4000:]
    assert json.loads(run.stdout.strip().splitlines()[-1]) == {"content": "mock says hi", "stream": "mock streams"}
    assert len(upstream.requests) == 2
    for seen in upstream.requests:
        assert seen["body"]["model"] == "gpt-4o-mini"
        assert seen["headers"]["authorization"] == f"Bearer {sentinel}", "the agent's pseudo key is never forwarded"
