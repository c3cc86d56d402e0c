"""What the OpenAI SDK tests of the translated deployments (test_openai_sdk_anthropic.py,
test_openai_sdk_gemini.py) share: the OpenAI client on a gateway, a weather tool and its
arguments and result, the reassembly of a stream, and the check that no provider key
reached the client."""

import json

import openai

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "City name"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            },
            "required": ["city", "unit"],
            # What strict OpenAI function definitions carry; Gemini's schema subset lacks it.
            "additionalProperties": False,
        },
    },
}
WEATHER_ARGS = {"city": "Paris", "unit": "celsius"}
WEATHER_RESULT = json.dumps({"temperature": 18, "unit": "celsius", "sky": "clear"})


def client(gateway):
    return openai.OpenAI(base_url=gateway.base, api_key=gateway.master_key, max_retries=0)


def ask(gateway, model, messages, **kwargs):
    return client(gateway).chat.completions.create(model=model, messages=messages, **kwargs)


def no_secret_in(error, *keys):
    text = json.dumps(error.body) + str(error) + json.dumps(dict(error.response.headers))
    for key in keys:
        assert key not in text, "a provider key reached the client"


def streamed(chunks):
    """Content, tool calls (merged by index), finish reasons and the usage chunk of a stream."""
    text, calls, finishes, usage = "", {}, [], None
    for chunk in chunks:
        if chunk.usage is not None:
            usage = chunk
        for choice in chunk.choices:
            text += choice.delta.content or ""
            for call in choice.delta.tool_calls or []:
                merged = calls.setdefault(call.index, {"id": None, "name": "", "arguments": ""})
                merged["id"] = merged["id"] or call.id
                if call.function:
                    merged["name"] += call.function.name or ""
                    merged["arguments"] += call.function.arguments or ""
            if choice.finish_reason:
                finishes.append(choice.finish_reason)
    return text, [calls[i] for i in sorted(calls)], finishes, usage
