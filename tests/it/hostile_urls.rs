//! Hostile clients against providers whose URL carries the model: wildcard captures that
//! try to choose another operation, query, fragment or model (`?`, `#`, `/`, `..`, `%`,
//! whitespace, non-ASCII) get a 400 naming the model, and the mock upstream receives
//! nothing; nothing is counted against the deployment and no fallback runs. Beside them:
//! the caller's key never forwarded under any header name, an api_base's `user:password@`
//! never shown, and a provider error echoing the gateway's key or token relayed with `***`.

use crate::common;

use common::mock::{self, Answer, Mock};
use common::{get, post, send, start};
use http::{Method, StatusCode};
use model_router::gateway::Gateway;
use model_router::server::Running;
use model_router::settings::Settings;
use model_router::table::fixtures;
use serde_json::{Value, json};

const MASTER: &str = "sk-master-0123456789";
/// The key every deployment sends upstream; long enough to count as a secret.
const UPSTREAM_KEY: &str = "sk-upstream-0123456789";
const GEMINI_REPLY: &str = include_str!("../fixtures/translate/gemini/response.gemini.json");
const ANTHROPIC_REPLY: &str = include_str!("../fixtures/translate/anthropic/response.anthropic.json");
const KEY_FILE: &str = include_str!("../fixtures/vertex-test-service-account.json");
const VERTEX_TOKEN: &str = "ya29.hostile-test-token";

fn chat_reply() -> Value {
    json!({
        "id": "chatcmpl-up", "object": "chat.completion", "created": 1, "model": "up",
        "choices": [{ "index": 0, "message": { "role": "assistant", "content": "hi" }, "finish_reason": "stop" }],
        "usage": { "prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2 },
    })
}

fn fixed(body: &'static str) -> impl Fn(&mock::Seen) -> Answer + Send + Sync + 'static {
    move |_| Answer::Json { status: 200, body: body.to_owned(), headers: vec![] }
}

/// The gateway on the `hostile` routes with a mock behind every provider.
struct Setup {
    openai: Mock,
    gemini: Mock,
    anthropic: Mock,
    vertex: Mock,
    token: Mock,
    backup: Mock,
    gw: Running,
}

impl Setup {
    async fn new() -> Self {
        Self::with(mock::start(|_| Answer::ok(&chat_reply())).await, mock::start(fixed(GEMINI_REPLY)).await).await
    }

    async fn with(openai: Mock, gemini: Mock) -> Self {
        let anthropic = mock::start(fixed(ANTHROPIC_REPLY)).await;
        let vertex = mock::start(fixed(GEMINI_REPLY)).await;
        Self::build(openai, gemini, anthropic, vertex).await
    }

    async fn build(openai: Mock, gemini: Mock, anthropic: Mock, vertex: Mock) -> Self {
        let token = mock::start(|_| Answer::ok(&json!({ "access_token": VERTEX_TOKEN, "expires_in": 3600 }))).await;
        let backup = mock::start(|_| Answer::ok(&chat_reply())).await;
        let mut key: Value = serde_json::from_str(KEY_FILE).unwrap();
        key["token_uri"] = json!(format!("http://{}/token", token.addr));
        let key = key.to_string();
        let (base, backup_base) = (openai.base(), backup.base());
        let gemini_base = format!("http://{}/v1beta", gemini.addr);
        let anthropic_base = format!("http://{}", anthropic.addr);
        let vertex_host = format!("http://{}", vertex.addr);
        let userinfo_base = format!("http://user:hunter2@{}/v1", openai.addr);
        let vars = [
            ("TEST_MASTER_KEY", MASTER),
            ("MOCK_KEY", UPSTREAM_KEY),
            ("MOCK_BASE", base.as_str()),
            ("MOCK_BACKUP", backup_base.as_str()),
            ("MOCK_GEMINI_BASE", gemini_base.as_str()),
            ("MOCK_ANTHROPIC_BASE", anthropic_base.as_str()),
            ("MOCK_VERTEX_HOST", vertex_host.as_str()),
            ("MOCK_USERINFO_BASE", userinfo_base.as_str()),
            ("VERTEX_SA", key.as_str()),
        ];
        let gw = start(&fixtures::hostile::TABLE, &vars).await;
        Setup { openai, gemini, anthropic, vertex, token, backup, gw }
    }

    async fn chat(&self, model: &str) -> common::Reply {
        let body = json!({ "model": model, "messages": [{ "role": "user", "content": "hi" }] });
        post(&self.gw, "/v1/chat/completions", Some(MASTER), &body).await
    }

    /// Every path+query any provider mock received.
    fn upstream_paths(&self) -> Vec<String> {
        [&self.openai, &self.gemini, &self.anthropic, &self.vertex, &self.backup]
            .iter()
            .flat_map(|m| m.requests())
            .map(|s| s.path)
            .collect()
    }
}

/// A refusal: 400 `invalid_request_error` on `model`, naming it, quoting no upstream URL.
fn assert_refused(s: &Setup, model: &str, reply: &common::Reply) {
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{model:?}: {}", reply.text());
    let error = &reply.json()["error"];
    assert_eq!(error["type"], "invalid_request_error", "{model:?}: {error}");
    assert_eq!(error["param"], "model", "{model:?}: {error}");
    assert!(error["message"].as_str().unwrap().contains(&format!("model={model}")), "{model:?}: {error}");
    for m in [&s.openai, &s.gemini, &s.vertex] {
        assert!(!reply.text().contains(&m.addr.to_string()), "{model:?}: the error quotes an upstream URL");
    }
    assert_eq!(reply.header("x-litellm-attempted-fallbacks"), Some("0"), "{model:?}");
    assert_eq!(reply.header("x-litellm-attempted-retries"), Some("0"), "{model:?}");
}

#[tokio::test]
async fn an_azure_capture_cannot_choose_another_operation_query_or_fragment() {
    let s = Setup::new().await;
    for model in [
        "azure/dall-e-3/images/generations?api-version=2025-04-01-preview&",
        "azure/x#frag",
        "azure/x?api-version=1",
        "azure/..",
        "azure/x%2Fy",
        "azure/x y",
    ] {
        let reply = s.chat(model).await;
        assert_refused(&s, model, &reply);
    }
    assert_eq!(s.upstream_paths(), Vec::<String>::new(), "no provider, and no fallback, was called");

    let reply = s.chat("azure/my-deployment.v2").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let seen = s.openai.last();
    assert_eq!(seen.path, "/v1/openai/deployments/my-deployment.v2/chat/completions?api-version=2024-10-21");
    assert_eq!(seen.header("api-key"), Some(UPSTREAM_KEY));
}

#[tokio::test]
async fn a_gemini_capture_stays_one_model_segment() {
    let s = Setup::new().await;
    for model in [
        "gemini/gemini-2.0-flash:countTokens?",
        "gemini/gemini-2.0-flash:countTokens",
        "gemini/x#y",
        "gemini/tunedModels/x",
        "gemini/.",
        "gemini/a\\b",
        "gemini/gémini",
        "gemini/a\tb",
        "gemini/a\u{7f}b",
        "flash-x/../gemini-2.5-pro",
        "flash-x/y",
    ] {
        let reply = s.chat(model).await;
        assert_refused(&s, model, &reply);
    }
    let body = json!({ "model": "gemini/x?y", "max_tokens": 8, "messages": [{ "role": "user", "content": "hi" }] });
    let reply = post(&s.gw, "/v1/messages", Some(MASTER), &body).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.text());
    assert_eq!(reply.json()["error"]["type"], "invalid_request_error", "Anthropic's shape on /v1/messages");
    assert_eq!(s.upstream_paths(), Vec::<String>::new());

    assert_eq!(s.chat("flash-lite").await.status, StatusCode::OK);
    assert_eq!(s.gemini.last().path, "/v1beta/models/gemini-2.0-flash-lite:generateContent");
    assert_eq!(s.chat("gemini/gemini-2.5-pro").await.status, StatusCode::OK);
    assert_eq!(s.gemini.last().path, "/v1beta/models/gemini-2.5-pro:generateContent");
}

#[tokio::test]
async fn a_vertex_capture_gets_no_token_and_reaches_nothing() {
    let s = Setup::new().await;
    for model in ["vertex_ai/gemini-2.0-flash:countTokens?", "vertex_ai/../../locations/us/x", "vertex_ai/x y"] {
        let reply = s.chat(model).await;
        assert_refused(&s, model, &reply);
    }
    assert_eq!(s.upstream_paths(), Vec::<String>::new());
    assert_eq!(s.token.requests().len(), 0, "no service-account token was fetched for a refused name");

    assert_eq!(s.chat("vertex_ai/gemini-2.0-flash-001").await.status, StatusCode::OK);
    let seen = s.vertex.last();
    assert_eq!(
        seen.path,
        "/v1/projects/test-project/locations/europe-west4/publishers/google/models/gemini-2.0-flash-001:generateContent"
    );
    assert_eq!(seen.header("authorization"), Some(format!("Bearer {VERTEX_TOKEN}").as_str()));
}

#[tokio::test]
async fn an_unsendable_name_is_not_a_deployment_failure() {
    let s = Setup::new().await;
    for _ in 0..3 {
        let reply = s.chat("gemini/x y").await;
        assert_refused(&s, "gemini/x y", &reply);
    }
    assert_eq!(s.upstream_paths(), Vec::<String>::new(), "no fallback to backup");
    let page = get(&s.gw, "/metrics", None).await.text();
    let state: Vec<&str> = page.lines().filter(|l| l.starts_with("litellm_deployment_state{")).collect();
    assert!(state.iter().all(|l| l.ends_with(" 0")), "{state:?}");
    assert!(!page.lines().any(|l| l.starts_with("litellm_deployment_failure_responses_total{")), "{page}");
    assert!(!page.lines().any(|l| l.starts_with("litellm_deployment_cooled_down_total{")), "{page}");
    let reply = s.chat("gemini/gemini-2.0-flash").await;
    assert_eq!(reply.status, StatusCode::OK, "the deployment still serves: {}", reply.text());
    assert_eq!(s.gemini.last().path, "/v1beta/models/gemini-2.0-flash:generateContent");
}

#[tokio::test]
async fn a_refused_name_uses_up_no_capacity() {
    let s = Setup::new().await;
    for _ in 0..2 {
        let reply = s.chat("tight-x/../y").await;
        assert_refused(&s, "tight-x/../y", &reply);
    }
    let reply = s.chat("tight-lite").await;
    assert_eq!(reply.status, StatusCode::OK, "the one request a minute is still there: {}", reply.text());
    assert_eq!(s.upstream_paths(), ["/v1beta/models/gemini-2.0-flash-lite:generateContent"]);
}

#[tokio::test]
async fn a_configured_name_without_room_in_the_url_is_a_startup_warning() {
    let vars = [("MOCK_BASE", "http://127.0.0.1:9/v1"), ("MOCK_KEY", UPSTREAM_KEY), ("TEST_MASTER_KEY", MASTER)];
    let settings = Settings::from_vars(vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))).unwrap();
    let warnings = Gateway::new(&fixtures::hostile::TABLE, settings).unwrap().warnings();
    let expected = "Deployment 'bad-config' is misconfigured: model \"has space\" cannot go into the provider's URL: the name holds whitespace or control characters";
    assert!(warnings.iter().any(|w| w == expected), "{warnings:#?}");
}

#[tokio::test]
async fn body_carried_names_may_hold_anything_and_never_move_the_path() {
    let s = Setup::new().await;
    for model in ["openrouter/anthropic/claude-3", "openrouter/x?y#z/../ é"] {
        let reply = s.chat(model).await;
        assert_eq!(reply.status, StatusCode::OK, "{model}: {}", reply.text());
        let seen = s.openai.last();
        assert_eq!(seen.path, "/v1/chat/completions");
        assert_eq!(seen.json()["model"], model.trim_start_matches("openrouter/"));
    }
}

#[tokio::test]
async fn no_header_carrying_the_callers_key_is_forwarded() {
    let s = Setup::new().await;
    let body = json!({ "model": "gpt", "messages": [{ "role": "user", "content": "hi" }] }).to_string();
    let bearer = format!("Bearer {MASTER}");
    let headers = [
        ("content-type", "application/json"),
        ("X-Team-Key", MASTER),
        ("authorization", bearer.as_str()),
        ("x-api-key", MASTER),
        ("api-key", MASTER),
        ("x-litellm-api-key", MASTER),
        ("connection", "keep-alive, x-hop-secret"),
        ("x-hop-secret", "dropped"),
        ("x-keep", "kept"),
    ];
    for model in ["gpt", "claude"] {
        let body = body.replace("\"gpt\"", &format!("{model:?}"));
        let reply = send(&s.gw, Method::POST, "/v1/chat/completions", &headers, body).await;
        assert_eq!(reply.status, StatusCode::OK, "{model}: {}", reply.text());
    }
    for seen in [s.openai.last(), s.anthropic.last()] {
        assert_eq!(seen.header("x-keep"), Some("kept"), "forward_client_headers_to_llm_api is on");
        for name in ["x-team-key", "x-litellm-api-key", "x-hop-secret"] {
            assert_eq!(seen.header(name), None, "{name} reached {}", seen.path);
        }
        for (name, value) in &seen.headers {
            assert!(!value.to_str().unwrap_or_default().contains(MASTER), "{name} carried the caller's key");
        }
    }
    assert_eq!(s.openai.last().header("authorization"), Some(format!("Bearer {UPSTREAM_KEY}").as_str()));
    assert_eq!(s.anthropic.last().header("x-api-key"), Some(UPSTREAM_KEY));
}

#[tokio::test]
async fn the_api_base_is_shown_without_its_userinfo() {
    let s = Setup::new().await;
    let reply = s.chat("userinfo").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(reply.header("x-litellm-model-api-base"), Some(format!("http://{}/v1", s.openai.addr).as_str()));
    assert!(!format!("{:?}", reply.headers).contains("hunter2"));
}

/// A mock answering 401 with a message quoting the credential it received in `header`.
async fn echoing(header: &'static str) -> Mock {
    mock::start(move |seen| {
        let sent = seen.header(header).unwrap_or_default().to_owned();
        let body =
            json!({ "error": { "message": format!("Incorrect API key provided: {sent}. See docs."), "code": 401 } });
        Answer::Json { status: 401, body: body.to_string(), headers: vec![] }
    })
    .await
}

#[tokio::test]
async fn a_provider_error_echoing_the_gateways_credential_is_relayed_with_stars() {
    let openai = echoing("authorization").await;
    let gemini = echoing("x-goog-api-key").await;
    let anthropic = mock::start(fixed(ANTHROPIC_REPLY)).await;
    let vertex = echoing("authorization").await;
    let s = Setup::build(openai, gemini, anthropic, vertex).await;
    for (model, secret) in
        [("gpt", UPSTREAM_KEY), ("gemini/gemini-2.0-flash", UPSTREAM_KEY), ("vertex_ai/g", VERTEX_TOKEN)]
    {
        let reply = s.chat(model).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{model}: {}", reply.text());
        assert!(!reply.text().contains(secret), "{model}: {}", reply.text());
        let message = reply.json()["error"]["message"].as_str().unwrap().to_owned();
        assert!(message.contains("Incorrect API key provided: ") && message.contains("***. See docs."), "{message}");
    }
}
