//! What the gateway lists and prices from LiteLLM's cost map (the compiled price table):
//! `/v1/models` on wildcard routes, from the table or the provider's own `/models`, and the
//! cost of a call to a model the old hand-written list did not have, in the response
//! header and in the spend metric.

use crate::common;

use common::mock::{self, Answer, Mock};
use common::{get, post, start};
use http::StatusCode;
use model_router::server::Running;
use model_router::table::{Table, fixtures};
use serde_json::{Value, json};

const KEY: &str = "sk-upstream-secret";

async fn gateway(table: &'static Table, mock: &Mock) -> Running {
    start(table, &[("MOCK_BASE", &mock.base()), ("MOCK_KEY", KEY)]).await
}

fn ids(reply: &Value) -> Vec<String> {
    reply["data"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap().to_owned()).collect()
}

fn listed<'a>(reply: &'a Value, id: &str) -> &'a Value {
    reply["data"].as_array().unwrap().iter().find(|m| m["id"] == id).unwrap_or_else(|| panic!("{id} not listed"))
}

#[tokio::test]
async fn wildcards_list_the_providers_models_from_the_price_table() {
    let mock = mock::start(|_| Answer::ok(&json!({}))).await;
    let gw = gateway(&fixtures::prices_wildcard::TABLE, &mock).await;
    let reply = get(&gw, "/v1/models", None).await;
    assert_eq!(reply.status, StatusCode::OK);
    let reply = reply.json();
    let names = ids(&reply);
    for id in ["gpt-4o", "gpt-4o-mini", "text-embedding-3-small", "anthropic/claude-sonnet-4-5"] {
        assert!(names.contains(&id.to_owned()), "{id} in {names:?}");
    }
    assert!(names.len() > 100, "every chat and embedding model of both providers: {}", names.len());
    assert!(!names.iter().any(|id| id.contains('*') || id.starts_with("ft:")), "{names:?}");
    assert!(!names.iter().any(|id| id == "dall-e-3"), "only models of the modes the gateway serves");
    assert!(!names.iter().any(|id| id == "claude-sonnet-4-5"), "Anthropic's models under their own pattern");
    let sonnet = listed(&reply, "anthropic/claude-sonnet-4-5");
    assert_eq!(
        (&sonnet["mode"], &sonnet["max_input_tokens"], &sonnet["max_output_tokens"]),
        (&json!("chat"), &json!(200_000), &json!(64_000))
    );
    assert_eq!(listed(&reply, "text-embedding-3-small")["mode"], "embedding");
    let patterns = ids(&get(&gw, "/v1/models?return_wildcard_routes=true", None).await.json());
    assert!(patterns.contains(&"*".to_owned()) && patterns.contains(&"anthropic/*".to_owned()), "{patterns:?}");
    assert!(mock.requests().is_empty(), "the table needs no provider call");
}

#[tokio::test]
async fn check_provider_endpoint_lists_the_providers_own_models_cached() {
    let mock = mock::start(|seen| {
        assert_eq!(seen.path, "/v1/models", "only the model list is asked for");
        Answer::ok(&json!({ "object": "list", "data": [
            { "id": "gpt-4o", "object": "model", "owned_by": "openai" },
            { "id": "my-org-finetune", "object": "model", "owned_by": "me" },
        ] }))
    })
    .await;
    let gw = gateway(&fixtures::prices_provider_list::TABLE, &mock).await;
    let reply = get(&gw, "/v1/models", None).await.json();
    assert_eq!(ids(&reply), ["gpt-4o", "my-org-finetune"], "the provider's list, not the table's");
    assert_eq!(listed(&reply, "gpt-4o")["max_input_tokens"], 128_000, "known models keep the table's window");
    assert_eq!(listed(&reply, "my-org-finetune").get("mode"), None);
    assert_eq!(ids(&get(&gw, "/v1/models", None).await.json()), ["gpt-4o", "my-org-finetune"]);
    let seen = mock.requests();
    assert_eq!(seen.len(), 1, "the second listing came from the cache");
    assert_eq!(seen[0].header("authorization"), Some(format!("Bearer {KEY}").as_str()));
}

#[tokio::test]
async fn a_failing_provider_list_falls_back_to_the_price_table() {
    let mock = mock::start(|_| Answer::Json { status: 500, body: "{}".into(), headers: vec![] }).await;
    // LiteLLM's litellm_settings.check_provider_endpoint, for every wildcard deployment.
    let gw = gateway(&fixtures::prices_provider_setting::TABLE, &mock).await;
    let reply = get(&gw, "/v1/models", None).await;
    assert_eq!(reply.status, StatusCode::OK);
    let names = ids(&reply.json());
    assert!(names.contains(&"gpt-4o".to_owned()) && names.len() > 50, "{names:?}");
    get(&gw, "/v1/models", None).await;
    let seen = mock.requests();
    assert_eq!(seen.len(), 1, "a failed provider is not asked again at once");
    assert_eq!(seen[0].path, "/v1/models");
}

#[tokio::test]
async fn a_model_the_old_list_lacked_is_priced_in_the_header_and_the_spend_metric() {
    let mock = mock::start(|seen| {
        let model = seen.json()["model"].clone();
        Answer::ok(&json!({
            "id": "c", "object": "chat.completion", "created": 1, "model": model,
            "choices": [{ "index": 0, "message": { "role": "assistant", "content": "ok" }, "finish_reason": "stop" }],
            "usage": { "prompt_tokens": 1000, "completion_tokens": 100, "total_tokens": 1100 },
        }))
    })
    .await;
    let gw = gateway(&fixtures::prices_wildcard::TABLE, &mock).await;
    let body = json!({ "model": "gpt-4o-2024-08-06", "messages": [{ "role": "user", "content": "hi" }] });
    let reply = post(&gw, "/v1/chat/completions", None, &body).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(mock.last().json()["model"], "gpt-4o-2024-08-06");
    // LiteLLM's cost map: $2.50 per million input tokens, $10 per million output.
    let expected = 1000.0 * 2.5e-6 + 100.0 * 1e-5;
    let header: f64 = reply.header("x-litellm-response-cost").expect("priced").parse().unwrap();
    assert!((header - expected).abs() < 1e-12, "{header} != {expected}");
    let page = get(&gw, "/metrics", None).await.text();
    let spend: Vec<&str> = page
        .lines()
        .filter(|l| l.starts_with("litellm_spend_metric_total{") && l.contains("model=\"gpt-4o-2024-08-06\""))
        .collect();
    assert_eq!(spend.len(), 1, "{page}");
    let metric: f64 = spend[0].rsplit(' ').next().unwrap().parse().unwrap();
    assert!((metric - expected).abs() < 1e-12, "{metric}");
}

#[tokio::test]
async fn model_info_and_listed_windows_come_from_the_table_under_the_deployments_own() {
    let mock = mock::start(|_| Answer::ok(&json!({}))).await;
    let gw = gateway(&fixtures::prices_wildcard::TABLE, &mock).await;
    let info = get(&gw, "/model/info", None).await;
    assert_eq!(info.status, StatusCode::OK);
    assert!(!info.text().contains(KEY), "no credentials");
    let info = info.json();
    let mini = info["data"].as_array().unwrap().iter().find(|d| d["model_name"] == "mini").unwrap();
    let fields = &mini["model_info"];
    assert_eq!(fields["max_output_tokens"], 1000, "the deployment's own model_info wins");
    assert_eq!((&fields["max_input_tokens"], &fields["mode"]), (&json!(128_000), &json!("chat")));
    assert_eq!((&fields["key"], &fields["litellm_provider"]), (&json!("gpt-4o-mini"), &json!("openai")));
    assert_eq!(fields["input_cost_per_token"], 1.5e-7);
    assert_eq!(fields["output_cost_per_token"], 6e-7);
    let listed_mini = get(&gw, "/v1/models", None).await.json();
    let entry = listed(&listed_mini, "mini");
    assert_eq!((&entry["max_input_tokens"], &entry["max_output_tokens"]), (&json!(128_000), &json!(1000)));
    assert_eq!(ids(&listed_mini)[0], "mini", "groups first, then what the wildcards offer");
    assert!(mock.requests().is_empty());
}
