//! Bridged responses stored on the shared Redis (`state::conversations`), when one is
//! configured: a create with `store` not `false` is kept with its input items (each given an
//! id if it had none; a string input as one user message) after those of the response its
//! `previous_response_id` names, so the provider gets the whole history; a retrieve, delete
//! or input-items listing is answered from the store. Nothing else is kept. Used by
//! `bridge`; the reply goes on to `respond`, which issues the ids as for any response.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::value::RawValue;

use super::super::{Attempt, Reply, Source};
use super::{ids, object};
use crate::error::Error;
use crate::parse::{CallRequest, Fields, Member, query_value};
use crate::route::{Api, Op};
use crate::state::conversations::{Conversations, Unreachable};
use crate::state::redis::COMMAND_TIMEOUT;

/// Items an input-items page holds when `limit` is not given, and at most.
const DEFAULT_LIMIT: usize = 20;
const MAX_LIMIT: usize = 100;
/// Seconds a client is told to wait when Redis did not answer.
const UNREACHABLE_WAIT_S: u64 = 1;

/// A stored record, borrowed.
#[derive(Deserialize)]
struct Record<'a> {
    #[serde(borrow)]
    response: &'a RawValue,
    #[serde(borrow, default)]
    input: Vec<&'a RawValue>,
}

/// A stored response's output items.
#[derive(Deserialize)]
struct Output<'a> {
    #[serde(borrow, default)]
    output: Vec<&'a RawValue>,
}

/// An item's id.
#[derive(Deserialize)]
struct ItemId<'a> {
    #[serde(borrow, default)]
    id: Option<Cow<'a, str>>,
}

/// Whether the client lets the response be stored: unless `store: false`, as OpenAI.
pub fn wanted(fields: &Fields) -> bool {
    fields.get("store").is_none_or(|raw| raw.get() != "false")
}

fn unreachable(param: Option<&'static str>) -> Error {
    Error::StoreUnreachable { param, timeout_ms: COMMAND_TIMEOUT.as_millis(), wait_s: UNREACHABLE_WAIT_S }
}

/// Replaces the request's `input` with the history the previous response (`previous`: as
/// the provider knows it, and as the client sent it) left, then the client's items with ids;
/// returns that input, the one to store. `previous_response_id` is taken out of `fields`.
pub async fn expand(
    store: &Conversations,
    fields: &mut Fields,
    previous: Option<(&str, &str)>,
) -> Result<Bytes, Error> {
    let mut out = b"[".to_vec();
    if let Some((upstream, shown)) = previous {
        fields.remove("previous_response_id");
        let record = store.load(upstream).await.map_err(|Unreachable| unreachable(Some("previous_response_id")))?;
        let not_found = || Error::ResponseNotFound { id: shown.to_owned(), previous: true };
        let record = record.ok_or_else(not_found)?;
        let record: Record<'_> = serde_json::from_slice(&record).map_err(|_| not_found())?;
        let output = serde_json::from_str::<Output<'_>>(record.response.get()).map(|p| p.output).unwrap_or_default();
        for item in record.input.iter().chain(&output) {
            push(&mut out, item.get());
        }
    }
    let input = fields.remove("input").ok_or(Error::MissingParam { route: Api::Responses.route(), param: "input" })?;
    let text = match input {
        Member::Raw(raw) => raw,
        built => Bytes::from(built.into_value().map(|v| v.to_string()).unwrap_or_default()),
    };
    let not_a_list = || super::request::bad("input", "must be a string or a list of input items");
    if text.first() == Some(&b'"') {
        let text: String = serde_json::from_slice(&text).map_err(|_| not_a_list())?;
        let part = serde_json::json!([{ "type": "input_text", "text": text }]);
        let item = serde_json::json!({ "id": object::id("msg"), "type": "message", "role": "user", "content": part });
        push(&mut out, &item.to_string());
    } else {
        let items: Vec<&RawValue> = serde_json::from_slice(&text).map_err(|_| not_a_list())?;
        for item in items {
            push(&mut out, &with_id(item.get()));
        }
    }
    out.push(b']');
    let out = Bytes::from(out);
    fields.insert_member("input", Member::Raw(out.clone()));
    Ok(out)
}

fn push(out: &mut Vec<u8>, item: &str) {
    if out.len() > 1 {
        out.push(b',');
    }
    out.extend_from_slice(item.as_bytes());
}

/// An input item with an id (and `type`, a message's) if it had none, so a listing can
/// page through it; other members as the client sent them.
fn with_id(item: &str) -> Cow<'_, str> {
    let Ok(members) = serde_json::from_str::<BTreeMap<Cow<'_, str>, &RawValue>>(item) else {
        return Cow::Borrowed(item);
    };
    let Some(rest) = item.strip_prefix('{').filter(|_| !members.contains_key("id")) else {
        return Cow::Borrowed(item);
    };
    let kind = members.get("type").and_then(|t| serde_json::from_str::<Cow<'_, str>>(t.get()).ok());
    let prefix = match kind.as_deref() {
        None | Some("message") => "msg",
        Some("function_call") => "fc",
        Some("function_call_output") => "fco",
        Some("reasoning") => "rs",
        Some(_) => "item",
    };
    let mut out = format!("{{\"id\":\"{}\"", object::id(prefix));
    if kind.is_none() {
        out.push_str(",\"type\":\"message\"");
    }
    if !members.is_empty() {
        out.push(',');
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// What a streamed response needs to be stored once it ends.
pub struct Keep {
    pub store: Arc<Conversations>,
    pub input: Bytes,
}

impl std::fmt::Debug for Keep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keep").field("input_bytes", &self.input.len()).finish_non_exhaustive()
    }
}

impl Keep {
    /// Stores the finished `response` (response `id`) off the stream's path.
    pub fn save(self, id: &str, response: &[u8]) {
        let (id, response) = (id.to_owned(), response.to_vec());
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move { self.store.save(&id, &response, &self.input).await });
        }
    }
}

/// A retrieve, delete, input-items listing or cancel of a bridged response, answered from
/// `store` (`None`: no Redis, so nothing was stored).
pub async fn operation(
    store: Option<&Conversations>,
    attempt: &Attempt<'_>,
    request: &CallRequest,
    op: Op,
) -> Result<Reply, Error> {
    let provider = attempt.deployment.provider;
    let Some(store) = store else { return Err(Error::NotStored { param: "response_id", provider }) };
    let parts = request.responses.as_deref();
    let id = parts.and_then(|p| p.id.as_deref()).unwrap_or_default();
    let not_found = || Error::ResponseNotFound { id: ids::encode(attempt.deployment, id), previous: false };
    let bad = |param, reason: &str| Error::BadParam { route: op.route(), param, reason: reason.to_owned() };
    let body = match op {
        Op::Cancel => {
            return Err(bad("response_id", "only background responses can be cancelled; bridged ones never are"));
        }
        Op::Delete => {
            if !store.delete(id).await.map_err(|Unreachable| unreachable(None))? {
                return Err(not_found());
            }
            serde_json::json!({ "id": id, "object": "response", "deleted": true }).to_string().into_bytes()
        }
        Op::Retrieve | Op::InputItems => {
            if request.stream {
                return Err(bad("stream", "a bridged response cannot be replayed as events; retrieve it as JSON"));
            }
            let record = store.load(id).await.map_err(|Unreachable| unreachable(None))?.ok_or_else(not_found)?;
            let record: Record<'_> = serde_json::from_slice(&record).map_err(|_| not_found())?;
            if op == Op::Retrieve {
                record.response.get().as_bytes().to_vec()
            } else {
                page(&record.input, parts.and_then(|p| p.query.as_deref()).unwrap_or_default(), op)?
            }
        }
        Op::Create | Op::InputTokens => return Err(not_found()),
    };
    let body = Source::Full(Some(Bytes::from(body)));
    Ok(Reply { status: StatusCode::OK, headers: HeaderMap::new(), body, head_at: Instant::now() })
}

/// One page of `items` as OpenAI lists them: `limit` (1 to 100, default 20) items after
/// the one `after` names, newest first unless `order=asc`.
fn page(items: &[&RawValue], query: &str, op: Op) -> Result<Vec<u8>, Error> {
    let bad = |param, reason: String| Error::BadParam { route: op.route(), param, reason };
    let limit = match query_value(query, "limit") {
        None => DEFAULT_LIMIT,
        Some(text) => text
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| bad("limit", format!("expected a whole number from 1 to {MAX_LIMIT}, got '{text}'")))?,
    };
    let mut ordered: Vec<(Option<String>, &RawValue)> = items
        .iter()
        .map(|item| {
            (serde_json::from_str::<ItemId<'_>>(item.get()).ok().and_then(|p| p.id.map(Cow::into_owned)), *item)
        })
        .collect();
    match query_value(query, "order").as_deref() {
        None | Some("desc") => ordered.reverse(),
        Some("asc") => {}
        Some(other) => return Err(bad("order", format!("expected 'asc' or 'desc', got '{other}'"))),
    }
    let start = match query_value(query, "after") {
        None => 0,
        Some(after) => {
            let at = ordered.iter().position(|(id, _)| id.as_deref() == Some(after.as_str()));
            at.ok_or_else(|| bad("after", format!("no input item '{after}' in this response")))? + 1
        }
    };
    let rest = ordered.get(start..).unwrap_or_default();
    let shown = rest.get(..limit.min(rest.len())).unwrap_or_default();
    // The items as stored, the list's members around them.
    let id = |at: Option<&(Option<String>, &RawValue)>| serde_json::json!(at.and_then(|(id, _)| id.as_deref()));
    let mut out = br#"{"object":"list","data":["#.to_vec();
    for (i, (_, item)) in shown.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(item.get().as_bytes());
    }
    let tail = format!(
        r#"],"first_id":{},"last_id":{},"has_more":{}}}"#,
        id(shown.first()),
        id(shown.last()),
        rest.len() > shown.len()
    );
    out.extend_from_slice(tail.as_bytes());
    Ok(out)
}

#[cfg(test)]
#[path = "store_tests.rs"]
mod tests;
