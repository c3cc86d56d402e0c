"""A secret in the build environment never reaches the binary; at run time it is used
upstream but never appears in logs, error bodies, headers or /model/info."""

import json
import urllib.error
import urllib.request


def test_sentinel_is_not_in_the_binary(local_binary, sentinel):
    with open(local_binary, "rb") as f:
        assert sentinel.encode() not in f.read()


def test_sentinel_is_used_but_never_shown(local_gateway, upstream, sentinel):
    def call(path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(local_gateway.base + path, data=data, headers={"content-type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=10) as r:
                return r.status, dict(r.headers), r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read().decode()

    answers = [
        call("/v1/chat/completions", {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}),
        call("/v1/chat/completions", {"model": "gpt-4o", "messages": [], "stream": True}),
        call("/v1/chat/completions", {"model": "x", "messa": 1}),
        call("/model/info"),
        call("/v1/models"),
        call("/health/readiness"),
    ]
    assert answers[0][0] == 200
    assert upstream.requests[0]["headers"]["authorization"] == f"Bearer {sentinel}", "the secret was really used"
    for status, headers, body in answers:
        assert sentinel not in body and sentinel not in json.dumps(headers), (status, body)
    logs = local_gateway.stop()
    assert "request served" in logs, "the logs were captured"
    assert sentinel not in logs
