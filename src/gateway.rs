//! The gateway: what requests share (compiled table, settings, the providers' context and
//! endpoints, the books), built once at start-up, and each request's walk through the
//! stages: route → auth → parse → resolve → retry (attempts: pick → provider → respond).
//! Each stage gets the narrow context it reads, never the gateway; the one place the call's
//! outcome is turned into response headers, and the request reported (`report`) once.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use http::{HeaderMap, HeaderValue, Request, Response, StatusCode};
use sha2::{Digest, Sha256};

use crate::attempt;
use crate::budget::{self, Budget};
use crate::call::{Call, Outcome};
use crate::error::Error;
use crate::keys::Keys;
use crate::metrics::Metrics;
use crate::parse::{self, CallRequest};
use crate::pick::Pool;
use crate::provider::{self, Endpoints};
use crate::report::{self, Books, Finisher};
use crate::resolve::{self, Target, Unresolved};
use crate::respond::{self, Body};
use crate::retry::{self, Step};
use crate::route::{self, Api, Endpoint as Route, Op};
use crate::settings::Settings;
use crate::state::State;
use crate::table::{Setting, Table};
use crate::trace::Tracer;
use crate::{auth, catalog, upstream};

/// Everything requests share; built once at start-up.
pub struct Gateway {
    pub table: &'static Table,
    pub settings: Settings,
    /// What providers read: the upstream client, the memory budget request bodies are
    /// charged to, the router settings they follow.
    pub provider: provider::Context,
    /// Every deployment's endpoint and credential sources, or why it cannot serve.
    endpoints: Endpoints,
    master_key: Option<String>,
    /// `hashed_api_key` of callers holding the master key: its SHA-256, as LiteLLM hashes keys.
    master_key_label: Option<String>,
    /// Metrics, tracer, the shared state (limits, cooldowns, statistics; on Redis after
    /// [`Gateway::start`]) and the virtual keys; streams hold them until they end.
    pub books: Arc<Books>,
    /// Providers' own model lists, for `/v1/models` on wildcards that ask for them.
    catalog: catalog::Cache,
    draining: AtomicBool,
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
        let endpoints = Endpoints::resolve(&settings, table);
        let client = upstream::Client::new(settings.extra_roots.as_deref(), settings.connect_timeout)?;
        let master_key_label = master_key.as_ref().map(|k| crate::table::hex(&Sha256::digest(k.as_bytes())));
        let tracer = Tracer::start(&settings, table, client.clone());
        let max_body = table.general.max_request_bytes;
        let budget =
            Budget::new(settings.body_budget.unwrap_or_else(|| budget::sized_to(budget::memory_limit(), max_body)));
        let books = Books {
            table,
            metrics: Metrics::new(table),
            tracer,
            state: State::local(table),
            keys: Keys::new(table, &settings),
        };
        Ok(Gateway {
            table,
            provider: provider::Context::new(table, &settings, client, budget),
            settings,
            endpoints,
            master_key,
            master_key_label,
            books: Arc::new(books),
            catalog: catalog::Cache::default(),
            draining: AtomicBool::new(false),
        })
    }

    /// [`Gateway::new`], then the shared state on the Redis the config or environment names
    /// (`router_settings.redis_*`, `REDIS_*`): a refused password fails, an unreachable Redis
    /// only warns (the state is in process until it answers).
    pub async fn start(table: &'static Table, settings: Settings) -> Result<Self, String> {
        let mut gateway = Gateway::new(table, settings)?;
        if let Some(config) = crate::state::config::resolve(table, &gateway.settings)? {
            let ids: Vec<&str> = table.deployments.iter().map(|d| d.id).collect();
            let strategy = table.router.routing_strategy;
            let shared = crate::state::redis::Shared::connect(&config, &ids, strategy).await?;
            // Nothing else holds the books before the gateway serves.
            let books = Arc::get_mut(&mut gateway.books).ok_or("the books are shared before start-up")?;
            if books.keys.enabled() {
                books.keys.share(crate::state::keys::SharedKeys::new(Arc::clone(&shared), &config.prefix));
            }
            let store = crate::state::conversations::Conversations::new(
                Arc::clone(&shared),
                &config.prefix,
                table.redis.store_ttl_s,
            );
            gateway.provider.conversations = Some(Arc::new(store));
            books.state.share(shared);
        }
        Ok(gateway)
    }

    /// Start-up warnings: open access, deployments that cannot serve.
    pub fn warnings(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        if self.master_key.is_none() {
            warnings.push("no master key configured: every caller is let in".to_owned());
        }
        let max_body = self.table.general.max_request_bytes;
        if self.provider.budget.total() < max_body {
            warnings.push(format!(
                "MODEL_ROUTER_BODY_BUDGET_MB ({} MiB) is below max_request_size_mb ({} MiB): larger bodies get 413",
                self.provider.budget.total() >> 20,
                max_body >> 20
            ));
        }
        warnings.extend(self.books.keys.warnings(&self.settings));
        warnings.extend(self.endpoints.problems().map(|why| why.to_string()));
        warnings
    }

    pub fn drain(&self) {
        self.draining.store(true, Ordering::SeqCst);
    }

    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::SeqCst)
    }

    /// Serves one request; never fails, every error becomes its response. The request is
    /// reported (logged, counted) once: here, or by its stream when that ends.
    pub async fn handle<B>(self: &Arc<Self>, request: Request<B>) -> Result<Response<Body>, Infallible>
    where
        B: http_body::Body<Data = bytes::Bytes>,
        B::Error: std::error::Error + Send + Sync + 'static,
    {
        let mut call = Call::new(request.headers());
        let (method, path) = (request.method().clone(), request.uri().path().to_owned());
        let (mut response, error) = match self.serve(request, &mut call).await {
            Ok(response) => (response, None),
            Err(error) => (respond::error(&error, &call), Some(error)),
        };
        if let Ok(id) = HeaderValue::from_str(&call.request_id) {
            response.headers_mut().insert(crate::call::X_REQUEST_ID, id);
        }
        let status = response.status().as_u16();
        match response.body_mut() {
            Body::Stream(relay) => {
                relay.finish_with(Finisher { books: Arc::clone(&self.books), call, method, path, status });
            }
            Body::Full(_) => report::finish(&self.books, &call, &method, &path, status, error.as_ref(), None),
        }
        Ok(response)
    }

    async fn serve<B>(&self, request: Request<B>, call: &mut Call) -> Result<Response<Body>, Error>
    where
        B: http_body::Body<Data = bytes::Bytes>,
        B::Error: std::error::Error + Send + Sync + 'static,
    {
        let endpoint = route::route(request.method(), request.uri().path());
        call.route = endpoint.kind();
        if call.route.is_some() {
            self.books.metrics.start();
            call.global_permit = Some(self.books.state.enter().await.ok_or_else(|| Error::Busy {
                limit: self.table.general.global_max_parallel.unwrap_or_default(),
                wait_s: 1,
            })?);
        }
        let needs_key =
            endpoint.needs_key() || (endpoint == Route::Metrics && self.table.router.require_auth_for_metrics);
        if needs_key {
            let (master, header) = (self.master_key.as_deref(), self.table.general.key_header);
            let caller = auth::authenticate(request.headers(), master, header, Some(&self.books.keys))?;
            call.key_label = match (&self.master_key_label, caller.key, caller.virtual_key) {
                (_, _, Some(found)) => {
                    call.key = Some(found.index);
                    found.hash
                }
                (Some(hashed), _, None) => hashed.clone(),
                (None, key, None) => crate::metrics::key_label(key.as_deref()),
            };
        }
        Ok(match endpoint {
            Route::NotFound => respond::detail(StatusCode::NOT_FOUND, "Not Found"),
            Route::MethodNotAllowed => respond::detail(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed"),
            Route::Preflight => preflight(request.headers()),
            Route::Liveliness => catalog::liveliness(&self.catalog()),
            Route::Readiness => catalog::readiness(&self.catalog()),
            Route::Models => catalog::models(self.catalog(), request.uri().query(), call.key).await,
            Route::Model(id) => catalog::model(&self.catalog(), &id, call.key)?,
            Route::KeyInfo => catalog::key_info::answer(&self.books.keys, call.key, request.uri().query())?,
            Route::ModelInfo => catalog::model_info(&self.catalog()),
            Route::Metrics => catalog::metrics(&self.catalog()),
            Route::Call { api, path_model } => self.call(Shape::Api(api, path_model.as_deref()), request, call).await?,
            Route::Responses { op, id } => self.call(Shape::Responses(op, id), request, call).await?,
        })
    }

    /// A model call: parse, resolve, pick, call the provider, relay its answer.
    async fn call<B>(&self, shape: Shape<'_>, request: Request<B>, call: &mut Call) -> Result<Response<Body>, Error>
    where
        B: http_body::Body<Data = bytes::Bytes>,
        B::Error: std::error::Error + Send + Sync + 'static,
    {
        let (parts, body) = request.into_parts();
        let limit = self.table.general.max_request_bytes;
        // The charge is held as long as the body: until the call's attempts are over.
        let (body, charge) = parse::read_body(body, &parts.headers, limit, &self.provider.budget).await?;
        let mut request: CallRequest = match shape {
            Shape::Api(api, path_model) => parse::request(api, path_model, &body)?,
            Shape::Responses(op, id) => parse::responses(op, id, parts.uri.query(), &body)?,
        };
        drop(body); // the request's members hold what is left of it
        let target = provider::responses::target(self.table, &mut request)?;
        call.requested = Some(request.model.clone());
        let keys = &self.books.keys;
        if let Some(key) = call.key {
            keys.check_model(key, &request.model)?;
            if keys.limited(key) {
                call.key_ticket = Some(keys.admit(key).await?);
            }
        }
        let route = call.route.map_or("", route::Kind::as_str);
        let target = match target {
            Some(target) => target,
            None => resolve::resolve(self.table, &request.model).map_err(|why| match why {
                Unresolved::InvalidModel => Error::InvalidModel { route, model: request.model.clone() },
                Unresolved::NoDeployment => Error::NoDeployment { model: request.model.clone() },
            })?,
        };
        let (reply, outcome) = self.attempts(target, (&request, &parts.headers), call).await;
        call.outcome = outcome;
        drop((request, charge));
        let mut response = reply?;
        respond::call_headers(call, response.headers_mut());
        // Copied into the answer; what the report reads of them was read when the attempt
        // was added. A stream's report no longer holds the provider's header map.
        call.outcome.headers = None;
        Ok(response)
    }

    /// The call's attempts, each with the narrow context it reads, under the retry policy.
    async fn attempts(
        &self,
        target: Target,
        (request, headers): (&CallRequest, &HeaderMap),
        call: &Call,
    ) -> (Result<Response<Body>, Error>, Outcome) {
        let (table, books) = (self.table, &*self.books);
        let cx = attempt::Context {
            pool: Pool {
                table,
                endpoints: &self.endpoints,
                state: &books.state,
                strategy: table.router.routing_strategy,
            },
            provider: &self.provider,
            metrics: &books.metrics,
            tracing: books.tracer.enabled(),
        };
        let key = call.key.map(|k| (&books.keys, k));
        let mut plan = match retry::Plan::new(table, target, (&request.model, headers), key) {
            Ok(plan) => plan,
            Err(error) => return (Err(error), Outcome::default()),
        };
        loop {
            let (result, attempted) = attempt::once(&cx, plan.target(), (request, headers), &call.trace).await;
            match plan.after(result, attempted) {
                Step::Done(result) => return (result, plan.into_outcome()),
                Step::Wait(pause) => tokio::time::sleep(pause).await,
                Step::Next => {}
            }
        }
    }

    /// What the catalog's answers read.
    fn catalog(&self) -> catalog::Context<'_> {
        catalog::Context {
            table: self.table,
            books: &self.books,
            endpoints: &self.endpoints,
            client: &self.provider.client,
            cache: &self.catalog,
            draining: self.is_draining(),
        }
    }
}

/// How a model call's request is read: a body in an API's format (the model perhaps in the
/// path), or a Responses API operation (perhaps on a response the path names).
enum Shape<'a> {
    Api(Api, Option<&'a str>),
    Responses(Op, Option<String>),
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
