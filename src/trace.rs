//! OpenTelemetry traces over OTLP/HTTP (JSON encoding): a server span per request and a
//! client span per upstream attempt, with the GenAI semantic-convention attributes, a W3C
//! `traceparent` continued from the client and passed upstream, and a bounded batch
//! exporter in the background. On when `OTEL_EXPORTER_OTLP_ENDPOINT` (or `..._TRACES_`)
//! is set or `callbacks` names `otel`. `report` hands each finished request over.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request};
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};

use crate::settings::Settings;
use crate::table::{Table, hex};
use crate::upstream::{Client, Outgoing};

/// Where OTLP/HTTP listens when `otel` is named without an endpoint.
const DEFAULT_ENDPOINT: &str = "http://localhost:4318";
/// The W3C trace context header a client continues its trace with.
const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");
/// Spans waiting for export; more are dropped rather than held.
const QUEUE: usize = 4096;
/// Most spans one export carries.
const BATCH: usize = 512;
/// Longest a span waits before it is exported.
const FLUSH_EVERY: Duration = Duration::from_secs(2);
/// Time one export may take.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(10);
const SPAN_KIND_SERVER: u8 = 2;
const SPAN_KIND_CLIENT: u8 = 3;
const STATUS_ERROR: u8 = 2;

/// A request's place in a trace.
#[derive(Debug, Clone, Copy)]
pub struct Context {
    pub trace_id: [u8; 16],
    /// The client's span, when it sent a `traceparent`.
    pub parent: Option<[u8; 8]>,
    pub span_id: [u8; 8],
    /// The upstream attempt's span, named in the `traceparent` sent upstream.
    pub attempt_id: [u8; 8],
    pub started: SystemTime,
}

impl Context {
    /// Continues the client's `traceparent` (version 00, valid ids) or starts a trace.
    pub fn from_headers(headers: &HeaderMap) -> Self {
        let parent = headers.get(TRACEPARENT).and_then(|v| v.to_str().ok()).and_then(parse_traceparent);
        let trace_id = parent.map_or_else(|| fastrand::u128(1..).to_be_bytes(), |(trace, _)| trace);
        Context {
            trace_id,
            parent: parent.map(|(_, span)| span),
            span_id: fastrand::u64(1..).to_be_bytes(),
            attempt_id: fastrand::u64(1..).to_be_bytes(),
            started: SystemTime::now(),
        }
    }

    /// The `traceparent` for the upstream call: this trace, the attempt's span, sampled.
    pub fn upstream_traceparent(&self) -> String {
        format!("00-{}-{}-01", hex(&self.trace_id), hex(&self.attempt_id))
    }
}

/// `00-<32 hex>-<16 hex>-<2 hex>` with non-zero ids.
fn parse_traceparent(value: &str) -> Option<([u8; 16], [u8; 8])> {
    let mut parts = value.trim().split('-');
    let (version, trace, span, flags) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    if version != "00" || flags.len() != 2 || parts.next().is_some() {
        return None;
    }
    let trace = u128::from_str_radix(trace, 16).ok().filter(|t| *t != 0 && trace.len() == 32)?;
    let span = u64::from_str_radix(span, 16).ok().filter(|s| *s != 0 && span.len() == 16)?;
    Some((trace.to_be_bytes(), span.to_be_bytes()))
}

/// One finished span.
#[derive(Debug, Clone)]
pub struct Span {
    pub name: String,
    pub trace_id: [u8; 16],
    pub span_id: [u8; 8],
    pub parent: Option<[u8; 8]>,
    pub server: bool,
    pub start: SystemTime,
    pub end: SystemTime,
    pub attributes: Vec<(&'static str, Value)>,
    pub error: Option<String>,
}

/// The exporter's handle; spans go to a background task that batches and posts them.
pub struct Tracer {
    queue: Option<mpsc::Sender<Span>>,
    stop: std::sync::Mutex<Option<(oneshot::Sender<()>, tokio::task::JoinHandle<()>)>>,
}

impl Tracer {
    /// Starts the exporter when tracing is configured; a no-op tracer otherwise.
    pub fn start(settings: &Settings, table: &Table, client: Client) -> Self {
        let traces = settings.var(table, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT");
        let base = settings.var(table, "OTEL_EXPORTER_OTLP_ENDPOINT");
        let named = table.router.callbacks.iter().any(|c| *c == "otel" || *c == "opentelemetry");
        let url = match (traces, base) {
            (Some(url), _) => url,
            (None, Some(base)) => format!("{}/v1/traces", base.trim_end_matches('/')),
            (None, None) if named => format!("{DEFAULT_ENDPOINT}/v1/traces"),
            (None, None) => return Tracer { queue: None, stop: std::sync::Mutex::new(None) },
        };
        let headers = export_headers(settings.var(table, "OTEL_EXPORTER_OTLP_HEADERS").as_deref());
        let service = settings.var(table, "OTEL_SERVICE_NAME").unwrap_or_else(|| "model-router".to_owned());
        let (queue, spans) = mpsc::channel(QUEUE);
        let (stop, stopped) = oneshot::channel();
        let exporter = Exporter { client, url, headers, resource: resource(&service, table) };
        let task = tokio::spawn(exporter.run(spans, stopped));
        Tracer { queue: Some(queue), stop: std::sync::Mutex::new(Some((stop, task))) }
    }

    pub fn enabled(&self) -> bool {
        self.queue.is_some()
    }

    /// Queues a span; drops it when the queue is full.
    pub fn record(&self, span: Span) {
        if let Some(queue) = &self.queue {
            if queue.try_send(span).is_err() {
                tracing::debug!("trace queue full; span dropped");
            }
        }
    }

    /// Exports what is queued and stops the exporter.
    pub async fn shutdown(&self) {
        let stop = self.stop.lock().ok().and_then(|mut s| s.take());
        if let Some((stop, task)) = stop {
            let _ = stop.send(());
            let _ = tokio::time::timeout(EXPORT_TIMEOUT, task).await;
        }
    }
}

/// `OTEL_EXPORTER_OTLP_HEADERS`: `name=value` pairs, comma-separated.
fn export_headers(raw: Option<&str>) -> Vec<(HeaderName, HeaderValue)> {
    raw.unwrap_or_default()
        .split(',')
        .filter_map(|pair| pair.split_once('='))
        .filter_map(|(k, v)| {
            Some((HeaderName::from_bytes(k.trim().as_bytes()).ok()?, HeaderValue::from_str(v.trim()).ok()?))
        })
        .collect()
}

fn resource(service: &str, table: &Table) -> Value {
    json!({ "attributes": [
        attribute("service.name", &json!(service)),
        attribute("service.version", &json!(env!("CARGO_PKG_VERSION"))),
        attribute("deployment.environment", &json!(table.env)),
    ] })
}

fn attribute(key: &str, value: &Value) -> Value {
    let typed = match value {
        Value::Number(n) if n.is_i64() || n.is_u64() => json!({ "intValue": n.to_string() }),
        Value::Number(n) => json!({ "doubleValue": n }),
        Value::Bool(b) => json!({ "boolValue": b }),
        Value::String(s) => json!({ "stringValue": s }),
        other => json!({ "stringValue": other.to_string() }),
    };
    json!({ "key": key, "value": typed })
}

fn nanos(t: SystemTime) -> String {
    t.duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or_default().to_string()
}

/// A span in OTLP's JSON encoding (ids in hex, times as strings of nanoseconds).
fn encode(span: &Span) -> Value {
    let mut out = json!({
        "traceId": hex(&span.trace_id),
        "spanId": hex(&span.span_id),
        "name": span.name,
        "kind": if span.server { SPAN_KIND_SERVER } else { SPAN_KIND_CLIENT },
        "startTimeUnixNano": nanos(span.start),
        "endTimeUnixNano": nanos(span.end),
        "attributes": span.attributes.iter().map(|(k, v)| attribute(k, v)).collect::<Vec<_>>(),
    });
    if let Some(parent) = span.parent {
        out["parentSpanId"] = json!(hex(&parent));
    }
    if let Some(message) = &span.error {
        out["status"] = json!({ "code": STATUS_ERROR, "message": message });
    }
    out
}

struct Exporter {
    client: Client,
    url: String,
    headers: Vec<(HeaderName, HeaderValue)>,
    resource: Value,
}

impl Exporter {
    async fn run(self, mut spans: mpsc::Receiver<Span>, mut stopped: oneshot::Receiver<()>) {
        let mut batch = Vec::with_capacity(BATCH);
        let mut tick = tokio::time::interval(FLUSH_EVERY);
        loop {
            tokio::select! {
                span = spans.recv() => match span {
                    Some(span) => {
                        batch.push(span);
                        if batch.len() >= BATCH {
                            self.export(&mut batch).await;
                        }
                    }
                    None => break,
                },
                _ = tick.tick() => self.export(&mut batch).await,
                _ = &mut stopped => break,
            }
        }
        while let Ok(span) = spans.try_recv() {
            batch.push(span);
        }
        self.export(&mut batch).await;
    }

    async fn export(&self, batch: &mut Vec<Span>) {
        if batch.is_empty() {
            return;
        }
        let spans: Vec<Value> = batch.drain(..).map(|s| encode(&s)).collect();
        let scope = json!({ "name": "model-router", "version": env!("CARGO_PKG_VERSION") });
        let body = json!({ "resourceSpans": [{ "resource": self.resource, "scopeSpans": [{ "scope": scope, "spans": spans }] }] });
        let mut request =
            Request::builder().method(Method::POST).uri(&self.url).header("content-type", "application/json");
        for (name, value) in &self.headers {
            request = request.header(name, value);
        }
        let Ok(request) = request.body(Outgoing::from(Bytes::from(body.to_string()))) else { return };
        let deadline = std::time::Instant::now() + EXPORT_TIMEOUT;
        match self.client.send(request, deadline, "OTLPExporter").await {
            Ok(response) if response.status().is_success() => {}
            Ok(response) => tracing::warn!(status = response.status().as_u16(), "trace export refused"),
            Err(e) => tracing::warn!(error = %e, "trace export failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traceparent_is_continued_or_refused() {
        let parsed = parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
        assert_eq!(
            parsed.map(|(t, s)| (hex(&t), hex(&s))),
            Some(("4bf92f3577b34da6a3ce929d0e0e4736".into(), "00f067aa0ba902b7".into()))
        );
        for bad in [
            "",
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-xyz-00f067aa0ba902b7-01",
        ] {
            assert_eq!(parse_traceparent(bad), None, "{bad}");
        }
    }

    #[test]
    fn spans_encode_as_otlp_json() {
        let start = UNIX_EPOCH + Duration::from_secs(1);
        let span = Span {
            name: "chat gpt-4o".into(),
            trace_id: [1; 16],
            span_id: [2; 8],
            parent: Some([3; 8]),
            server: false,
            start,
            end: start + Duration::from_millis(5),
            attributes: vec![("gen_ai.usage.input_tokens", json!(5)), ("gen_ai.request.model", json!("gpt-4o"))],
            error: Some("boom".into()),
        };
        let encoded = encode(&span);
        assert_eq!(encoded["traceId"], "01010101010101010101010101010101");
        assert_eq!(encoded["parentSpanId"], "0303030303030303");
        assert_eq!(encoded["kind"], 3);
        assert_eq!(encoded["startTimeUnixNano"], "1000000000");
        assert_eq!(encoded["endTimeUnixNano"], "1005000000");
        assert_eq!(
            encoded["attributes"][0],
            json!({ "key": "gen_ai.usage.input_tokens", "value": { "intValue": "5" } })
        );
        assert_eq!(encoded["status"]["code"], 2);
    }

    #[test]
    fn export_headers_are_parsed() {
        let headers = export_headers(Some("authorization=Bearer x, x-tenant = a"));
        assert_eq!(headers.len(), 2);
        assert_eq!(headers[1].1, "a");
    }
}
