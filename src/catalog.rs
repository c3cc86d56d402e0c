//! The answers that need no provider: `/v1/models`, `/model/info` (built at compile time,
//! no credentials), liveliness and readiness. Served straight from the compiled table.

use http::StatusCode;
use serde_json::{Value, json};

use crate::error::Error;
use crate::gateway::Gateway;
use crate::respond::{self, Body};
use crate::table::Group;

/// The gauge saying whether the shared state is on Redis (1) or in process (0); present
/// only when a Redis is configured. Its value follows.
const REDIS_GAUGE: &str = "# HELP model_router_redis_connected 1 while limits and cooldowns are shared through Redis, 0 while each replica counts alone.\n# TYPE model_router_redis_connected gauge\nmodel_router_redis_connected";

/// LiteLLM's constant `created` for listed models.
const MODEL_CREATED: u64 = 1_677_610_602;

fn model_entry(id: &str, group: &Group, gateway: &Gateway) -> Value {
    let mut entry = json!({ "id": id, "object": "model", "created": MODEL_CREATED, "owned_by": "openai" });
    if let Some(first) = group.deployments.first() {
        let info = gateway.table.deployment(*first).info;
        if let Some(mode) = info.mode {
            entry["mode"] = json!(mode);
        }
        if let Some(n) = info.max_input_tokens {
            entry["max_input_tokens"] = json!(n);
        }
        if let Some(n) = info.max_output_tokens {
            entry["max_output_tokens"] = json!(n);
        }
    }
    entry
}

/// Whether the caller's virtual key (if any) may call `name`: `/v1/models` lists only those.
fn visible(gateway: &Gateway, key: Option<u16>, name: &str) -> bool {
    key.is_none_or(|k| gateway.keys.allows(k, name))
}

/// `/v1/models`: aliases, then groups in config order; wildcard patterns only with
/// `?return_wildcard_routes=true`; only what the caller's key may call.
pub fn models(gateway: &Gateway, query: Option<&str>, key: Option<u16>) -> http::Response<Body> {
    let with_wildcards = query.is_some_and(|q| q.split('&').any(|p| p == "return_wildcard_routes=true"));
    let table = gateway.table;
    let aliases = table
        .aliases
        .iter()
        .filter(|a| !a.hidden && visible(gateway, key, a.alias))
        .map(|a| model_entry(a.alias, table.group(a.group), gateway));
    let groups = table
        .groups
        .iter()
        .filter(|g| (with_wildcards || !g.name.contains('*')) && visible(gateway, key, g.name))
        .map(|g| model_entry(g.name, g, gateway));
    let data: Vec<Value> = aliases.chain(groups).collect();
    respond::json(StatusCode::OK, &json!({ "data": data, "object": "list" }))
}

/// `/v1/models/{id}`: one listed model.
pub fn model(gateway: &Gateway, id: &str, key: Option<u16>) -> Result<http::Response<Body>, Error> {
    let table = gateway.table;
    let group = table.names.get(id).map(|g| table.group(*g)).filter(|g| !g.name.contains('*'));
    let group = group.filter(|_| visible(gateway, key, id));
    match group {
        Some(group) => Ok(respond::json(StatusCode::OK, &model_entry(id, group, gateway))),
        None => Err(Error::InvalidModel { route: "/models", model: id.to_owned() }),
    }
}

/// `/model/info`: each deployment's params (no credentials) and model info.
pub fn model_info(gateway: &Gateway) -> http::Response<Body> {
    let entries: Vec<&str> = gateway.table.deployments.iter().map(|d| d.info_json).collect();
    let body = format!("{{\"data\":[{}]}}", entries.join(","));
    respond::raw_json(StatusCode::OK, body.into())
}

/// `/health/liveliness`: the JSON string LiteLLM answers, or 503 while draining.
pub fn liveliness(gateway: &Gateway) -> http::Response<Body> {
    if gateway.is_draining() {
        return respond::json(StatusCode::SERVICE_UNAVAILABLE, &json!({ "status": "shutting_down" }));
    }
    respond::json(StatusCode::OK, &json!("I'm alive!"))
}

/// `/health/readiness`: healthy while not draining and some deployment can serve; names
/// the build (env, routes hash, version) and, with Redis, whether it answers (an outage
/// keeps readiness 200: each replica then counts alone).
pub fn readiness(gateway: &Gateway) -> http::Response<Body> {
    let table = gateway.table;
    let available =
        (0..table.deployments.len()).filter(|i| u16::try_from(*i).is_ok_and(|i| gateway.available(i))).count();
    let (status, word) = match (gateway.is_draining(), available) {
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
    if let (Some(up), Some(fields)) = (gateway.state.redis_connected(), body.as_object_mut()) {
        fields.insert("redis".into(), json!(if up { "connected" } else { "unreachable" }));
    }
    respond::json(status, &body)
}

/// `/metrics`: the Prometheus page, or 404 as LiteLLM answers without the `prometheus`
/// callback.
pub fn metrics(gateway: &Gateway) -> http::Response<Body> {
    if !gateway.metrics.enabled {
        return respond::detail(StatusCode::NOT_FOUND, "Not Found");
    }
    let mut page = gateway.metrics.render(gateway.table);
    page.push_str(&crate::keys::gauges::render(&gateway.keys));
    if let Some(up) = gateway.state.redis_connected() {
        page.push_str(REDIS_GAUGE);
        page.push_str(if up { " 1\n" } else { " 0\n" });
    }
    let mut response = http::Response::new(Body::full(page.into()));
    response
        .headers_mut()
        .insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"));
    response
}
