//! The HTTP surface of the base environment (built-in fake provider): endpoints, shapes,
//! auth, errors and SSE framing, through a real socket.

use crate::common;

use bytes::Bytes;
use common::{get, post, send, sse_events, start};
use http::{Method, StatusCode};
use model_router::table::{COMPILED, Table};
use serde_json::{Value, json};

const KEY: &str = "sk-1234";
const MODEL: &str = "fake-openai-endpoint";

fn base() -> &'static Table {
    assert_eq!(COMPILED.env, "base", "integration tests expect the default build (MODEL_ROUTER_ENV unset)");
    COMPILED
}

fn chat(model: &str) -> Value {
    json!({ "model": model, "messages": [{ "role": "user", "content": "hi" }] })
}

#[tokio::test]
async fn health_paths_are_open_and_shaped_like_litellm() {
    let gw = start(base(), &[]).await;
    for path in ["/health/liveliness", "/health/liveness"] {
        let reply = get(&gw, path, None).await;
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(reply.text(), "\"I'm alive!\"");
        assert_eq!(reply.header("content-type"), Some("application/json"));
    }
    let ready = get(&gw, "/health/readiness", None).await;
    assert_eq!(ready.status, StatusCode::OK);
    let body = ready.json();
    assert_eq!(body["status"], "healthy");
    assert_eq!(body["db"], "Not connected");
    assert_eq!(body["env"], "base");
    assert_eq!(body["routes_sha256"], COMPILED.routes_sha256);
    assert_eq!(body["routes_sha256"].as_str().map(str::len), Some(64));
}

#[tokio::test]
async fn chat_completion_on_every_route_form() {
    let gw = start(base(), &[]).await;
    for path in ["/chat/completions", "/v1/chat/completions"] {
        let reply = post(&gw, path, Some(KEY), &chat(MODEL)).await;
        assert_eq!(reply.status, StatusCode::OK, "{path}: {}", reply.text());
        let body = reply.json();
        assert_eq!(body["object"], "chat.completion");
        assert_eq!(body["model"], MODEL);
        assert_eq!(body["choices"][0]["message"]["content"], "\n\nHello there, how may I assist you today?");
        assert_eq!(body["usage"], json!({ "prompt_tokens": 9, "completion_tokens": 12, "total_tokens": 21 }));
        assert_eq!(reply.header("x-litellm-model-group"), Some(MODEL));
        assert_eq!(reply.header("x-litellm-model-name"), Some("fake/fake-openai-endpoint"));
        assert!(reply.header("x-litellm-call-id").is_some_and(|id| id.len() == 36));
        assert!(reply.header("x-litellm-response-duration-ms").is_some());
    }
    let body = json!({ "messages": [{ "role": "user", "content": "hi" }] });
    let reply = post(&gw, "/openai/deployments/fake-openai-endpoint/chat/completions", Some(KEY), &body).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json()["model"], MODEL);
}

#[tokio::test]
async fn stream_is_one_word_per_chunk_with_usage_and_done() {
    let gw = start(base(), &[]).await;
    let mut body = chat(MODEL);
    body["stream"] = json!(true);
    body["stream_options"] = json!({ "include_usage": true });
    let reply = post(&gw, "/v1/chat/completions", Some(KEY), &body).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.header("content-type"), Some("text/event-stream; charset=utf-8"));
    assert_eq!(reply.header("cache-control"), Some("no-cache"));
    let events = sse_events(&reply.text());
    assert_eq!(events.last().map(String::as_str), Some("[DONE]"));
    let chunks: Vec<Value> = events[..events.len() - 1].iter().map(|e| serde_json::from_str(e).unwrap()).collect();
    let words: String = chunks.iter().filter_map(|c| c["choices"][0]["delta"]["content"].as_str()).collect();
    assert_eq!(words.trim(), "Hello this is a test response from a fixed OpenAI endpoint.");
    assert!(chunks.iter().all(|c| c["model"] == MODEL && c["object"] == "chat.completion.chunk"));
    assert!(chunks[0]["choices"][0].get("finish_reason").is_none(), "omitted, not null, mid-stream");
    let finish = &chunks[chunks.len() - 2];
    assert_eq!(finish["choices"][0]["finish_reason"], "stop");
    let usage = &chunks[chunks.len() - 1];
    assert_eq!(usage["choices"], json!([]));
    assert_eq!(usage["usage"]["total_tokens"], 21);

    body.as_object_mut().unwrap().remove("stream_options");
    let events = sse_events(&post(&gw, "/v1/chat/completions", Some(KEY), &body).await.text());
    assert!(events.iter().all(|e| !e.contains("\"usage\"")), "no usage chunk unless asked");
}

#[tokio::test]
async fn completions_and_embeddings() {
    let gw = start(base(), &[]).await;
    let reply = post(&gw, "/v1/completions", Some(KEY), &json!({ "model": MODEL, "prompt": "Say this" })).await;
    assert_eq!(reply.status, StatusCode::OK);
    let body = reply.json();
    assert_eq!(body["object"], "text_completion");
    assert_eq!(body["model"], MODEL);
    assert_eq!(body["usage"]["total_tokens"], 26);

    let ask = |input: Value, format: &str| json!({ "model": MODEL, "input": input, "dimensions": 8, "encoding_format": format });
    let first = post(&gw, "/embeddings", Some(KEY), &ask(json!(["a b", "c"]), "float")).await.json();
    assert_eq!(first["object"], "list");
    assert_eq!(first["model"], MODEL);
    assert_eq!(first["data"].as_array().map(Vec::len), Some(2));
    assert_eq!(first["data"][1]["index"], 1);
    assert_eq!(first["data"][0]["embedding"].as_array().map(Vec::len), Some(8));
    let again = post(&gw, "/v1/embeddings", Some(KEY), &ask(json!(["a b", "c"]), "float")).await.json();
    assert_eq!(first["data"], again["data"], "deterministic");
    let encoded = post(&gw, "/v1/embeddings", Some(KEY), &ask(json!("a b"), "base64")).await.json();
    let b64 = encoded["data"][0]["embedding"].as_str().unwrap();
    assert_eq!(b64.len(), 44, "8 little-endian f32 in base64");
}

#[tokio::test]
async fn embeddings_beyond_the_fake_providers_bounds_are_refused_before_any_work() {
    let gw = start(base(), &[]).await;
    let inputs: Vec<String> = (0..2048).map(|i| format!("w{i}")).collect();
    let refused = |reply: common::Reply, param: &str, says: &str| {
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.text());
        let error = &reply.json()["error"];
        assert_eq!((error["type"].as_str(), error["param"].as_str()), (Some("invalid_request_error"), Some(param)));
        assert!(error["message"].as_str().unwrap().contains(says), "{error}");
    };
    // The request: 2048 inputs of 8192 dimensions, 10 KB with the docs key.
    let attack = json!({ "model": MODEL, "input": inputs, "dimensions": 8192 });
    refused(post(&gw, "/v1/embeddings", Some(KEY), &attack).await, "dimensions", "from 1 to 3072");
    let widest = json!({ "model": MODEL, "input": inputs, "dimensions": 3072, "encoding_format": "base64" });
    refused(post(&gw, "/v1/embeddings", Some(KEY), &widest).await, "dimensions", "at most 2097152 per call");
    let many = json!({ "model": MODEL, "input": vec!["x"; 2049], "dimensions": 1 });
    refused(post(&gw, "/v1/embeddings", Some(KEY), &many).await, "input", "must hold 1 to 2048 items");
    let within = json!({ "model": MODEL, "input": inputs, "dimensions": 1024, "encoding_format": "base64" });
    let served = post(&gw, "/v1/embeddings", Some(KEY), &within).await;
    assert_eq!(served.status, StatusCode::OK, "up to the bound is served");
    assert_eq!(served.json()["data"].as_array().map(Vec::len), Some(2048));
}

#[tokio::test]
async fn models_and_model_info() {
    let gw = start(base(), &[]).await;
    let models = get(&gw, "/v1/models", Some(KEY)).await.json();
    assert_eq!(models["object"], "list");
    let ids: Vec<&str> = models["data"].as_array().unwrap().iter().filter_map(|m| m["id"].as_str()).collect();
    assert_eq!(ids, vec![MODEL], "wildcards are not listed by default");
    assert_eq!(models["data"][0]["created"], 1_677_610_602);
    let all = get(&gw, "/models?return_wildcard_routes=true", Some(KEY)).await.json();
    assert_eq!(all["data"].as_array().map(Vec::len), Some(2));
    let one = get(&gw, "/v1/models/fake-openai-endpoint", Some(KEY)).await;
    assert_eq!(one.status, StatusCode::OK);
    assert_eq!(one.json()["id"], MODEL);
    let missing = get(&gw, "/v1/models/nope", Some(KEY)).await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST);
    let info = get(&gw, "/model/info", Some(KEY)).await.json();
    assert_eq!(info["data"][0]["model_name"], MODEL);
    assert_eq!(info["data"][0]["litellm_params"]["model"], "fake/fake-openai-endpoint");
    assert_eq!(info["data"][0]["model_info"]["db_model"], false);
}

#[tokio::test]
async fn key_is_read_from_every_litellm_header() {
    let gw = start(base(), &[]).await;
    let bearer = format!("Bearer {KEY}");
    for header in [
        ("authorization", bearer.as_str()),
        ("x-api-key", KEY),
        ("api-key", KEY),
        ("x-litellm-api-key", KEY),
        ("x-litellm-api-key", bearer.as_str()),
    ] {
        let reply = send(&gw, Method::GET, "/v1/models", &[header], Bytes::new()).await;
        assert_eq!(reply.status, StatusCode::OK, "{header:?}");
    }
}

#[tokio::test]
async fn missing_wrong_and_malformed_keys_get_401_auth_error() {
    let gw = start(base(), &[]).await;
    let cases = [
        (vec![], "Authentication Error, No api key passed in."),
        (vec![("authorization", "Bearer sk-wrong")], "Authentication Error, Invalid proxy server token passed"),
        (
            vec![("authorization", "sk-1234")],
            "Authentication Error, Malformed API Key passed in. Ensure Key has `Bearer ` prefix.",
        ),
    ];
    for (headers, message) in cases {
        let reply = send(&gw, Method::POST, "/v1/chat/completions", &headers, chat(MODEL).to_string()).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
        let error = &reply.json()["error"];
        assert!(error["message"].as_str().unwrap().starts_with(message), "{error}");
        assert_eq!(error["type"], "auth_error");
        assert_eq!(error["code"], "401");
        assert!(!reply.text().contains("sk-1234"), "the key never appears in an error");
    }
}

#[tokio::test]
async fn bad_requests_get_openai_shaped_400s() {
    let gw = start(base(), &[]).await;
    let auth = [("authorization", "Bearer sk-1234")];
    let reply = send(&gw, Method::POST, "/v1/chat/completions", &auth, "{\"model\": \"x\", \"messa").await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    let error = reply.json()["error"].clone();
    assert_eq!(error["type"], "invalid_request_error");
    assert_eq!(error["param"], "request_body");
    assert!(error["message"].as_str().unwrap().starts_with("Invalid JSON payload: "));

    let reply = post(&gw, "/v1/chat/completions", Some(KEY), &json!({ "model": MODEL })).await;
    assert_eq!(reply.json()["error"]["message"], "/chat/completions: Missing required parameter: 'messages'.");
    let reply = post(&gw, "/v1/chat/completions", Some(KEY), &json!({ "messages": [] })).await;
    assert_eq!(reply.json()["error"]["param"], "model");

    let reply = post(&gw, "/v1/chat/completions", Some(KEY), &chat("nope")).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    let message = reply.json()["error"]["message"].as_str().unwrap().to_owned();
    assert!(
        message.starts_with("litellm.BadRequestError: You passed in model=nope. There are no healthy deployments"),
        "{message}"
    );
}

#[tokio::test]
async fn fake_429_model_is_relayed_as_a_rate_limit() {
    let gw = start(base(), &[]).await;
    let reply = post(&gw, "/v1/chat/completions", Some(KEY), &chat("fake/429")).await;
    assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS);
    let error = reply.json()["error"].clone();
    assert_eq!(error["type"], "throttling_error");
    assert_eq!(error["code"], "429");
    assert_eq!(error["message"], "litellm.RateLimitError: RateLimitError: OpenAIException - Too many requests");
}

#[tokio::test]
async fn unknown_paths_and_methods_answer_like_fastapi() {
    let gw = start(base(), &[]).await;
    let reply = get(&gw, "/nope", Some(KEY)).await;
    assert_eq!((reply.status, reply.json()), (StatusCode::NOT_FOUND, json!({ "detail": "Not Found" })));
    let reply = get(&gw, "/v1/chat/completions", Some(KEY)).await;
    assert_eq!(
        (reply.status, reply.json()),
        (StatusCode::METHOD_NOT_ALLOWED, json!({ "detail": "Method Not Allowed" }))
    );
    let reply = send(
        &gw,
        Method::OPTIONS,
        "/v1/chat/completions",
        &[("access-control-request-headers", "authorization")],
        Bytes::new(),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.header("access-control-allow-origin"), Some("*"));
    assert_eq!(reply.header("access-control-allow-headers"), Some("authorization"));
}

#[tokio::test]
async fn h2c_prior_knowledge_is_served() {
    use http_body_util::{BodyExt, Full};
    let gw = start(base(), &[]).await;
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .http2_only(true)
        .build_http::<Full<Bytes>>();
    let request =
        http::Request::get(format!("http://{}/health/liveliness", gw.addr)).body(Full::new(Bytes::new())).unwrap();
    let response = client.request(request).await.unwrap();
    assert_eq!(response.version(), http::Version::HTTP_2);
    assert_eq!(response.into_body().collect().await.unwrap().to_bytes(), Bytes::from_static(b"\"I'm alive!\""));
}

#[tokio::test]
async fn too_many_or_too_large_headers_get_431() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let gw = start(base(), &[]).await;
    let many = "x-repeated: v\r\n".repeat(150);
    let large = format!("x-big: {}\r\n", "a".repeat(100_000));
    for headers in [many, large] {
        let mut stream = tokio::net::TcpStream::connect(gw.addr).await.unwrap();
        let request = format!("GET /health/liveliness HTTP/1.1\r\nhost: x\r\n{headers}\r\n");
        let _ = stream.write_all(request.as_bytes()).await;
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer).await;
        assert!(String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 431"), "{}", String::from_utf8_lossy(&answer));
    }
}

#[tokio::test]
async fn connections_over_the_limit_get_503_and_are_closed() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let gw = common::start_with(base(), &[], |s| s.max_connections = 1).await;
    let mut first = tokio::net::TcpStream::connect(gw.addr).await.unwrap();
    first.write_all(b"GET /health/liveliness HTTP/1.1\r\nhost: x\r\n\r\n").await.unwrap();
    let mut answer = [0u8; 12];
    first.read_exact(&mut answer).await.unwrap();
    assert_eq!(&answer, b"HTTP/1.1 200", "the first connection is served and stays open");
    let mut second = tokio::net::TcpStream::connect(gw.addr).await.unwrap();
    let mut refused = Vec::new();
    second.read_to_end(&mut refused).await.unwrap();
    let refused = String::from_utf8_lossy(&refused);
    assert!(refused.starts_with("HTTP/1.1 503") && refused.contains("connection limit"), "{refused}");
    drop(first);
}
