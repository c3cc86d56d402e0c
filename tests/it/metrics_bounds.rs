//! Hostile clients against `/metrics`: distinct huge keys in open mode, distinct long model
//! names behind a master key. The page stays within the stated bound and shows no raw key.

use crate::common;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use common::{post, start};
use http::{Method, StatusCode};
use http_body_util::BodyExt;
use model_router::metrics::{MAX_CLIENT_PAGE_BYTES, MAX_LABEL_BYTES};
use model_router::server::Running;
use model_router::table::{COMPILED, fixtures};
use serde_json::json;
use sha2::{Digest, Sha256};

/// The open-mode attack: this many requests, each with its own key of this many bytes.
const TOKENS: usize = 300;
const TOKEN_BYTES: usize = 60_000;
/// The master-mode attack: this many requests, each naming its own model of this many bytes.
const NAMES: usize = 1_000;
const NAME_BYTES: usize = 500;

/// Headers, build info, deployment health and overflow series of a fixture table: the part
/// of the page whose labels come from the routes alone.
const TABLE_PART: usize = 64 * 1024;
/// The stated bound on a page (README, `metrics::MAX_CLIENT_PAGE_BYTES`).
const BOUND: usize = MAX_CLIENT_PAGE_BYTES + TABLE_PART;
const PROXY_TOTAL: &str = "litellm_proxy_total_requests_metric_total";

/// A scrape: the page, its size and how long it took.
struct Scrape {
    page: String,
    bytes: usize,
    took: Duration,
}

/// Scrapes `/metrics`, counting every byte but keeping only the first `keep`.
async fn scrape(gw: &Running, key: Option<&str>, keep: usize) -> Scrape {
    let auth = key.map(|k| format!("Bearer {k}"));
    let headers: Vec<(&str, &str)> = auth.iter().map(|a| ("authorization", a.as_str())).collect();
    let started = Instant::now();
    let response = common::open(gw, Method::GET, "/metrics", &headers, bytes::Bytes::new()).await;
    assert_eq!(response.status(), StatusCode::OK);
    let mut body = response.into_body();
    let (mut kept, mut bytes) = (Vec::new(), 0);
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame.expect("page").into_data() {
            bytes += data.len();
            kept.extend_from_slice(&data[..data.len().min(keep.saturating_sub(kept.len()))]);
        }
    }
    Scrape { page: String::from_utf8(kept).expect("UTF-8 page"), bytes, took: started.elapsed() }
}

/// The process's resident set and its peak in KiB (the gateway runs in it), for the report only.
fn rss_kib() -> Option<(u64, u64)> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let field = |name: &str| status.lines().find(|l| l.starts_with(name))?.split_whitespace().nth(1)?.parse().ok();
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

fn chat(model: &str) -> serde_json::Value {
    json!({ "model": model, "messages": [{ "role": "user", "content": "hi" }] })
}

/// The values of `label` on the lines of `metric`.
fn values<'p>(page: &'p str, metric: &str, label: &str) -> Vec<&'p str> {
    let (metric, label) = (format!("{metric}{{"), format!("{label}=\""));
    page.lines()
        .filter(|l| l.starts_with(&metric))
        .filter_map(|l| l.split_once(&label)?.1.split_once('"').map(|(value, _)| value))
        .collect()
}

#[expect(clippy::print_stderr, reason = "the attack's figures, informational: shown with --no-capture")]
fn report(attack: &str, s: &Scrape, rss: [Option<(u64, u64)>; 3]) {
    eprintln!(
        "{attack}: page {} bytes in {:?}; (VmRSS, VmHWM) KiB before {:?}, after the requests {:?}, after the scrape {:?}",
        s.bytes, s.took, rss[0], rss[1], rss[2]
    );
}

#[tokio::test]
async fn open_mode_huge_distinct_keys_leave_a_bounded_page_without_them() {
    let gw = start(&fixtures::open::TABLE, &[]).await;
    let before = rss_kib();
    let filler = "A".repeat(TOKEN_BYTES - 12);
    let openai = format!("sk-proj-{}", "x7Q".repeat(52));
    let tokens = (0..TOKENS).map(|i| format!("sk-proj-{i:03}-{filler}"));
    for token in tokens.chain([openai.clone(), "myns/myagent".to_owned()]) {
        let reply = post(&gw, "/v1/chat/completions", Some(&token), &chat("gpt-4o-mini")).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        assert_eq!(reply.json()["model"], "gpt-4o-mini");
    }
    let after = rss_kib();
    let s = scrape(&gw, None, BOUND + 1).await;
    report("open mode, 300 distinct 60 KB keys", &s, [before, after, rss_kib()]);
    assert!(s.bytes <= BOUND, "a {} byte page", s.bytes);
    let page = &s.page;
    assert!(!page.contains("sk-proj") && !page.contains(&filler[..64]), "no key appears as sent");
    let keys: HashSet<&str> = values(page, PROXY_TOTAL, "hashed_api_key").into_iter().collect();
    assert!(keys.contains("myns/myagent"), "a namespace/agent name shows as sent");
    let hashed = model_router::table::hex(&Sha256::digest(openai.as_bytes()));
    assert!(keys.contains(hashed.as_str()), "an OpenAI key shows as its SHA-256");
    assert_eq!(keys.len(), TOKENS + 2, "distinct keys stay distinct: {keys:?}");
    assert!(keys.iter().all(|k| *k == "myns/myagent" || (k.len() == 64 && k.bytes().all(|b| b.is_ascii_hexdigit()))));
}

#[tokio::test]
async fn master_mode_long_distinct_models_leave_a_bounded_page() {
    let gw = start(COMPILED, &[]).await;
    let before = rss_kib();
    // Names alike but for their ends, so only the hash suffix can keep them apart.
    let filler = "m".repeat(NAME_BYTES - 9);
    for i in 0..NAMES {
        let model = format!("fake/{filler}{i:04}");
        let reply = post(&gw, "/v1/chat/completions", Some("sk-1234"), &chat(&model)).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        assert_eq!(reply.json()["model"], model.as_str(), "only the labels are cut, never the traffic");
    }
    let after = rss_kib();
    let s = scrape(&gw, Some("sk-1234"), BOUND + 1).await;
    report("master mode, 1,000 distinct 500-byte model names", &s, [before, after, rss_kib()]);
    assert!(s.bytes <= BOUND, "a {} byte page", s.bytes);
    let page = &s.page;
    assert!(!page.contains(&filler[..MAX_LABEL_BYTES]), "no name appears whole");
    let requested: HashSet<&str> = values(page, PROXY_TOTAL, "requested_model").into_iter().collect();
    assert_eq!(requested.len(), NAMES, "distinct names stay distinct");
    assert!(requested.iter().all(|r| r.len() <= MAX_LABEL_BYTES && r.starts_with("fake/mmm")), "{requested:?}");
    let models = values(page, "litellm_requests_metric_total", "requested_model");
    assert!(models.contains(&"__overflow__"), "the model family is full and overflows");
}
