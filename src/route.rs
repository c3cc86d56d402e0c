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
    /// OpenAI's Responses API (`/v1/responses` and the operations on a response, [`Op`]).
    Responses,
}

/// What a Responses API request does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `POST /responses`.
    Create,
    /// `POST /responses/input_tokens`.
    InputTokens,
    /// `GET /responses/{id}` (`?stream=true&starting_after=N` replays its events).
    Retrieve,
    /// `DELETE /responses/{id}`.
    Delete,
    /// `GET /responses/{id}/input_items`.
    InputItems,
    /// `POST /responses/{id}/cancel`.
    Cancel,
}

impl Op {
    /// The route of metrics and messages.
    pub const fn kind(self) -> Kind {
        match self {
            Op::Create => Kind::Responses,
            Op::InputTokens => Kind::ResponsesInputTokens,
            Op::Retrieve | Op::Delete => Kind::Response,
            Op::InputItems => Kind::ResponseInputItems,
            Op::Cancel => Kind::ResponseCancel,
        }
    }

    /// The route label of metrics and messages.
    pub fn route(self) -> &'static str {
        self.kind().as_str()
    }

    /// Whether the request carries a JSON body with a `model` (the others name a response).
    pub fn has_body(self) -> bool {
        matches!(self, Op::Create | Op::InputTokens)
    }
}

impl Api {
    /// The route of metrics and messages.
    pub const fn kind(self) -> Kind {
        match self {
            Api::Chat => Kind::Chat,
            Api::Completions => Kind::Completions,
            Api::Embeddings => Kind::Embeddings,
            Api::Messages => Kind::Messages,
            Api::Responses => Kind::Responses,
        }
    }

    /// The route name LiteLLM's messages start with.
    pub fn route(self) -> &'static str {
        self.kind().as_str()
    }
}

/// A model call's route: the `route` label of metrics, and the name LiteLLM's messages
/// start with. Defined here once, beside the endpoints that have them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Chat,
    Completions,
    Embeddings,
    Messages,
    /// `POST /v1/responses`.
    Responses,
    ResponsesInputTokens,
    /// Retrieving or deleting a response.
    Response,
    ResponseInputItems,
    ResponseCancel,
}

impl Kind {
    /// Today's label, as LiteLLM spells it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Kind::Chat => "/chat/completions",
            Kind::Completions => "/completions",
            Kind::Embeddings => "/embeddings",
            Kind::Messages => "/v1/messages",
            Kind::Responses => "/v1/responses",
            Kind::ResponsesInputTokens => "/v1/responses/input_tokens",
            Kind::Response => "/v1/responses/{response_id}",
            Kind::ResponseInputItems => "/v1/responses/{response_id}/input_items",
            Kind::ResponseCancel => "/v1/responses/{response_id}/cancel",
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
    /// A Responses API request: `id` names the response for the operations on one.
    Responses {
        op: Op,
        id: Option<String>,
    },
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
    /// The route of a model call (counted by metrics); `None` for the others.
    pub fn kind(&self) -> Option<Kind> {
        match self {
            Endpoint::Call { api, .. } => Some(api.kind()),
            Endpoint::Responses { op, .. } => Some(op.kind()),
            _ => None,
        }
    }

    /// Whether the endpoint needs the master key.
    pub fn needs_key(&self) -> bool {
        matches!(
            self,
            Endpoint::Call { .. }
                | Endpoint::Responses { .. }
                | Endpoint::Models
                | Endpoint::Model(_)
                | Endpoint::ModelInfo
                | Endpoint::KeyInfo
        )
    }
}

/// Maps a request line to its endpoint.
pub fn route(method: &Method, path: &str) -> Endpoint {
    if method == Method::OPTIONS {
        return Endpoint::Preflight;
    }
    let (endpoint, allowed) = match responses(method, path) {
        Some(found) => found,
        None => lookup(path),
    };
    match endpoint {
        Endpoint::NotFound => Endpoint::NotFound,
        _ if allowed == *method || (allowed == Method::GET && method == Method::HEAD) => endpoint,
        _ => Endpoint::MethodNotAllowed,
    }
}

/// The Responses API's endpoints, with and without `/v1`: `/responses/{id}` takes GET and
/// DELETE, so the method picks the operation. `None` for other paths.
fn responses(method: &Method, path: &str) -> Option<(Endpoint, Method)> {
    let rest = path.strip_prefix("/v1").unwrap_or(path).strip_prefix("/responses")?;
    let found = |op, id: Option<&str>, allowed| Some((Endpoint::Responses { op, id: id.map(str::to_owned) }, allowed));
    let Some(rest) = rest.strip_prefix('/') else {
        return if rest.is_empty() { found(Op::Create, None, Method::POST) } else { None };
    };
    if rest == "input_tokens" {
        return found(Op::InputTokens, None, Method::POST);
    }
    match rest.split_once('/') {
        None if !rest.is_empty() && method == Method::DELETE => found(Op::Delete, Some(rest), Method::DELETE),
        None if !rest.is_empty() => found(Op::Retrieve, Some(rest), Method::GET),
        Some((id, "input_items")) if !id.is_empty() => found(Op::InputItems, Some(id), Method::GET),
        Some((id, "cancel")) if !id.is_empty() => found(Op::Cancel, Some(id), Method::POST),
        _ => Some((Endpoint::NotFound, Method::GET)),
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
    fn responses_routes_at_root_and_v1() {
        let at = |method: &Method, path: &str| route(method, path);
        let op = |op, id: Option<&str>| Endpoint::Responses { op, id: id.map(str::to_owned) };
        for prefix in ["", "/v1"] {
            let path = |rest: &str| format!("{prefix}/responses{rest}");
            assert_eq!(at(&Method::POST, &path("")), op(Op::Create, None));
            assert_eq!(at(&Method::POST, &path("/input_tokens")), op(Op::InputTokens, None));
            assert_eq!(at(&Method::GET, &path("/resp_1")), op(Op::Retrieve, Some("resp_1")));
            assert_eq!(at(&Method::DELETE, &path("/resp_1")), op(Op::Delete, Some("resp_1")));
            assert_eq!(at(&Method::GET, &path("/resp_1/input_items")), op(Op::InputItems, Some("resp_1")));
            assert_eq!(at(&Method::POST, &path("/resp_1/cancel")), op(Op::Cancel, Some("resp_1")));
            assert_eq!(at(&Method::GET, &path("")), Endpoint::MethodNotAllowed);
            assert_eq!(at(&Method::POST, &path("/resp_1")), Endpoint::MethodNotAllowed);
            assert_eq!(at(&Method::GET, &path("/resp_1/nope")), Endpoint::NotFound);
            assert_eq!(at(&Method::GET, &path("//input_items")), Endpoint::NotFound);
        }
        assert_eq!(at(&Method::POST, "/responsesx"), Endpoint::NotFound);
        assert!(at(&Method::GET, "/v1/responses/resp_1").needs_key());
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

    #[test]
    fn route_kinds_keep_the_metric_labels() {
        let call = |api| Endpoint::Call { api, path_model: None }.kind().map(Kind::as_str);
        assert_eq!(call(Api::Chat), Some("/chat/completions"));
        assert_eq!(call(Api::Completions), Some("/completions"));
        assert_eq!(call(Api::Embeddings), Some("/embeddings"));
        assert_eq!(call(Api::Messages), Some("/v1/messages"));
        let op = |op| Endpoint::Responses { op, id: None }.kind().map(Kind::as_str);
        assert_eq!(op(Op::Create), Some("/v1/responses"));
        assert_eq!(op(Op::InputTokens), Some("/v1/responses/input_tokens"));
        assert_eq!(op(Op::Retrieve), Some("/v1/responses/{response_id}"));
        assert_eq!(op(Op::Delete), Some("/v1/responses/{response_id}"));
        assert_eq!(op(Op::InputItems), Some("/v1/responses/{response_id}/input_items"));
        assert_eq!(op(Op::Cancel), Some("/v1/responses/{response_id}/cancel"));
        assert_eq!(Endpoint::Models.kind(), None);
    }
}
