//! A request body on its way upstream, built without copying the client's body: slices of
//! it sent as they are, the small pieces the gateway writes around them, and JSON trees a
//! translation built, written out one chunk at a time as hyper asks for more and dropped as
//! they go. Its exact length is known up front, so it goes with a `Content-Length`.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Frame, SizeHint};
use serde_json::Value;

use super::json::{Writer, json_len, nodes};
use crate::parse::{Fields, Item, Member};

/// Bytes of JSON written per frame.
const CHUNK: usize = 64 * 1024;
/// Raw members up to this size are copied in beside the keys around them (fewer, larger
/// frames); longer ones go as slices of the client's body. Trees written out longer than
/// this are kept until sent, when they are mostly text.
const INLINE: usize = 4 * 1024;
/// A tree counts as mostly text when its values take no more than this share of its
/// written length (each value costs about 64 bytes as a tree; text costs its length).
const NODE_BYTES: u64 = 64;
const TEXT_SHARE: u64 = 4;

enum Part {
    Bytes(Bytes),
    Json(Value),
}

/// The upstream request body.
#[derive(Default)]
pub struct Outgoing {
    parts: VecDeque<Part>,
    writing: Option<Writer>,
    remaining: u64,
}

impl std::fmt::Debug for Outgoing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outgoing").field("remaining", &self.remaining).finish_non_exhaustive()
    }
}

impl From<Bytes> for Outgoing {
    fn from(bytes: Bytes) -> Self {
        let mut out = Outgoing::default();
        out.push_bytes(bytes);
        out
    }
}

impl Outgoing {
    /// An object of `fields`: raw members as slices of the body they came in, built ones
    /// written out while they are sent.
    pub fn object(fields: Fields) -> Self {
        let mut out = Builder::with_capacity(inline_len(&fields));
        out.bytes(b"{");
        for (i, (key, member)) in fields.into_members().enumerate() {
            if i > 0 {
                out.bytes(b",");
            }
            out.key(&key);
            out.member(member);
        }
        out.bytes(b"}");
        out.build()
    }

    fn push_bytes(&mut self, bytes: Bytes) {
        if !bytes.is_empty() {
            self.remaining += bytes.len() as u64;
            self.parts.push_back(Part::Bytes(bytes));
        }
    }

    fn push_json(&mut self, value: Value) {
        self.remaining += json_len(&value);
        self.parts.push_back(Part::Json(value));
    }

    /// The body's length in bytes.
    pub fn len(&self) -> u64 {
        self.remaining
    }

    pub fn is_empty(&self) -> bool {
        self.remaining == 0
    }
}

impl http_body::Body for Outgoing {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let this = &mut *self;
        loop {
            if let Some(writer) = &mut this.writing {
                let mut out = Vec::with_capacity(CHUNK + INLINE);
                if !writer.fill(&mut out, CHUNK) {
                    this.writing = None;
                }
                if out.is_empty() {
                    continue;
                }
                this.remaining = this.remaining.saturating_sub(out.len() as u64);
                return Poll::Ready(Some(Ok(Frame::data(Bytes::from(out)))));
            }
            match this.parts.pop_front() {
                None => return Poll::Ready(None),
                Some(Part::Bytes(bytes)) => {
                    this.remaining = this.remaining.saturating_sub(bytes.len() as u64);
                    return Poll::Ready(Some(Ok(Frame::data(bytes))));
                }
                Some(Part::Json(value)) => this.writing = Some(Writer::new(value)),
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.remaining == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining)
    }
}

/// About the bytes [`Outgoing::object`] gathers into one buffer for `fields`: each member's
/// key, quotes and punctuation, and its text when that is copied in. The buffer is sized
/// once instead of doubling its way there.
fn inline_len(fields: &Fields) -> usize {
    const PUNCTUATION: usize = 4; // the key's quotes, `:` and `,`
    let text = |member: &Member| match member {
        Member::Raw(raw) if raw.len() <= INLINE => raw.len(),
        _ => 0,
    };
    fields.members().map(|(key, member)| key.len() + PUNCTUATION + text(member)).sum::<usize>() + 2
}

/// Writes an [`Outgoing`] body piece by piece: small pieces are gathered into one buffer,
/// long raw text and large trees go as parts of their own.
#[derive(Default)]
pub struct Builder {
    out: Outgoing,
    pending: Vec<u8>,
    /// Bytes written and flushed, and the written length of the trees kept.
    held: u64,
}

impl Builder {
    /// A builder whose buffer has room for `bytes` before it grows.
    pub fn with_capacity(bytes: usize) -> Self {
        Builder { pending: Vec::with_capacity(bytes), ..Builder::default() }
    }

    /// JSON text the caller wrote (punctuation, small values).
    pub fn bytes(&mut self, text: &[u8]) {
        self.pending.extend_from_slice(text);
    }

    /// `"key":`.
    pub fn key(&mut self, key: &str) {
        // Writing a string into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut self.pending, key);
        self.pending.push(b':');
    }

    /// JSON text held elsewhere: copied in when short, else sent as it is.
    pub fn raw(&mut self, text: Bytes) {
        if text.len() <= INLINE {
            self.pending.extend_from_slice(&text);
        } else {
            self.flush();
            self.out.push_bytes(text);
        }
    }

    /// A tree: kept and written out as it is sent when it is long and mostly text (so its
    /// text never sits beside the tree), else written out now (and the tree dropped).
    pub fn json(&mut self, value: Value) {
        let len = json_len(&value);
        if keeps(&value, len) {
            self.flush();
            self.held += len;
            self.out.push_json(value);
        } else {
            // Writing JSON into a Vec cannot fail.
            let _ = serde_json::to_writer(&mut self.pending, &value);
        }
    }

    /// A small typed value, written out now.
    pub fn value(&mut self, value: &impl serde::Serialize) {
        // Writing JSON into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut self.pending, value);
    }

    /// The memory this body holds beyond the client's: what it wrote, and the trees it
    /// keeps (about their written length, being mostly text).
    pub fn held(&self) -> u64 {
        self.held + self.pending.len() as u64
    }

    /// A member's value.
    pub fn member(&mut self, member: Member) {
        match member {
            Member::Raw(raw) => self.raw(raw),
            Member::Tree(value) => self.json(value),
            Member::List(items) => {
                self.bytes(b"[");
                for (i, item) in items.into_iter().enumerate() {
                    if i > 0 {
                        self.bytes(b",");
                    }
                    match item {
                        Item::Run(run) => self.raw(run),
                        Item::Tree(value) => self.json(value),
                    }
                }
                self.bytes(b"]");
            }
            // No provider sends a mapped list as it is (`provider::messages` writes the
            // list out for those that would); a list that does not map is a 400 where it is
            // read, so this writes what the map gives.
            mapped @ Member::Mapped(_) => self.json(mapped.into_value().unwrap_or_default()),
        }
    }

    fn flush(&mut self) {
        self.held += self.pending.len() as u64;
        self.out.push_bytes(Bytes::from(std::mem::take(&mut self.pending)));
    }

    pub fn build(mut self) -> Outgoing {
        self.flush();
        self.out
    }

    /// The body written so far, as one buffer.
    #[cfg(test)]
    pub fn into_vec(self) -> Vec<u8> {
        self.build().into_vec()
    }
}

#[cfg(test)]
impl Outgoing {
    /// The whole body as one buffer.
    pub fn into_vec(self) -> Vec<u8> {
        let mut all = Vec::new();
        for part in self.parts {
            match part {
                Part::Bytes(bytes) => all.extend_from_slice(&bytes),
                Part::Json(value) => {
                    let _ = serde_json::to_writer(&mut all, &value);
                }
            }
        }
        all
    }
}

/// Whether a tree written out `len` bytes long is better kept until sent than written out
/// now: when it is long and mostly text, so the tree costs about what its text would.
pub fn keeps(value: &Value, len: u64) -> bool {
    len > INLINE as u64 && nodes(value) * NODE_BYTES * TEXT_SHARE <= len
}

#[cfg(test)]
mod tests {
    use http_body_util::BodyExt;
    use serde_json::json;

    use super::*;

    fn collect(body: Outgoing) -> (u64, Vec<u8>) {
        let declared = body.len();
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap_or_else(|e| panic!("{e}"));
        let bytes = runtime.block_on(body.collect()).map(http_body_util::Collected::to_bytes).unwrap_or_default();
        (declared, bytes.to_vec())
    }

    #[test]
    fn a_tree_goes_with_its_exact_length_in_frames() {
        let value = json!({ "text": "é\"\\\n€".repeat(CHUNK), "then": [1, "x"], "n": null });
        let want = serde_json::to_vec(&value).unwrap_or_default();
        let mut out = Builder::default();
        out.json(value);
        assert!(out.pending.is_empty(), "a long, mostly-text tree is kept until sent");
        assert_eq!(out.held(), want.len() as u64);
        assert_eq!(collect(out.build()), (want.len() as u64, want));
        let mut out = Builder::default();
        out.json(json!(vec![0; 10_000]));
        assert_eq!(out.pending.len(), 20_001, "a tree of many small values is written out now");
    }

    #[test]
    fn objects_keep_large_raw_members_as_slices_of_the_body() {
        let body = Bytes::from(format!(r#"{{"big":"{}","messages":[],"n":1}}"#, "a".repeat(INLINE * 2)));
        let request = crate::parse::request(crate::route::Api::Chat, Some("m"), &body);
        let mut fields = request.map_or_else(|e| panic!("{e}"), |r| r.fields);
        fields.insert("model", serde_json::value::to_raw_value("up").unwrap_or_else(|e| panic!("{e}")));
        let (declared, sent) = collect(Outgoing::object(fields));
        let sent: Value = serde_json::from_slice(&sent).unwrap_or_default();
        assert_eq!(sent, json!({ "big": "a".repeat(INLINE * 2), "messages": [], "n": 1, "model": "up" }));
        assert_eq!(declared, serde_json::to_vec(&sent).map(|v| v.len() as u64).unwrap_or_default());
    }
}
