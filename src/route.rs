//! `(method, path)` → the endpoint that serves it, as LiteLLM lays its routes out. Pure;
//! the request goes on to `auth`.

use http::Method;

/// The model-serving APIs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    Chat,
    Completions,
    Embeddings,
    /// Anthropic's Messages API (`/v1/messages`): Anthropic format in and out.
    Messages,
}

impl Api {
    /// The route name LiteLLM's messages start with.
    pub fn route(self) -> &'static str {
        match self {
            Api::Chat => "/chat/completions",
            Api::Completions => "/completions",
            Api::Embeddings => "/embeddings",
            Api::Messages => "/v1/messages",
        }
    }
}

/// What a request asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// A model call; `path_model` is set by the Azure-style `/openai/deployments/{m}/...`
    /// and `/engines/{m}/...` forms.
    Call {
        api: Api,
        path_model: Option<String>,
    },
    Models,
    Model(String),
    ModelInfo,
    /// `/key/info`: the caller's virtual key (the master key names one with `?key=`).
    KeyInfo,
    /// Prometheus metrics.
    Metrics,
    Liveliness,
    Readiness,
    /// CORS pre-flight.
    Preflight,
    NotFound,
    MethodNotAllowed,
}

impl Endpoint {
    /// Whether the endpoint needs the master key.
    pub fn needs_key(&self) -> bool {
        matches!(
            self,
            Endpoint::Call { .. } | Endpoint::Models | Endpoint::Model(_) | Endpoint::ModelInfo | Endpoint::KeyInfo
        )
    }
}

/// Maps a request line to its endpoint.
pub fn route(method: &Method, path: &str) -> Endpoint {
    if method == Method::OPTIONS {
        return Endpoint::Preflight;
    }
    let (endpoint, allowed) = lookup(path);
    match endpoint {
        Endpoint::NotFound => Endpoint::NotFound,
        _ if allowed == *method || (allowed == Method::GET && method == Method::HEAD) => endpoint,
        _ => Endpoint::MethodNotAllowed,
    }
}

/// The endpoint at `path` and the one method it takes.
fn lookup(path: &str) -> (Endpoint, Method) {
    let call = |api| (Endpoint::Call { api, path_model: None }, Method::POST);
    match path {
        "/chat/completions" | "/v1/chat/completions" => return call(Api::Chat),
        "/completions" | "/v1/completions" => return call(Api::Completions),
        "/embeddings" | "/v1/embeddings" => return call(Api::Embeddings),
        "/v1/messages" => return call(Api::Messages),
        "/models" | "/v1/models" => return (Endpoint::Models, Method::GET),
        "/model/info" | "/v1/model/info" => return (Endpoint::ModelInfo, Method::GET),
        "/key/info" => return (Endpoint::KeyInfo, Method::GET),
        "/health/liveliness" | "/health/liveness" => return (Endpoint::Liveliness, Method::GET),
        "/health/readiness" => return (Endpoint::Readiness, Method::GET),
        "/metrics" | "/metrics/" => return (Endpoint::Metrics, Method::GET),
        _ => {}
    }
    if let Some(id) = path.strip_prefix("/v1/models/").or_else(|| path.strip_prefix("/models/")) {
        if !id.is_empty() {
            return (Endpoint::Model(id.to_owned()), Method::GET);
        }
    }
    let deployment = path.strip_prefix("/openai/deployments/").or_else(|| path.strip_prefix("/engines/"));
    if let Some((model, rest)) = deployment.and_then(|p| p.split_once('/')) {
        let api = match rest {
            "chat/completions" => Some(Api::Chat),
            "completions" => Some(Api::Completions),
            "embeddings" => Some(Api::Embeddings),
            _ => None,
        };
        if let Some(api) = api.filter(|_| !model.is_empty()) {
            return (Endpoint::Call { api, path_model: Some(model.to_owned()) }, Method::POST);
        }
    }
    (Endpoint::NotFound, Method::GET)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chat_routes_at_root_v1_and_azure_forms() {
        for path in ["/chat/completions", "/v1/chat/completions"] {
            assert_eq!(route(&Method::POST, path), Endpoint::Call { api: Api::Chat, path_model: None });
        }
        assert_eq!(
            route(&Method::POST, "/openai/deployments/gpt-4o/chat/completions"),
            Endpoint::Call { api: Api::Chat, path_model: Some("gpt-4o".into()) }
        );
        assert_eq!(route(&Method::POST, "/v1/messages"), Endpoint::Call { api: Api::Messages, path_model: None });
        assert_eq!(
            route(&Method::POST, "/engines/e1/embeddings"),
            Endpoint::Call { api: Api::Embeddings, path_model: Some("e1".into()) }
        );
    }

    #[test]
    fn model_ids_may_hold_slashes() {
        assert_eq!(route(&Method::GET, "/v1/models/openai/gpt-4o"), Endpoint::Model("openai/gpt-4o".into()));
    }

    #[test]
    fn wrong_method_and_unknown_path() {
        assert_eq!(route(&Method::GET, "/v1/chat/completions"), Endpoint::MethodNotAllowed);
        assert_eq!(route(&Method::POST, "/health/liveliness"), Endpoint::MethodNotAllowed);
        assert_eq!(route(&Method::GET, "/nope"), Endpoint::NotFound);
        assert_eq!(route(&Method::GET, "/openai/deployments//chat/completions"), Endpoint::NotFound);
        assert_eq!(route(&Method::HEAD, "/health/readiness"), Endpoint::Readiness);
    }

    #[test]
    fn only_model_endpoints_need_the_key() {
        assert!(route(&Method::GET, "/v1/models").needs_key());
        assert!(!route(&Method::GET, "/health/readiness").needs_key());
    }
}
