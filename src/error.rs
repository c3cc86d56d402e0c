//! The one error type, grouped by source (client, upstream, internal), and its single
//! mapping to an HTTP status and LiteLLM's OpenAI-shaped body. `respond` turns it into the
//! response and the request's log line; nothing else logs it.

use http::StatusCode;

use crate::quota;

/// Everything that can stop a request.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    // ---- client: the request is wrong ----
    #[error("Authentication Error, No api key passed in.")]
    NoKey,
    #[error("Authentication Error, Malformed API Key passed in. Ensure Key has `Bearer ` prefix.")]
    MalformedKey,
    #[error("Authentication Error, Invalid proxy server token passed. Check the key or ask the platform team for one.")]
    WrongKey,
    #[error("Authentication Error - Expired Key. Key Expiry time {expires} and current time {now}")]
    ExpiredKey { expires: String, now: String },
    #[error("key not allowed to access model. This key can only access models={models}. Tried to access {model}")]
    KeyModel { models: String, model: String },
    #[error("Team not allowed to access model. Team={team}, Model={model}. Allowed team models = {models}")]
    TeamModel { team: &'static str, model: String, models: String },
    /// A key's or team's spend reached its `max_budget` this period.
    #[error("Budget has been exceeded! {}Current cost: {}, Max budget: {}", team.map(|t| format!("Team={t} ")).unwrap_or_default(), quota::python_float(*spend), quota::python_float(*max))]
    BudgetExceeded { team: Option<&'static str>, spend: f64, max: f64 },
    /// A key or team at its `rpm_limit`, `tpm_limit` or `max_parallel_requests`.
    #[error("{0}")]
    KeyLimited(Box<quota::LimitHit>),
    #[error("Authentication Error, a key may only see its own /key/info; the master key names any alias with ?key=")]
    KeyInfoDenied,
    #[error("Key not found: no virtual key has the alias {alias}")]
    UnknownKey { alias: String },
    #[error("Invalid JSON payload: {0}")]
    BadJson(String),
    #[error("{route}: Missing required parameter: '{param}'.")]
    MissingParam { route: &'static str, param: &'static str },
    #[error("{route}: Invalid value for '{param}': {reason}")]
    BadParam { route: &'static str, param: &'static str, reason: String },
    #[error(
        "{route}: Invalid model name passed in model={model}. Call `/v1/models` to view available models for your key."
    )]
    InvalidModel { route: &'static str, model: String },
    #[error(
        "litellm.BadRequestError: You passed in model={model}. There are no healthy deployments for this model. Received Model Group={model}\nAvailable Model Group Fallbacks=None"
    )]
    NoDeployment { model: String },
    #[error("Request size is too large. Request size is over {limit_mb} MB. Max size is {limit_mb} MB")]
    TooLarge { limit_mb: u64 },
    /// A request whose body, or the JSON tree its translation builds, is larger than the
    /// whole memory budget for request bodies, so it could never be served.
    #[error(
        "Request too large to hold: it needs about {need_mb} MiB of memory, more than the {budget_mb} MiB model-router holds for request bodies (MODEL_ROUTER_BODY_BUDGET_MB)"
    )]
    OverBudget { need_mb: u64, budget_mb: u64 },
    #[error("Request body could not be read: {0}")]
    BodyRead(String),
    #[error("The request was not received in time.")]
    ClientTimeout,
    /// OpenAI parameters a translated provider cannot take (`params` as Python prints a list).
    #[error(
        "litellm.UnsupportedParamsError: {provider} does not support parameters: {params}, for model={model}. To drop these, set `litellm.drop_params=True` or for proxy:\n\n`litellm_settings:\n drop_params: true`\n"
    )]
    UnsupportedParams { provider: &'static str, model: String, params: String },
    #[error(
        "litellm.BadRequestError: {route} is not supported for {provider}/ deployments (model={model}); only /chat/completions is translated"
    )]
    UnsupportedApi { route: &'static str, provider: &'static str, model: String },
    /// A requested model that cannot go into the deployment's upstream URL (`/`, `..`, `?`,
    /// `#`, `%`, whitespace, ...; `reason` says which). Refused before any attempt, so it
    /// counts against no deployment and triggers no retry or fallback.
    #[error("litellm.BadRequestError: model={model} cannot be sent to {provider}/ deployments: the name {reason}")]
    UnsendableModel { model: String, provider: &'static str, reason: &'static str },
    /// A Responses request that needs a stored conversation (`previous_response_id`,
    /// `conversation`, `background`, a retrieve) on a deployment the gateway bridges to chat,
    /// whose responses are not stored.
    #[error(
        "litellm.BadRequestError: '{param}' needs the conversation stored, and responses from {provider}/ deployments are bridged to chat and not stored. Send the whole conversation in 'input' with store: false, or configure Redis (router_settings.redis_host or REDIS_HOST) for model-router to store bridged responses."
    )]
    NotStored { param: &'static str, provider: &'static str },
    /// A Responses API id the gateway issued for a deployment that is no longer configured,
    /// or for a bridged response no longer stored (expired, deleted, over the bound): OpenAI's
    /// own answer for an unknown response (404, or 400
    /// `previous_response_not_found` for a `previous_response_id`).
    #[error("{}Response with id '{id}' not found.", if *.previous { "Previous " } else { "" })]
    ResponseNotFound { id: String, previous: bool },

    // ---- upstream: the provider answered badly or not at all ----
    /// The provider's own non-2xx answer, its status kept and its message carried.
    #[error("litellm.{class}: {class}: {exception} - {message}")]
    Upstream {
        status: StatusCode,
        class: &'static str,
        exception: &'static str,
        message: String,
        param: Option<String>,
    },
    /// A Responses API provider's error relayed as it gave it: status, message, `type`,
    /// `param` and `code` (clients look for `previous_response_not_found`).
    #[error("{message}")]
    Relayed { status: StatusCode, message: String, kind: String, param: Option<String>, code: Option<String> },
    #[error(
        "litellm.Timeout: APITimeoutError - Request timed out. Error_str: Request timed out. timeout value={timeout_s}, time taken={elapsed_s:.2} seconds"
    )]
    Timeout { timeout_s: f64, elapsed_s: f64 },
    #[error("litellm.APIConnectionError: {exception} - {message}")]
    Connect { exception: &'static str, message: String },
    /// Google's token endpoint refused or failed a `vertex_ai/` service-account grant. The
    /// reason is the endpoint's `error` and `error_description`, never the assertion or key.
    #[error(
        "litellm.{class}: {class}: VertexAIException - deployment '{deployment}' could not get a Google access token from {token_uri}: {reason}"
    )]
    TokenGrant { status: StatusCode, class: &'static str, deployment: &'static str, token_uri: String, reason: String },
    /// A `bedrock/` deployment's temporary AWS credentials could not be had (STS or the
    /// container endpoint refused or failed). `from` names the source, never a secret.
    #[error(
        "litellm.{class}: {class}: BedrockException - deployment '{deployment}' could not get AWS credentials from {from}: {reason}"
    )]
    AwsCredentials { status: StatusCode, class: &'static str, deployment: &'static str, from: String, reason: String },

    // ---- internal: the gateway cannot serve ----
    #[error(
        "Deployment '{deployment}' is unavailable: environment variable {variable} is not set. Set it and restart model-router."
    )]
    MissingSecret { deployment: &'static str, variable: &'static str },
    #[error("Deployment '{deployment}' is misconfigured: {reason}")]
    Misconfigured { deployment: &'static str, reason: String },
    #[error(
        "No deployments available for selected model, Try again in {wait_s} seconds. Passed model={model}. pre-call-checks=False, cooldown_list={ids:?}"
    )]
    AllCoolingDown { model: String, wait_s: u64, ids: Vec<&'static str> },
    #[error(
        "litellm.RateLimitError: every deployment of model={model} is at its rpm, tpm or max_parallel_requests limit. Try again in {wait_s} seconds."
    )]
    Saturated { model: String, wait_s: u64 },
    #[error(
        "litellm.RateLimitError: the gateway is serving its global_max_parallel_requests ({limit}) calls. Try again in {wait_s} seconds."
    )]
    Busy { limit: u32, wait_s: u64 },
    #[error(
        "model-router is holding its {budget_mb} MiB budget for request bodies (MODEL_ROUTER_BODY_BUDGET_MB). Try again in {wait_s} seconds."
    )]
    BodyBudget { budget_mb: u64, wait_s: u64 },
    /// A stored bridged response (`previous_response_id`, a retrieve, delete or input-items
    /// listing) could not be read because Redis did not answer within its command timeout.
    #[error(
        "model-router stores bridged responses on Redis, which did not answer within {timeout_ms} ms. Try again in {wait_s} seconds, or send the whole conversation in 'input' with store: false."
    )]
    StoreUnreachable { param: Option<&'static str>, timeout_ms: u128, wait_s: u64 },
}

impl Error {
    /// The HTTP status the client gets.
    pub fn status(&self) -> StatusCode {
        match self {
            Error::NoKey
            | Error::MalformedKey
            | Error::WrongKey
            | Error::ExpiredKey { .. }
            | Error::KeyModel { .. }
            | Error::TeamModel { .. } => StatusCode::UNAUTHORIZED,
            Error::KeyInfoDenied => StatusCode::FORBIDDEN,
            Error::BudgetExceeded { .. }
            | Error::BadJson(_)
            | Error::MissingParam { .. }
            | Error::BadParam { .. }
            | Error::InvalidModel { .. }
            | Error::NoDeployment { .. }
            | Error::UnsupportedParams { .. }
            | Error::UnsupportedApi { .. }
            | Error::UnsendableModel { .. }
            | Error::NotStored { .. }
            | Error::BodyRead(_)
            | Error::ResponseNotFound { previous: true, .. } => StatusCode::BAD_REQUEST,
            Error::UnknownKey { .. } | Error::ResponseNotFound { previous: false, .. } => StatusCode::NOT_FOUND,
            Error::TooLarge { .. } | Error::OverBudget { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Error::ClientTimeout | Error::Timeout { .. } => StatusCode::REQUEST_TIMEOUT,
            Error::Upstream { status, .. }
            | Error::TokenGrant { status, .. }
            | Error::Relayed { status, .. }
            | Error::AwsCredentials { status, .. } => *status,
            Error::Connect { .. } => StatusCode::INTERNAL_SERVER_ERROR,
            Error::MissingSecret { .. }
            | Error::Misconfigured { .. }
            | Error::BodyBudget { .. }
            | Error::StoreUnreachable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Error::AllCoolingDown { .. } | Error::Saturated { .. } | Error::Busy { .. } | Error::KeyLimited(_) => {
                StatusCode::TOO_MANY_REQUESTS
            }
        }
    }

    /// The `error.type` LiteLLM sets for this case.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::NoKey | Error::MalformedKey | Error::WrongKey | Error::KeyInfoDenied => "auth_error",
            Error::ExpiredKey { .. } => "expired_key",
            Error::KeyModel { .. } => "key_model_access_denied",
            Error::TeamModel { .. } => "team_model_access_denied",
            Error::BudgetExceeded { .. } => "budget_exceeded",
            Error::Upstream { status, .. }
            | Error::TokenGrant { status, .. }
            | Error::Relayed { status, .. }
            | Error::AwsCredentials { status, .. } => upstream_type(*status),
            Error::AllCoolingDown { .. } => "all_deployments_in_cooldown",
            Error::Saturated { .. } | Error::Busy { .. } | Error::KeyLimited(_) => "throttling_error",
            Error::BodyBudget { .. } | Error::StoreUnreachable { .. } => "service_unavailable",
            Error::Connect { .. } | Error::MissingSecret { .. } | Error::Misconfigured { .. } => {
                "internal_server_error"
            }
            _ => "invalid_request_error",
        }
    }

    /// The `error.param` LiteLLM sets for this case.
    pub fn param(&self) -> Option<&str> {
        match self {
            Error::BadJson(_) | Error::BodyRead(_) => Some("request_body"),
            Error::MissingParam { param, .. } | Error::BadParam { param, .. } | Error::NotStored { param, .. } => {
                Some(param)
            }
            Error::InvalidModel { .. }
            | Error::NoDeployment { .. }
            | Error::UnsendableModel { .. }
            | Error::KeyModel { .. }
            | Error::TeamModel { .. } => Some("model"),
            Error::Upstream { param, .. } | Error::Relayed { param, .. } => param.as_deref(),
            Error::ResponseNotFound { previous: true, .. } => Some("previous_response_id"),
            Error::StoreUnreachable { param, .. } => *param,
            _ => None,
        }
    }

    /// Whether another attempt may succeed: 408, 409, 429 and 5xx answers, timeouts and
    /// connection failures, as LiteLLM retries.
    pub fn retryable(&self) -> bool {
        match self {
            Error::Upstream { status, .. }
            | Error::TokenGrant { status, .. }
            | Error::Relayed { status, .. }
            | Error::AwsCredentials { status, .. } => {
                matches!(status.as_u16(), 408 | 409 | 429) || status.is_server_error()
            }
            Error::Timeout { .. } | Error::Connect { .. } => true,
            _ => false,
        }
    }

    /// Whether a fallback group may serve instead: after retryable failures, and when the
    /// group has nothing available.
    pub fn falls_back(&self) -> bool {
        self.retryable()
            || matches!(
                self,
                Error::AllCoolingDown { .. }
                    | Error::Saturated { .. }
                    | Error::MissingSecret { .. }
                    | Error::Misconfigured { .. }
            )
    }

    /// A provider's 400 saying the prompt is too long (`context_window_fallbacks`).
    pub fn context_window(&self) -> bool {
        const SIGNS: &[&str] =
            &["context_length_exceeded", "maximum context length", "context window", "prompt is too long"];
        matches!(self, Error::Upstream { status, message, .. } | Error::Relayed { status, message, .. } if *status == StatusCode::BAD_REQUEST && SIGNS.iter().any(|s| message.to_lowercase().contains(s)))
    }

    /// A provider's 400 refusing the content (`content_policy_fallbacks`).
    pub fn content_policy(&self) -> bool {
        const SIGNS: &[&str] = &["content_policy_violation", "content management policy", "content_filter"];
        matches!(self, Error::Upstream { status, message, .. } | Error::Relayed { status, message, .. } if *status == StatusCode::BAD_REQUEST && SIGNS.iter().any(|s| message.to_lowercase().contains(s)))
    }

    /// Seconds the client should wait before trying again, for the gateway's own 429s and
    /// its 503 over the body budget.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            Error::AllCoolingDown { wait_s, .. }
            | Error::Saturated { wait_s, .. }
            | Error::Busy { wait_s, .. }
            | Error::BodyBudget { wait_s, .. }
            | Error::StoreUnreachable { wait_s, .. } => Some(*wait_s),
            Error::KeyLimited(hit) => Some(hit.wait_s),
            _ => None,
        }
    }

    /// LiteLLM's `exception_class` metric label for this case: the exception's class, and
    /// whether a provider raised it (LiteLLM then writes the provider first: a provider's
    /// 429 is `Openai.RateLimitError`). The proxy's own refusals are its `ProxyException`.
    pub fn metric_class(&self) -> (bool, &'static str) {
        match self {
            Error::Upstream { class, .. } | Error::TokenGrant { class, .. } => (true, class),
            Error::Timeout { .. } => (true, "Timeout"),
            Error::Connect { .. } => (true, "APIConnectionError"),
            Error::NoDeployment { .. } => (false, "BadRequestError"),
            Error::UnsupportedParams { .. } => (false, "UnsupportedParamsError"),
            Error::AllCoolingDown { .. } => (false, "RouterRateLimitError"),
            Error::Saturated { .. } | Error::Busy { .. } => (false, "HTTPException"),
            Error::ClientTimeout => (false, "Timeout"),
            Error::MissingSecret { .. }
            | Error::Misconfigured { .. }
            | Error::BodyBudget { .. }
            | Error::StoreUnreachable { .. } => (false, "InternalServerError"),
            _ => (false, "ProxyException"),
        }
    }

    /// The provider's status, when it answered.
    pub fn upstream_status(&self) -> Option<u16> {
        match self {
            Error::Upstream { status, .. }
            | Error::TokenGrant { status, .. }
            | Error::Relayed { status, .. }
            | Error::AwsCredentials { status, .. } => Some(status.as_u16()),
            Error::Timeout { .. } => Some(StatusCode::REQUEST_TIMEOUT.as_u16()),
            _ => None,
        }
    }

    /// Which side caused it, for the log line.
    pub fn source_kind(&self) -> &'static str {
        match self {
            Error::Upstream { .. }
            | Error::Relayed { .. }
            | Error::TokenGrant { .. }
            | Error::Timeout { .. }
            | Error::Connect { .. } => "upstream",
            Error::MissingSecret { .. }
            | Error::Misconfigured { .. }
            | Error::AllCoolingDown { .. }
            | Error::Saturated { .. }
            | Error::Busy { .. }
            | Error::BodyBudget { .. }
            | Error::StoreUnreachable { .. } => "internal",
            _ => "client",
        }
    }

    /// `{"error": {"message", "type", "param", "code"}}`, `code` being the status as a string.
    /// A relayed Responses API error (and the gateway's unknown-response answer) keeps the
    /// provider's `type` and `code` instead.
    pub fn body(&self) -> serde_json::Value {
        let message = self.to_string();
        match self {
            Error::Relayed { kind, param, code, .. } => {
                return serde_json::json!({ "error": { "message": message, "type": kind, "param": param, "code": code } });
            }
            Error::ResponseNotFound { previous, .. } => {
                let code = previous.then_some("previous_response_not_found");
                let error = serde_json::json!({ "message": message, "type": "invalid_request_error", "param": self.param(), "code": code });
                return serde_json::json!({ "error": error });
            }
            _ => {}
        }
        let mut error = serde_json::json!({
            "message": message,
            "type": self.kind(),
            "param": self.param(),
            "code": self.status().as_u16().to_string(),
        });
        if let (Error::InvalidModel { .. }, Some(map)) = (self, error.as_object_mut()) {
            map.insert("provider_specific_fields".into(), serde_json::json!({ "error": message }));
        }
        serde_json::json!({ "error": error })
    }

    /// Anthropic's error shape, for `/v1/messages`: `{"type": "error", "error": {"type",
    /// "message"}}`, the type following the status.
    pub fn anthropic_body(&self) -> serde_json::Value {
        serde_json::json!({
            "type": "error",
            "error": { "type": anthropic_type(self.status().as_u16()), "message": self.to_string() },
        })
    }

    /// A failed token grant: a credential the endpoint refuses (4xx but 408 and 429) is a
    /// 401; its 408, 429 and 5xx keep their status (and are retried); a 2xx without a token
    /// is a 502.
    pub fn token_grant(deployment: &'static str, token_uri: &str, answered: StatusCode, reason: String) -> Self {
        let status = grant_status(answered);
        Error::TokenGrant { status, class: upstream_class(status), deployment, token_uri: token_uri.to_owned(), reason }
    }

    /// A failed fetch of AWS credentials from `from`, its status as for a token grant.
    pub fn aws_credentials(deployment: &'static str, from: String, answered: StatusCode, reason: String) -> Self {
        let status = grant_status(answered);
        Error::AwsCredentials { status, class: upstream_class(status), deployment, from, reason }
    }

    /// `entity` at its `kind` limit; `at` is (seconds to wait, now in ms).
    pub fn limited(
        entity: &quota::Entity,
        kind: &'static str,
        limit: u64,
        usage: &quota::Usage,
        at: (u64, u64),
    ) -> Self {
        Error::KeyLimited(Box::new(quota::LimitHit::new(entity, kind, limit, usage, at)))
    }

    /// LiteLLM's budget error for `entity` (a key, or a team it names).
    pub fn budget(entity: &quota::Entity, spend: f64, max: f64) -> Self {
        let team = (entity.kind == quota::Kind::Team).then_some(entity.name);
        Error::BudgetExceeded { team, spend, max }
    }

    /// A Responses API provider's non-2xx answer, relayed with its own `type`, `param` and
    /// `code` when its body is OpenAI's `{"error": {...}}`; else as [`Error::upstream`].
    pub fn relayed(status: StatusCode, exception: &'static str, body: &[u8]) -> Self {
        #[derive(serde::Deserialize)]
        struct Wrapper {
            error: Inner,
        }
        #[derive(serde::Deserialize)]
        struct Inner {
            message: String,
            #[serde(default, rename = "type")]
            kind: Option<String>,
            #[serde(default)]
            param: Option<String>,
            #[serde(default)]
            code: Option<serde_json::Value>,
        }
        let Ok(Wrapper { error }) = serde_json::from_slice::<Wrapper>(body) else {
            return Error::upstream(status, exception, body);
        };
        let code = error.code.and_then(|code| match code {
            serde_json::Value::String(code) => Some(code),
            serde_json::Value::Null => None,
            other => Some(other.to_string()),
        });
        let kind = error.kind.unwrap_or_else(|| upstream_type(status).to_owned());
        Error::Relayed { status, message: error.message, kind, param: error.param, code }
    }

    /// A provider's non-2xx answer as LiteLLM words it: `litellm.RateLimitError:
    /// RateLimitError: OpenAIException - <the provider's message>`.
    pub fn upstream(status: StatusCode, exception: &'static str, body: &[u8]) -> Self {
        let (message, param) = provider_message(body);
        Error::Upstream { status, class: upstream_class(status), exception, message, param }
    }
}

/// A credential endpoint's answer as the client's status: a refusal (4xx but 408 and 429)
/// is a 401; 408, 429 and 5xx are kept (and retried); a 2xx without credentials is a 502.
fn grant_status(answered: StatusCode) -> StatusCode {
    match answered.as_u16() {
        408 | 429 => answered,
        s if (400..500).contains(&s) => StatusCode::UNAUTHORIZED,
        s if s >= 500 => answered,
        _ => StatusCode::BAD_GATEWAY,
    }
}

/// LiteLLM's exception class for an upstream status.
fn upstream_class(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 | 422 => "BadRequestError",
        401 => "AuthenticationError",
        403 => "PermissionDeniedError",
        404 => "NotFoundError",
        408 => "Timeout",
        429 => "RateLimitError",
        503 => "ServiceUnavailableError",
        s if s >= 500 => "InternalServerError",
        _ => "APIError",
    }
}

/// Anthropic's `error.type` for a status.
pub fn anthropic_type(status: u16) -> &'static str {
    match status {
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        503 | 529 => "overloaded_error",
        s if s >= 500 => "api_error",
        _ => "invalid_request_error",
    }
}

/// LiteLLM's `error.type` for an upstream status.
fn upstream_type(status: StatusCode) -> &'static str {
    match status.as_u16() {
        401 => "auth_error",
        429 => "throttling_error",
        s if s >= 500 => "internal_server_error",
        _ => "invalid_request_error",
    }
}

/// The most specific message a provider's error body holds (`error.message`, `detail`,
/// `message`, else the text itself, shortened), and its `param`.
fn provider_message(body: &[u8]) -> (String, Option<String>) {
    const MAX_MESSAGE: usize = 2048;
    let parsed: Option<serde_json::Value> = serde_json::from_slice(body).ok();
    let pick = |v: &serde_json::Value, key: &str| v.get(key).and_then(serde_json::Value::as_str).map(str::to_owned);
    if let Some(v) = parsed {
        let error = v.get("error").cloned().unwrap_or(serde_json::Value::Null);
        let message = pick(&error, "message")
            .or_else(|| error.as_str().map(str::to_owned))
            .or_else(|| pick(&v, "detail"))
            .or_else(|| pick(&v, "message"));
        if let Some(message) = message {
            return (message, pick(&error, "param"));
        }
    }
    let text = String::from_utf8_lossy(body);
    let mut end = text.len().min(MAX_MESSAGE);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    (text[..end].to_owned(), None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_429_reads_like_litellm() {
        let e = Error::upstream(
            StatusCode::TOO_MANY_REQUESTS,
            "OpenAIException",
            br#"{"error":{"message":"Rate limit reached"}}"#,
        );
        assert_eq!(e.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(e.kind(), "throttling_error");
        assert_eq!(e.to_string(), "litellm.RateLimitError: RateLimitError: OpenAIException - Rate limit reached");
    }

    #[test]
    fn upstream_400_keeps_param() {
        let e = Error::upstream(
            StatusCode::BAD_REQUEST,
            "OpenAIException",
            br#"{"error":{"message":"bad param foo","param":"foo"}}"#,
        );
        let body = e.body();
        assert_eq!(body["error"]["param"], "foo");
        assert_eq!(body["error"]["code"], "400");
        assert_eq!(body["error"]["type"], "invalid_request_error");
    }

    #[test]
    fn fastapi_detail_and_plain_text_are_read() {
        let e = Error::upstream(StatusCode::TOO_MANY_REQUESTS, "OpenAIException", br#"{"detail":"Too many requests"}"#);
        assert!(e.to_string().ends_with("OpenAIException - Too many requests"));
        let e = Error::upstream(StatusCode::BAD_GATEWAY, "OpenAIException", b"upstream boom");
        assert!(e.to_string().ends_with("- upstream boom"));
    }

    #[test]
    fn anthropic_shape_follows_the_status() {
        let body = Error::NoKey.anthropic_body();
        assert_eq!(body["type"], "error");
        assert_eq!(body["error"]["type"], "authentication_error");
        assert_eq!(body["error"]["message"], Error::NoKey.to_string());
        let e = Error::upstream(StatusCode::TOO_MANY_REQUESTS, "AnthropicException", b"slow down");
        assert_eq!(e.anthropic_body()["error"]["type"], "rate_limit_error");
        assert_eq!(anthropic_type(500), "api_error");
        assert_eq!(anthropic_type(529), "overloaded_error");
        assert_eq!(anthropic_type(400), "invalid_request_error");
    }

    #[test]
    fn a_refused_token_grant_is_an_authentication_error_and_a_failing_one_is_retried() {
        let e =
            Error::token_grant("v", "https://oauth2.example/token", StatusCode::BAD_REQUEST, "invalid_grant".into());
        assert_eq!((e.status(), e.kind(), e.retryable()), (StatusCode::UNAUTHORIZED, "auth_error", false));
        assert!(e.to_string().starts_with("litellm.AuthenticationError: AuthenticationError: VertexAIException - "));
        let e = Error::token_grant("v", "https://oauth2.example/token", StatusCode::SERVICE_UNAVAILABLE, "busy".into());
        assert_eq!((e.status(), e.retryable(), e.source_kind()), (StatusCode::SERVICE_UNAVAILABLE, true, "upstream"));
        let e = Error::token_grant("v", "https://oauth2.example/token", StatusCode::OK, "no access_token".into());
        assert_eq!(e.status(), StatusCode::BAD_GATEWAY);
    }

    #[test]
    fn the_body_budget_is_a_503_to_retry_and_a_request_beyond_it_a_413() {
        let busy = Error::BodyBudget { budget_mb: 192, wait_s: 1 };
        assert_eq!(
            (busy.status(), busy.kind(), busy.retry_after()),
            (StatusCode::SERVICE_UNAVAILABLE, "service_unavailable", Some(1))
        );
        assert_eq!(
            (busy.source_kind(), busy.anthropic_body()["error"]["type"].as_str()),
            ("internal", Some("overloaded_error"))
        );
        let never = Error::OverBudget { need_mb: 200, budget_mb: 192 };
        assert_eq!(
            (never.status(), never.retry_after(), never.source_kind()),
            (StatusCode::PAYLOAD_TOO_LARGE, None, "client")
        );
        assert!(!busy.retryable() && !never.falls_back(), "no other deployment would hold it for less");
    }

    #[test]
    fn invalid_model_carries_provider_specific_fields() {
        let e = Error::InvalidModel { route: "/chat/completions", model: "x".into() };
        let body = e.body();
        assert_eq!(body["error"]["provider_specific_fields"]["error"], body["error"]["message"]);
        assert_eq!(body["error"]["param"], "model");
    }
}
