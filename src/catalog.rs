//! The answers that need no model call: `/v1/models` (the routes, wildcards expanded into
//! the models their provider offers), `/model/info` (built at compile time, no credentials,
//! completed from the price table), liveliness and readiness. Served from the compiled
//! tables; only a wildcard deployment with `model_info.check_provider_endpoint: true` asks
//! its provider ([`offered`]). Each answer reads its [`Context`], not the gateway.

pub mod key_info;
mod offered;

use std::borrow::Cow;
use std::collections::HashSet;

use http::StatusCode;
use serde_json::{Map, Value, json};

use crate::error::Error;
use crate::prices::{self, Entry};
use crate::provider::Endpoints;
use crate::report::Books;
use crate::respond::{self, Body};
use crate::table::{Deployment, Group, Table};
use crate::upstream;
pub use offered::Cache;

/// What the catalog's answers read: the compiled table, the deployments' endpoints (and the
/// client to ask a provider for its list, cached in `cache`), the keys, state and metrics in
/// the books, and whether the gateway is draining.
#[derive(Clone, Copy)]
pub struct Context<'a> {
    pub table: &'static Table,
    pub books: &'a Books,
    pub endpoints: &'a Endpoints,
    pub client: &'a upstream::Client,
    pub cache: &'a Cache,
    pub draining: bool,
}

/// The gauge saying whether the shared state is on Redis (1) or in process (0); present
/// only when a Redis is configured. Its value follows.
const REDIS_GAUGE: &str = "# HELP model_router_redis_connected 1 while limits and cooldowns are shared through Redis, 0 while each replica counts alone.\n# TYPE model_router_redis_connected gauge\nmodel_router_redis_connected";

/// LiteLLM's constant `created` for listed models.
const MODEL_CREATED: u64 = 1_677_610_602;

/// A `/v1/models` entry; `mode` and the context window only where they are known.
fn entry(id: &str, mode: Option<&str>, max_input: Option<u64>, max_output: Option<u64>) -> Value {
    let mut entry = json!({ "id": id, "object": "model", "created": MODEL_CREATED, "owned_by": "openai" });
    if let Some(mode) = mode {
        entry["mode"] = json!(mode);
    }
    if let Some(n) = max_input {
        entry["max_input_tokens"] = json!(n);
    }
    if let Some(n) = max_output {
        entry["max_output_tokens"] = json!(n);
    }
    entry
}

/// Whether the caller's virtual key (if any) may call `name`: `/v1/models` lists only those.
fn visible(cx: &Context<'_>, key: Option<u16>, name: &str) -> bool {
    key.is_none_or(|k| cx.books.keys.allows(k, name))
}

/// The price table's row for what deployment `d` calls, unless it is a wildcard.
fn row(d: &Deployment) -> Option<&'static Entry> {
    (!d.upstream_model.contains('*')).then(|| prices::lookup(d.provider, d.upstream_model)).flatten()
}

/// A group's entry: its first deployment's `model_info`, completed from the price table.
fn model_entry(id: &str, group: &Group, cx: &Context<'_>) -> Value {
    let Some(first) = group.deployments.first() else { return entry(id, None, None, None) };
    let d = cx.table.deployment(*first);
    let (info, row) = (d.info, row(d));
    entry(
        id,
        info.mode.or_else(|| row.map(Entry::mode)),
        info.max_input_tokens.or_else(|| row.and_then(Entry::max_input_tokens)),
        info.max_output_tokens.or_else(|| row.and_then(Entry::max_output_tokens)),
    )
}

/// `/v1/models`: aliases, then groups in config order, then what each wildcard group
/// offers ([`wildcard_models`]); the wildcard patterns themselves only with
/// `?return_wildcard_routes=true`. A name is listed once, and only if the caller's key may
/// call it.
pub async fn models(cx: Context<'_>, query: Option<&str>, key: Option<u16>) -> http::Response<Body> {
    let with_wildcards = query.is_some_and(|q| q.split('&').any(|p| p == "return_wildcard_routes=true"));
    let table = cx.table;
    let aliases = table
        .aliases
        .iter()
        .filter(|a| !a.hidden && visible(&cx, key, a.alias))
        .map(|a| (a.alias, model_entry(a.alias, table.group(a.group), &cx)));
    let groups = table
        .groups
        .iter()
        .filter(|g| !g.name.contains('*') && visible(&cx, key, g.name))
        .map(|g| (g.name, model_entry(g.name, g, &cx)));
    let mut seen = HashSet::new();
    let mut data: Vec<Value> =
        aliases.chain(groups).filter(|(id, _)| seen.insert((*id).to_owned())).map(|(_, e)| e).collect();
    for group in table.groups.iter().filter(|g| g.name.contains('*')) {
        if with_wildcards && visible(&cx, key, group.name) && seen.insert(group.name.to_owned()) {
            data.push(model_entry(group.name, group, &cx));
        }
        for (id, row) in wildcard_models(cx, group).await {
            if visible(&cx, key, &id) && seen.insert(id.clone()) {
                data.push(entry(
                    &id,
                    row.map(Entry::mode),
                    row.and_then(Entry::max_input_tokens),
                    row.and_then(Entry::max_output_tokens),
                ));
            }
        }
    }
    respond::json(StatusCode::OK, &json!({ "data": data, "object": "list" }))
}

/// Whether deployment `d` lists its provider's own models: `model_info.check_provider_endpoint:
/// true`, or LiteLLM's `litellm_settings.check_provider_endpoint` for every deployment.
fn checks_provider_endpoint(cx: &Context<'_>, d: &Deployment) -> bool {
    if cx.table.router.check_provider_endpoint {
        return true;
    }
    let info: Option<Value> = serde_json::from_str(d.info_json).ok();
    info.is_some_and(|v| v.pointer("/model_info/check_provider_endpoint") == Some(&Value::Bool(true)))
}

/// The names a wildcard group serves, as LiteLLM expands wildcards with its cost map: for
/// each deployment whose model has one `*` (`openai/*`, `anthropic/claude-*`), every model
/// its provider offers that the `*` can stand for, put into the group's own pattern (`*`
/// lists `gpt-4o`; `fake/*` → `openai/*` lists `fake/gpt-4o`). What the provider offers is
/// the price table's models of that provider, or with `check_provider_endpoint` its own
/// list (the table's while that fails). Each name comes with its table row, if any.
async fn wildcard_models(cx: Context<'_>, group: &Group) -> Vec<(String, Option<&'static Entry>)> {
    let mut listed = Vec::new();
    if group.name.matches('*').count() != 1 {
        return listed;
    }
    for &index in group.deployments {
        let d = cx.table.deployment(index);
        let Some((before, after)) = d.upstream_model.split_once('*').filter(|(_, after)| !after.contains('*')) else {
            continue;
        };
        let own = if checks_provider_endpoint(&cx, d) { cx.cache.models(cx, index).await } else { None };
        let offered: Vec<(Cow<'_, str>, Option<&'static Entry>)> = match &own {
            Some(ids) => ids.iter().map(|id| (Cow::Borrowed(id.as_str()), prices::lookup(d.provider, id))).collect(),
            None => prices::models_of(d.provider).into_iter().map(|(id, row)| (Cow::Borrowed(id), Some(row))).collect(),
        };
        for (model, row) in offered {
            let capture = model.strip_prefix(before).and_then(|rest| rest.strip_suffix(after));
            if let Some(capture) = capture.filter(|c| !c.is_empty()) {
                listed.push((group.name.replacen('*', capture, 1), row));
            }
        }
    }
    listed
}

/// `/v1/models/{id}`: one listed model.
pub fn model(cx: &Context<'_>, id: &str, key: Option<u16>) -> Result<http::Response<Body>, Error> {
    let table = cx.table;
    let group = table.names.get(id).map(|g| table.group(*g)).filter(|g| !g.name.contains('*'));
    let group = group.filter(|_| visible(cx, key, id));
    match group {
        Some(group) => Ok(respond::json(StatusCode::OK, &model_entry(id, group, cx))),
        None => Err(Error::InvalidModel { route: "/models", model: id.to_owned() }),
    }
}

/// `/model/info`: each deployment's params (no credentials) and model info.
pub fn model_info(cx: &Context<'_>) -> http::Response<Body> {
    let entries: Vec<Cow<'_, str>> = cx.table.deployments.iter().map(info_entry).collect();
    let body = format!("{{\"data\":[{}]}}", entries.join(","));
    respond::raw_json(StatusCode::OK, body.into())
}

/// Deployment `d`'s `/model/info` entry: its compiled JSON, with the price table's fields
/// for its model added to `model_info` where the deployment's own do not set them.
fn info_entry(d: &Deployment) -> Cow<'static, str> {
    let Some((key, row)) =
        (!d.upstream_model.contains('*')).then(|| prices::find(d.provider, d.upstream_model)).flatten()
    else {
        return Cow::Borrowed(d.info_json);
    };
    let Ok(mut entry) = serde_json::from_str::<Value>(d.info_json) else { return Cow::Borrowed(d.info_json) };
    let Some(info) = entry.get_mut("model_info").and_then(Value::as_object_mut) else {
        return Cow::Borrowed(d.info_json);
    };
    for (name, value) in table_fields(key, row) {
        info.entry(name).or_insert(value);
    }
    Cow::Owned(entry.to_string())
}

/// A table row as LiteLLM's `model_info` fields (`max_tokens` is the output maximum, else
/// the input one); unknown values are left out.
fn table_fields(key: &str, row: &Entry) -> Map<String, Value> {
    let mut fields = Map::new();
    let mut put = |name: &str, value: Option<Value>| {
        if let Some(value) = value {
            fields.insert(name.to_owned(), value);
        }
    };
    put("key", Some(json!(key)));
    put("litellm_provider", Some(json!(row.provider())));
    put("mode", Some(json!(row.mode())));
    put("max_tokens", row.max_output_tokens().or_else(|| row.max_input_tokens()).map(|n| json!(n)));
    put("max_input_tokens", row.max_input_tokens().map(|n| json!(n)));
    put("max_output_tokens", row.max_output_tokens().map(|n| json!(n)));
    put("input_cost_per_token", row.input_cost_per_token().map(|c| json!(c)));
    put("output_cost_per_token", row.output_cost_per_token().map(|c| json!(c)));
    put("cache_read_input_token_cost", row.cache_read_input_token_cost().map(|c| json!(c)));
    put("cache_creation_input_token_cost", row.cache_creation_input_token_cost().map(|c| json!(c)));
    fields
}

/// `/health/liveliness`: the JSON string LiteLLM answers, or 503 while draining.
pub fn liveliness(cx: &Context<'_>) -> http::Response<Body> {
    if cx.draining {
        return respond::json(StatusCode::SERVICE_UNAVAILABLE, &json!({ "status": "shutting_down" }));
    }
    respond::json(StatusCode::OK, &json!("I'm alive!"))
}

/// `/health/readiness`: healthy while not draining and some deployment can serve; names
/// the build (env, routes hash, version) and, with Redis, whether it answers (an outage
/// keeps readiness 200: each replica then counts alone).
pub fn readiness(cx: &Context<'_>) -> http::Response<Body> {
    let table = cx.table;
    let available =
        (0..table.deployments.len()).filter(|i| u16::try_from(*i).is_ok_and(|i| cx.endpoints.available(i))).count();
    let (status, word) = match (cx.draining, available) {
        (true, _) => (StatusCode::SERVICE_UNAVAILABLE, "shutting_down"),
        (false, 0) => (StatusCode::SERVICE_UNAVAILABLE, "unhealthy"),
        (false, _) => (StatusCode::OK, "healthy"),
    };
    let mut body = json!({
        "status": word,
        "db": "Not connected",
        "cache": null,
        "litellm_version": env!("CARGO_PKG_VERSION"),
        "model_router_version": env!("CARGO_PKG_VERSION"),
        "env": table.env,
        "routes_sha256": table.routes_sha256,
        "deployments_available": available,
        "deployments_total": table.deployments.len(),
        "success_callbacks": table.router.callbacks,
    });
    if let (Some(up), Some(fields)) = (cx.books.state.redis_connected(), body.as_object_mut()) {
        fields.insert("redis".into(), json!(if up { "connected" } else { "unreachable" }));
    }
    respond::json(status, &body)
}

/// `/metrics`: the Prometheus page, or 404 as LiteLLM answers without the `prometheus`
/// callback.
pub fn metrics(cx: &Context<'_>) -> http::Response<Body> {
    if !cx.books.metrics.enabled {
        return respond::detail(StatusCode::NOT_FOUND, "Not Found");
    }
    let mut page = cx.books.metrics.render(cx.table);
    page.push_str(&crate::keys::gauges::render(&cx.books.keys));
    if let Some(up) = cx.books.state.redis_connected() {
        page.push_str(REDIS_GAUGE);
        page.push_str(if up { " 1\n" } else { " 0\n" });
    }
    let mut response = http::Response::new(Body::full(page.into()));
    response
        .headers_mut()
        .insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"));
    response
}
