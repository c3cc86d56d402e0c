//! The shared state (compiled table, resolved endpoints, upstream client) and the
//! request's walk through the stages: route → auth → parse → resolve → pick → provider →
//! respond. The outcome, error or not, is logged here once.

use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode};

use crate::error::Error;
use crate::parse::{self, CallRequest};
use crate::provider::{self, Attempt, Endpoint, Unavailable};
use crate::resolve::{self, Unresolved};
use crate::respond::{self, Body};
use crate::route::{self, Api, Endpoint as Route};
use crate::settings::Settings;
use crate::table::{Deployment, Setting, Table};
use crate::{auth, catalog, pick, upstream};

/// Everything requests share; built once at start-up.
pub struct Gateway {
    pub table: &'static Table,
    pub settings: Settings,
    pub client: upstream::Client,
    endpoints: Vec<Result<Endpoint, Unavailable>>,
    master_key: Option<String>,
    draining: AtomicBool,
}

/// One request's facts, for its response headers and its log line.
#[derive(Debug)]
pub struct Call {
    pub id: String,
    pub started: Instant,
    pub requested: Option<String>,
    pub deployment: Option<&'static Deployment>,
    pub upstream_model: Option<String>,
    pub api_base: Option<String>,
    pub upstream_headers: Option<HeaderMap>,
    pub sent_at: Option<Instant>,
    pub head_at: Option<Instant>,
}

impl Call {
    fn new() -> Self {
        Call {
            // A call id names a request in logs and headers; it needs to be unique, not secret.
            id: uuid::Builder::from_random_bytes(fastrand::u128(..).to_le_bytes()).into_uuid().to_string(),
            started: Instant::now(),
            requested: None,
            deployment: None,
            upstream_model: None,
            api_base: None,
            upstream_headers: None,
            sent_at: None,
            head_at: None,
        }
    }
}

impl Gateway {
    /// Resolves the master key and every deployment's endpoint from `settings`.
    pub fn new(table: &'static Table, settings: Settings) -> Result<Self, String> {
        let master_key = match table.general.master_key {
            Some(Setting::Env(name)) => Some(settings.var(table, name).ok_or_else(|| {
                format!("general_settings.master_key reads {name}, which is not set; set it or remove master_key for open access")
            })?),
            Some(Setting::Literal(key)) => Some(key.to_owned()),
            None => settings.var(table, "LITELLM_MASTER_KEY"),
        };
        let endpoints = table.deployments.iter().map(|d| provider::endpoint(&settings, table, d)).collect();
        let client = upstream::Client::new(settings.extra_roots.as_deref(), settings.connect_timeout)?;
        Ok(Gateway { table, settings, client, endpoints, master_key, draining: AtomicBool::new(false) })
    }

    /// Start-up warnings: open access, deployments that cannot serve.
    pub fn warnings(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        if self.master_key.is_none() {
            warnings.push("no master key configured: every caller is let in".to_owned());
        }
        for (d, endpoint) in self.table.deployments.iter().zip(&self.endpoints) {
            if let Err(why) = endpoint {
                warnings.push(why.error(d).to_string());
            }
        }
        warnings
    }

    pub fn available(&self, deployment: u16) -> bool {
        self.endpoints.get(usize::from(deployment)).is_some_and(Result::is_ok)
    }

    pub fn unavailable(&self, deployment: u16) -> Error {
        let d = self.table.deployment(deployment);
        match self.endpoints.get(usize::from(deployment)) {
            Some(Err(why)) => why.error(d),
            _ => Error::Misconfigured { deployment: d.model_name, reason: "not available".into() },
        }
    }

    pub fn drain(&self) {
        self.draining.store(true, Ordering::SeqCst);
    }

    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::SeqCst)
    }

    /// Serves one request; never fails, every error becomes its response.
    pub async fn handle<B>(&self, request: Request<B>) -> Result<Response<Body>, Infallible>
    where
        B: http_body::Body<Data = bytes::Bytes>,
        B::Error: std::error::Error + Send + Sync + 'static,
    {
        let mut call = Call::new();
        let (method, path) = (request.method().clone(), request.uri().path().to_owned());
        let (response, error) = match self.serve(request, &mut call).await {
            Ok(response) => (response, None),
            Err(error) => (respond::error(&error, &call), Some(error)),
        };
        log(&call, &method, &path, response.status(), error.as_ref());
        Ok(response)
    }

    async fn serve<B>(&self, request: Request<B>, call: &mut Call) -> Result<Response<Body>, Error>
    where
        B: http_body::Body<Data = bytes::Bytes>,
        B::Error: std::error::Error + Send + Sync + 'static,
    {
        let endpoint = route::route(request.method(), request.uri().path());
        if endpoint.needs_key() {
            auth::authenticate(request.headers(), self.master_key.as_deref(), self.table.general.key_header)?;
        }
        Ok(match endpoint {
            Route::NotFound => respond::detail(StatusCode::NOT_FOUND, "Not Found"),
            Route::MethodNotAllowed => respond::detail(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed"),
            Route::Preflight => preflight(request.headers()),
            Route::Liveliness => catalog::liveliness(self),
            Route::Readiness => catalog::readiness(self),
            Route::Models => catalog::models(self, request.uri().query()),
            Route::Model(id) => catalog::model(self, &id)?,
            Route::ModelInfo => catalog::model_info(self),
            Route::Call { api, path_model } => self.call(api, path_model.as_deref(), request, call).await?,
        })
    }

    /// A model call: parse, resolve, pick, call the provider, relay its answer.
    async fn call<B>(
        &self,
        api: Api,
        path_model: Option<&str>,
        request: Request<B>,
        call: &mut Call,
    ) -> Result<Response<Body>, Error>
    where
        B: http_body::Body<Data = bytes::Bytes>,
        B::Error: std::error::Error + Send + Sync + 'static,
    {
        let (parts, body) = request.into_parts();
        let body = parse::read_body(body, &parts.headers, self.table.general.max_request_bytes).await?;
        let request: CallRequest = parse::call_request(api, path_model, &body)?;
        call.requested = Some(request.model.clone());
        let target = resolve::resolve(self.table, &request.model).map_err(|why| match why {
            Unresolved::InvalidModel => Error::InvalidModel { route: api.route(), model: request.model.clone() },
            Unresolved::NoDeployment => Error::NoDeployment { model: request.model.clone() },
        })?;
        let choice = pick::pick(self, &target, &request.model)?;
        let endpoint = self.endpoints.get(usize::from(choice.index)).and_then(|e| e.as_ref().ok());
        let Some(endpoint) = endpoint else { return Err(self.unavailable(choice.index)) };
        call.deployment = Some(choice.deployment);
        call.upstream_model = Some(choice.upstream_model.clone());
        call.api_base = Some(endpoint.base.clone());
        let (timeout, idle) = self.timeouts(choice.deployment, request.stream);
        let now = Instant::now();
        let attempt = Attempt {
            deployment: choice.deployment,
            endpoint,
            upstream_model: &choice.upstream_model,
            deadline: now + timeout,
        };
        call.sent_at = Some(now);
        let reply = provider::call(self, &attempt, &request, &parts.headers).await?;
        respond::relay(call, reply, request.stream, (self.settings.max_upstream_bytes, now + timeout, idle)).await
    }

    /// (time allowed for the answer, or for a stream's head; longest gap between chunks).
    fn timeouts(&self, d: &Deployment, stream: bool) -> (Duration, Duration) {
        let router = &self.table.router;
        let total = Duration::from_millis(d.timeout_ms.or(router.timeout_ms).unwrap_or(router.request_timeout_ms));
        let stream_timeout = d.stream_timeout_ms.or(router.stream_timeout_ms).map(Duration::from_millis);
        let head = if stream { stream_timeout.unwrap_or(total) } else { total };
        (head, stream_timeout.unwrap_or(total))
    }
}

/// CORS pre-flight, answered as LiteLLM's proxy does.
fn preflight(headers: &HeaderMap) -> Response<Body> {
    let mut response = Response::new(Body::empty());
    let out = response.headers_mut();
    out.insert("access-control-allow-origin", HeaderValue::from_static("*"));
    out.insert(
        "access-control-allow-methods",
        HeaderValue::from_static("DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT"),
    );
    out.insert("access-control-max-age", HeaderValue::from_static("600"));
    if let Some(asked) = headers.get("access-control-request-headers") {
        out.insert("access-control-allow-headers", asked.clone());
    }
    response
}

/// The request's one log line: served at info, refused (4xx) at info with the reason,
/// failed (5xx) at warn.
fn log(call: &Call, method: &Method, path: &str, status: StatusCode, error: Option<&Error>) {
    let latency_ms = call.started.elapsed().as_secs_f64() * 1000.0;
    let deployment = call.deployment.map(|d| d.id);
    let model = call.requested.as_deref();
    let status = status.as_u16();
    let id = &call.id;
    let Some(error) = error else {
        tracing::info!(call_id = %id, %method, path, status, model, deployment, latency_ms, "request served");
        return;
    };
    let source = error.source_kind();
    if status >= 500 {
        tracing::warn!(call_id = %id, %method, path, status, model, deployment, latency_ms, source, error = %error, "request failed");
    } else {
        tracing::info!(call_id = %id, %method, path, status, model, deployment, latency_ms, source, error = %error, "request refused");
    }
}
