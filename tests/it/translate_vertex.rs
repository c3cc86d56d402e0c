//! `vertex_ai/` deployments behind the OpenAI chat API, against a mock Vertex host and a
//! mock Google token endpoint: the token endpoint checks each JWT-bearer grant (form,
//! claims, RS256 signature against the test key's public half) and the Vertex mock records
//! the URL, the Bearer token and the translated body. Token caching, refresh, and the
//! errors of a refused grant or a missing or broken credential, none quoting a secret.
//!
//! The key is `tests/fixtures/vertex-test-service-account.json`, generated for these tests;
//! it belongs to no Google account and grants nothing.

use crate::common;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::mock::{self, Answer, Mock, Seen};
use common::{get, post, sse_events, start};
use http::StatusCode;
use model_router::server::Running;
use model_router::table::fixtures;
use ring::signature::{RSA_PKCS1_2048_8192_SHA256, RsaKeyPair, UnparsedPublicKey};
use rustls_pki_types::PrivatePkcs8KeyDer;
use rustls_pki_types::pem::PemObject;
use serde_json::{Value, json};

const KEY_FILE: &str = include_str!("../fixtures/vertex-test-service-account.json");
const OPENAI_REQUEST: &str = include_str!("../fixtures/translate/gemini/request.openai.json");
const GEMINI_REQUEST: &str = include_str!("../fixtures/translate/gemini/request.gemini.json");
const GEMINI_REPLY: &str = include_str!("../fixtures/translate/gemini/response.gemini.json");
const GEMINI_STREAM: &str = include_str!("../fixtures/translate/gemini/stream.gemini.sse");

const FLASH_PATH: &str = "/v1/projects/test-project/locations/europe-west4/publishers/google/models/gemini-2.0-flash";
const GLOBAL_PATH: &str = "/v1/projects/sa-project/locations/global/publishers/google/models/gemini-2.5-pro";
const CLIENT_EMAIL: &str = "model-router-test@sa-project.iam.gserviceaccount.com";
const SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";

fn parse(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

/// The test key as PEM.
fn private_key_pem() -> String {
    parse(KEY_FILE)["private_key"].as_str().unwrap().to_owned()
}

/// The test key's public half (PKCS#1 RSAPublicKey DER), as the token endpoint knows it.
fn public_key() -> Vec<u8> {
    let der = PrivatePkcs8KeyDer::from_pem_slice(private_key_pem().as_bytes()).unwrap();
    RsaKeyPair::from_pkcs8(der.secret_pkcs8_der()).unwrap().public().as_ref().to_vec()
}

/// The service-account JSON with its token_uri on the mock.
fn key_json(token: &Mock) -> String {
    let mut key = parse(KEY_FILE);
    key["token_uri"] = json!(format!("http://{}/token", token.addr));
    key.to_string()
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                out.push(u8::from_str_radix(&text[i + 1..i + 3], 16).unwrap());
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).unwrap()
}

fn form(body: &[u8]) -> HashMap<String, String> {
    std::str::from_utf8(body)
        .expect("a UTF-8 form")
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (percent_decode(k), percent_decode(v)))
        .collect()
}

fn jwt_part(part: &str) -> Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("a base64url JWT part")).expect("a JSON JWT part")
}

/// What a real token endpoint checks of a JWT-bearer grant; `Err` says what is wrong.
fn check_grant(seen: &Seen, public: &[u8]) -> Result<(), String> {
    if seen.path != "/token" || seen.header("content-type") != Some("application/x-www-form-urlencoded") {
        return Err(format!("not a form POST to /token: {} {:?}", seen.path, seen.header("content-type")));
    }
    let form = form(&seen.body);
    if form.get("grant_type").map(String::as_str) != Some("urn:ietf:params:oauth:grant-type:jwt-bearer") {
        return Err(format!("grant_type {:?}", form.get("grant_type")));
    }
    let jwt = form.get("assertion").ok_or("no assertion")?;
    let parts: Vec<&str> = jwt.split('.').collect();
    let [header, claims, signature] = parts[..] else { return Err(format!("not a JWT: {jwt}")) };
    let signature = URL_SAFE_NO_PAD.decode(signature).map_err(|e| e.to_string())?;
    UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, public)
        .verify(format!("{header}.{claims}").as_bytes(), &signature)
        .map_err(|_| "the RS256 signature does not verify".to_owned())?;
    let header = jwt_part(header);
    if header != json!({ "alg": "RS256", "typ": "JWT", "kid": "test-key-id-0001" }) {
        return Err(format!("header {header}"));
    }
    let claims = jwt_part(claims);
    let aud = format!("http://{}/token", seen.header("host").unwrap_or_default());
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
    let iat = claims["iat"].as_u64().unwrap_or_default();
    let claims_ok = claims["iss"] == CLIENT_EMAIL
        && claims["scope"] == SCOPE
        && claims["aud"] == aud.as_str()
        && claims["exp"].as_u64() == Some(iat + 3600)
        && iat.abs_diff(now) < 60;
    if claims_ok { Ok(()) } else { Err(format!("claims {claims}")) }
}

/// A token endpoint granting `ya29.test-token-N` (N counting grants) for `lifetime` seconds.
async fn token_endpoint(lifetime: u64) -> Mock {
    let public = public_key();
    let issued = Arc::new(AtomicUsize::new(0));
    mock::start(move |seen| match check_grant(seen, &public) {
        Ok(()) => {
            let n = issued.fetch_add(1, Ordering::SeqCst) + 1;
            Answer::ok(&json!({ "access_token": format!("ya29.test-token-{n}"), "expires_in": lifetime, "token_type": "Bearer" }))
        }
        Err(why) => Answer::Json {
            status: 400,
            body: json!({ "error": "test_rejected", "error_description": why }).to_string(),
            headers: vec![],
        },
    })
    .await
}

/// A Vertex host answering generateContent with the golden Gemini reply, streams with the
/// golden Gemini events.
async fn vertex_host() -> Mock {
    let events: Vec<String> =
        GEMINI_STREAM.split("\n\n").filter_map(|e| e.trim().strip_prefix("data: ").map(str::to_owned)).collect();
    mock::start(move |seen| {
        if seen.path.ends_with("?alt=sse") {
            Answer::Sse { events: events.clone(), gate: None }
        } else {
            Answer::Json { status: 200, body: GEMINI_REPLY.to_owned(), headers: vec![] }
        }
    })
    .await
}

/// A key file on disk for GOOGLE_APPLICATION_CREDENTIALS, removed when dropped.
struct KeyFile(PathBuf);

impl KeyFile {
    fn write(json: &str, tag: u16) -> Self {
        let path = std::env::temp_dir().join(format!("model-router-vertex-{}-{tag}.json", std::process::id()));
        std::fs::write(&path, json).unwrap();
        KeyFile(path)
    }

    fn path(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

impl Drop for KeyFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

struct Setup {
    token: Mock,
    vertex: Mock,
    gw: Running,
    _key_file: KeyFile,
}

impl Setup {
    async fn new(lifetime: u64) -> Self {
        let token = token_endpoint(lifetime).await;
        let vertex = vertex_host().await;
        let key = key_json(&token);
        let key_file = KeyFile::write(&key, token.addr.port());
        let host = format!("http://{}", vertex.addr);
        let vars = [
            ("VERTEX_SA", key.as_str()),
            ("GOOGLE_APPLICATION_CREDENTIALS", key_file.path()),
            ("MOCK_VERTEX_HOST", &host),
        ];
        let gw = start(&fixtures::vertex::TABLE, &vars).await;
        Setup { token, vertex, gw, _key_file: key_file }
    }

    fn grants(&self) -> usize {
        self.token.requests().len()
    }

    fn bearers(&self) -> Vec<String> {
        self.vertex.requests().iter().map(|s| s.header("authorization").unwrap_or_default().to_owned()).collect()
    }
}

fn chat(model: &str) -> Value {
    let mut body = parse(OPENAI_REQUEST);
    body["model"] = json!(model);
    body
}

#[tokio::test]
async fn chat_goes_to_the_vertex_url_with_a_bearer_token_and_the_gemini_body() {
    let s = Setup::new(3600).await;
    let reply = post(&s.gw, "/v1/chat/completions", Some("client-key"), &chat("vflash")).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());

    let seen = s.vertex.last();
    assert_eq!(seen.path, format!("{FLASH_PATH}:generateContent"));
    assert_eq!(seen.header("authorization"), Some("Bearer ya29.test-token-1"));
    assert_eq!(seen.header("x-goog-api-key"), None);
    assert_eq!(seen.json(), parse(GEMINI_REQUEST), "the golden generateContent request, as for gemini/");

    let got = reply.json();
    assert_eq!(got["model"], "vflash");
    assert_eq!(got["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(got["choices"][0]["message"]["tool_calls"].as_array().map(Vec::len), Some(2));
    assert_eq!(got["usage"]["completion_tokens_details"]["reasoning_tokens"], 8);
    assert_eq!(reply.header("x-litellm-model-name"), Some("vertex_ai/gemini-2.0-flash"));
    assert_eq!(s.grants(), 1);

    let info = get(&s.gw, "/model/info", None).await.text();
    assert!(info.contains("test-project") && info.contains("europe-west4"), "{info}");
    assert!(!info.contains("ya29") && !info.contains("PRIVATE KEY") && !info.contains("VERTEX_SA"), "{info}");
}

#[tokio::test]
async fn a_stream_becomes_openai_chunks() {
    let s = Setup::new(3600).await;
    let mut body = chat("vflash");
    body["stream"] = json!(true);
    body["stream_options"] = json!({ "include_usage": true });
    let reply = post(&s.gw, "/v1/chat/completions", None, &body).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());

    let seen = s.vertex.last();
    assert_eq!(seen.path, format!("{FLASH_PATH}:streamGenerateContent?alt=sse"));
    assert_eq!(seen.header("authorization"), Some("Bearer ya29.test-token-1"));

    let events = sse_events(&reply.text());
    assert_eq!(events.last().map(String::as_str), Some("[DONE]"));
    let chunks: Vec<Value> = events[..events.len() - 1].iter().map(|e| parse(e)).collect();
    assert!(chunks.iter().all(|c| c["model"] == "vflash" && c["object"] == "chat.completion.chunk"));
    let text: String = chunks.iter().filter_map(|c| c["choices"][0]["delta"]["content"].as_str()).collect();
    assert_eq!(text, "Let me check.");
    assert_eq!(chunks[3]["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(chunks[4]["usage"]["prompt_tokens"], 40);
}

#[tokio::test]
async fn the_messages_route_reaches_vertex_through_the_chat_translation() {
    let s = Setup::new(3600).await;
    let body = json!({ "model": "vflash", "max_tokens": 32, "system": "Be brief.", "messages": [{ "role": "user", "content": "Hi" }] });
    let reply = post(&s.gw, "/v1/messages", None, &body).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let seen = s.vertex.last();
    assert_eq!(seen.path, format!("{FLASH_PATH}:generateContent"));
    assert_eq!(seen.header("authorization"), Some("Bearer ya29.test-token-1"));
    assert_eq!(seen.json()["system_instruction"]["parts"][0]["text"], "Be brief.");
    let got = reply.json();
    assert_eq!((got["type"].as_str(), got["model"].as_str()), (Some("message"), Some("vflash")));
    assert_eq!(got["stop_reason"], "tool_use", "the golden reply calls tools");
}

#[tokio::test]
async fn one_token_serves_every_call_and_every_deployment_of_the_account() {
    let s = Setup::new(3600).await;
    // Four at once on a cold cache: they share the one grant the first of them asks for.
    let body = chat("vflash");
    let call = || post(&s.gw, "/v1/chat/completions", None, &body);
    let concurrent = tokio::join!(call(), call(), call(), call());
    for reply in [concurrent.0, concurrent.1, concurrent.2, concurrent.3] {
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    }
    for _ in 0..3 {
        let reply = post(&s.gw, "/v1/chat/completions", None, &chat("vflash")).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    }
    // Same key through GOOGLE_APPLICATION_CREDENTIALS: the same account, the same token.
    let reply = post(&s.gw, "/v1/chat/completions", None, &chat("vglobal")).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(s.vertex.last().path, format!("{GLOBAL_PATH}:generateContent"), "project from the key, global host");

    assert_eq!(s.grants(), 1, "one grant for eight calls");
    assert!(s.bearers().iter().all(|b| b == "Bearer ya29.test-token-1"), "{:?}", s.bearers());
}

#[tokio::test]
async fn a_token_granted_for_less_than_the_margin_is_refreshed_on_the_next_call() {
    let s = Setup::new(60).await;
    for _ in 0..3 {
        let reply = post(&s.gw, "/v1/chat/completions", None, &chat("vflash")).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    }
    assert_eq!(s.grants(), 3);
    assert_eq!(
        s.bearers(),
        ["Bearer ya29.test-token-1", "Bearer ya29.test-token-2", "Bearer ya29.test-token-3"].map(String::from)
    );
}

#[tokio::test]
async fn a_refused_grant_is_a_401_that_quotes_no_secret() {
    // The endpoint echoes the assertion back, as a careless one might.
    let token = mock::start(|seen| {
        let assertion = form(&seen.body).remove("assertion").unwrap_or_default();
        let body =
            json!({ "error": "invalid_grant", "error_description": format!("Invalid JWT Signature: {assertion}") });
        Answer::Json { status: 400, body: body.to_string(), headers: vec![] }
    })
    .await;
    let vertex = vertex_host().await;
    let key = key_json(&token);
    let host = format!("http://{}", vertex.addr);
    let gw = start(&fixtures::vertex::TABLE, &[("VERTEX_SA", key.as_str()), ("MOCK_VERTEX_HOST", &host)]).await;

    let reply = post(&gw, "/v1/chat/completions", None, &chat("vflash")).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{}", reply.text());
    let error = &reply.json()["error"];
    let message = error["message"].as_str().unwrap();
    assert!(message.starts_with("litellm.AuthenticationError: AuthenticationError: VertexAIException - "), "{message}");
    assert!(message.contains("could not get a Google access token") && message.contains("invalid_grant"), "{message}");
    assert!(message.contains("<assertion>"), "the echoed assertion is redacted: {message}");
    let text = reply.text();
    let key_line = private_key_pem().lines().nth(1).unwrap().to_owned();
    assert!(!text.contains("eyJ") && !text.contains("PRIVATE KEY") && !text.contains(&key_line), "{text}");
    assert_eq!(error["type"], "auth_error");
    assert!(vertex.requests().is_empty(), "no call without a token");
    assert_eq!(token.requests().len(), 1);
}

#[tokio::test]
async fn a_missing_or_broken_credential_makes_the_deployment_unavailable_with_a_clear_error() {
    let token = token_endpoint(3600).await;
    let vertex = vertex_host().await;
    let host = format!("http://{}", vertex.addr);
    let message = |reply: &common::Reply| reply.json()["error"]["message"].as_str().unwrap().to_owned();

    let gw = start(&fixtures::vertex::TABLE, &[("MOCK_VERTEX_HOST", &host)]).await;
    let reply = post(&gw, "/v1/chat/completions", None, &chat("vflash")).await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(message(&reply).contains("environment variable VERTEX_SA is not set"), "{}", message(&reply));
    let reply = post(&gw, "/v1/chat/completions", None, &chat("vglobal")).await;
    assert!(message(&reply).contains("GOOGLE_APPLICATION_CREDENTIALS is not set"), "{}", message(&reply));
    assert_eq!(get(&gw, "/health/readiness", None).await.status, StatusCode::SERVICE_UNAVAILABLE);

    let key_line = private_key_pem().lines().nth(1).unwrap().to_owned();
    let mut broken = parse(&key_json(&token));
    broken["private_key"] = json!(format!("-----BEGIN PRIVATE KEY-----\n{key_line}\n-----END PRIVATE KEY-----\n"));
    let broken = broken.to_string();
    let truncated = &key_json(&token)[..200];
    for (value, says) in [
        (broken.as_str(), "VERTEX_SA: private_key is not a usable RSA key"),
        (truncated, "VERTEX_SA is not a service-account JSON key: invalid JSON at line"),
        (
            "/nonexistent/vertex-key.json",
            "names the credential file /nonexistent/vertex-key.json, which cannot be read",
        ),
    ] {
        let gw = start(&fixtures::vertex::TABLE, &[("VERTEX_SA", value), ("MOCK_VERTEX_HOST", &host)]).await;
        let reply = post(&gw, "/v1/chat/completions", None, &chat("vflash")).await;
        assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE, "{}", reply.text());
        let got = message(&reply);
        assert!(got.starts_with("Deployment 'vflash' is misconfigured: ") && got.contains(says), "{got}");
        assert!(!got.contains(&key_line) && !got.contains("BEGIN"), "{got}");
    }
    assert!(token.requests().is_empty() && vertex.requests().is_empty());
}
