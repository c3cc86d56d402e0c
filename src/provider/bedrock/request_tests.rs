//! Unit tests of the chat → Converse translation (`request`).

use super::*;

fn translated(request: &str) -> Result<(Value, bool), Error> {
    translated_for(request, "anthropic.claude-3-5-sonnet-20240620-v1:0")
}

fn translated_for(request: &str, model: &str) -> Result<(Value, bool), Error> {
    let fields = Fields::parse(&bytes::Bytes::from(request.to_owned())).unwrap_or_else(|e| panic!("{e}"));
    let mut charge = crate::budget::Budget::new(u64::MAX).charge(0)?;
    let out = translate(fields, model, false, &mut charge)?;
    let body = serde_json::from_slice(&out.body.into_vec()).unwrap_or_else(|e| panic!("{e}"));
    Ok((body, out.json_mode))
}

fn golden(request: &Value) -> Value {
    translated(&request.to_string()).unwrap_or_else(|e| panic!("{e}")).0
}

#[test]
fn a_tool_round_trip_becomes_converse_turns() {
    let body = golden(&json!({
        "messages": [
            { "role": "system", "content": "Be brief." },
            { "role": "developer", "content": [{ "type": "text", "text": "Use tools.", "cache_control": { "type": "ephemeral" } }] },
            { "role": "user", "content": [
                { "type": "text", "text": "Weather in Paris and Rome?" },
                { "type": "image_url", "image_url": { "url": "data:image/jpg;base64,AAAA" } },
            ]},
            { "role": "assistant", "content": null, "tool_calls": [
                { "id": "t1", "type": "function", "function": { "name": "w", "arguments": "{\"city\":\"Paris\"}" } },
                { "id": "t2", "type": "function", "function": { "name": "w", "arguments": "{\"city\":\"Rome\"}" } },
            ]},
            { "role": "tool", "tool_call_id": "t1", "content": "sunny" },
            { "role": "tool", "tool_call_id": "t2", "content": "rain" },
        ],
        "tools": [{ "type": "function", "function": { "name": "w", "description": "weather", "parameters": { "type": "object" } } }],
        "tool_choice": "required",
        "max_tokens": 100, "temperature": 0.5, "top_p": 0.9, "stop": "END",
    }));
    assert_eq!(
        body["system"],
        json!([{ "text": "Be brief." }, { "text": "Use tools." }, { "cachePoint": { "type": "default" } }])
    );
    let messages = body["messages"].as_array().cloned().unwrap_or_default();
    assert_eq!(messages.len(), 3, "{messages:#?}");
    assert_eq!(messages[0]["role"], "user");
    assert_eq!(messages[0]["content"][1], json!({ "image": { "format": "jpeg", "source": { "bytes": "AAAA" } } }));
    assert_eq!(messages[1]["role"], "assistant");
    assert_eq!(
        messages[1]["content"][0],
        json!({ "toolUse": { "toolUseId": "t1", "name": "w", "input": { "city": "Paris" } } })
    );
    assert_eq!(messages[2]["role"], "user", "both tool results in one user turn");
    assert_eq!(
        messages[2]["content"],
        json!([
            { "toolResult": { "toolUseId": "t1", "content": [{ "text": "sunny" }] } },
            { "toolResult": { "toolUseId": "t2", "content": [{ "text": "rain" }] } },
        ])
    );
    assert_eq!(
        body["toolConfig"],
        json!({ "tools": [{ "toolSpec": { "name": "w", "description": "weather", "inputSchema": { "json": { "type": "object" } } } }],
                "toolChoice": { "any": {} } })
    );
    assert_eq!(
        body["inferenceConfig"],
        json!({ "maxTokens": 100, "temperature": 0.5, "topP": 0.9, "stopSequences": ["END"] })
    );
    assert!(body.get("additionalModelRequestFields").is_none());
}

#[test]
fn thinking_top_k_and_model_fields_go_to_additional_fields() {
    let body =
        golden(&json!({ "messages": [{ "role": "user", "content": "hi" }], "reasoning_effort": "low", "top_k": 5 }));
    assert_eq!(
        body["additionalModelRequestFields"],
        json!({ "thinking": { "type": "enabled", "budget_tokens": 1024 }, "top_k": 5 })
    );
    assert_eq!(body["inferenceConfig"]["maxTokens"], DEFAULT_MAX_TOKENS + 1024, "room for the thinking budget");
    let (body, _) = translated_for(
        &json!({ "messages": [{ "role": "user", "content": "hi" }], "top_k": 5, "guardrailConfig": { "guardrailIdentifier": "g" } })
            .to_string(),
        "us.amazon.nova-pro-v1:0",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(body["additionalModelRequestFields"], json!({ "inferenceConfig": { "topK": 5 } }));
    assert_eq!(body["guardrailConfig"], json!({ "guardrailIdentifier": "g" }));
}

#[test]
fn a_json_schema_is_a_forced_tool() {
    let (body, json_mode) = translated(
        &json!({ "messages": [{ "role": "user", "content": "hi" }],
                 "response_format": { "type": "json_schema", "json_schema": { "name": "answer", "schema": { "type": "object" } } } })
        .to_string(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(json_mode);
    assert_eq!(
        body["toolConfig"],
        json!({ "tools": [{ "toolSpec": { "name": "answer", "inputSchema": { "json": { "type": "object" } } } }],
                "toolChoice": { "tool": { "name": "answer" } } })
    );
}

#[test]
fn urls_and_bad_input_are_named_400s() {
    let e = translated(
        &json!({ "messages": [{ "role": "user", "content": [{ "type": "image_url", "image_url": { "url": "https://x/cat.png" } }] }] })
            .to_string(),
    )
    .err();
    let message = e.as_ref().map(ToString::to_string).unwrap_or_default();
    assert!(message.contains("does not fetch URLs") && message.contains("https://x/cat.png"), "{message}");
    assert_eq!(e.map(|e| e.status().as_u16()), Some(400));
    let e = translated(&json!({ "messages": [], "tool_choice": "none" }).to_string()).err();
    assert_eq!(e.and_then(|e| e.param().map(str::to_owned)).as_deref(), Some("tool_choice"));
    assert!(translated(&json!({ "messages": "hi" }).to_string()).is_err());
    assert_eq!(
        base_model("arn:aws:bedrock:us-east-1:1:inference-profile/us.anthropic.claude-v2:1"),
        "anthropic.claude-v2:1"
    );
}

/// The exact bytes of a request with tools, an image, a document, thinking, a cache point,
/// a config block and a model field, pinned before the request was typed.
#[test]
fn a_full_request_body_is_pinned_byte_for_byte() {
    let request = json!({
        "messages": [
            { "role": "system", "content": [{ "type": "text", "text": "Sys", "cache_control": { "type": "ephemeral" } }] },
            { "role": "user", "content": [
                { "type": "text", "text": "Look" },
                { "type": "image_url", "image_url": { "url": "data:image/png;base64,iVBO" } },
                { "type": "file", "file": { "file_data": "data:application/pdf;base64,JVBE" } },
            ]},
            { "role": "assistant", "content": "ok", "tool_calls": [
                { "id": "t1", "type": "function", "function": { "name": "w", "arguments": "{\"z\":1,\"a\":[true]}" } },
            ]},
            { "role": "tool", "tool_call_id": "t1", "content": [{ "type": "text", "text": "done" }] },
        ],
        "tools": [{ "type": "function", "function": { "name": "w", "description": "d",
            "parameters": { "type": "object", "properties": { "z": { "type": "integer" } } } } }],
        "tool_choice": { "type": "function", "function": { "name": "w" } },
        "thinking": { "type": "enabled", "budget_tokens": 2048 },
        "temperature": 1, "stop": ["A", "B"], "top_k": 3,
        "requestMetadata": { "k": "v" }, "custom_field": { "y": 2, "x": 1 },
        "stream": true,
    });
    let fields = Fields::parse(&bytes::Bytes::from(request.to_string())).unwrap();
    let mut charge = crate::budget::Budget::new(u64::MAX).charge(0).unwrap();
    let out = translate(fields, "anthropic.claude-3-7-sonnet-20250219-v1:0", false, &mut charge).unwrap();
    let body = String::from_utf8(out.body.into_vec()).unwrap();
    let want = concat!(
        r#"{"messages":[{"content":[{"text":"Look"},{"image":{"format":"png","source":{"bytes":"iVBO"}}},"#,
        r#"{"document":{"format":"pdf","name":"document-1","source":{"bytes":"JVBE"}}}],"role":"user"},"#,
        r#"{"content":[{"text":"ok"},{"toolUse":{"input":{"a":[true],"z":1},"name":"w","toolUseId":"t1"}}],"role":"assistant"},"#,
        r#"{"content":[{"toolResult":{"content":[{"text":"done"}],"toolUseId":"t1"}}],"role":"user"}],"#,
        r#""additionalModelRequestFields":{"custom_field":{"x":1,"y":2},"thinking":{"budget_tokens":2048,"type":"enabled"},"top_k":3},"#,
        r#""inferenceConfig":{"maxTokens":6144,"stopSequences":["A","B"],"temperature":1},"#,
        r#""requestMetadata":{"k":"v"},"#,
        r#""system":[{"text":"Sys"},{"cachePoint":{"type":"default"}}],"#,
        r#""toolConfig":{"toolChoice":{"tool":{"name":"w"}},"tools":[{"toolSpec":{"description":"d","#,
        r#""inputSchema":{"json":{"properties":{"z":{"type":"integer"}},"type":"object"}},"name":"w"}}]}}"#,
    );
    assert_eq!(body, want);
    // Strings past `block::LONG` move into the body rather than being copied: the same bytes.
    let long = "L".repeat(3 * crate::provider::translate::block::LONG);
    let long_request = request.to_string().replace("Look", &long).replace("iVBO", &long);
    let fields = Fields::parse(&bytes::Bytes::from(long_request)).unwrap();
    let out = translate(fields, "anthropic.claude-3-7-sonnet-20250219-v1:0", false, &mut charge).unwrap();
    let body = String::from_utf8(out.body.into_vec()).unwrap();
    assert_eq!(body, want.replace("Look", &long).replace("iVBO", &long));
    assert!(!out.json_mode);
}

/// A function's `parameters` go to `inputSchema.json` as the client wrote them, key order and
/// all; the other members are still translated.
#[test]
fn a_tool_schema_passes_as_the_client_wrote_it() {
    let schema = r#"{"type":"object","properties":{"zone":{"type":"string"}},"required":["zone"]}"#;
    let request = format!(
        r#"{{"messages":[{{"role":"user","content":"hi"}}],
            "tools":[{{"type":"function","function":{{"name":"w","parameters":{schema}}}}}]}}"#
    );
    let fields = Fields::parse(&bytes::Bytes::from(request)).unwrap();
    let mut charge = crate::budget::Budget::new(u64::MAX).charge(0).unwrap();
    let out = translate(fields, "anthropic.claude-3-7-sonnet-20250219-v1:0", false, &mut charge).unwrap();
    let body = String::from_utf8(out.body.into_vec()).unwrap();
    let want =
        format!(r#","toolConfig":{{"tools":[{{"toolSpec":{{"inputSchema":{{"json":{schema}}},"name":"w"}}}}]}}}}"#);
    assert!(body.ends_with(&want), "{body}");
}
