//! Server-sent events: a bounded parser for a provider's stream, the rewrite of each chunk
//! (`model` → the requested name, null `finish_reason` dropped) and LiteLLM's mid-stream
//! error event; for `/v1/messages`, each Anthropic event relayed with its `event:` line and
//! `model` set in `message_start`. `stream` relays with them.

use bytes::{Buf as _, BytesMut};

pub use super::rewrite::Spliced;

/// The largest single event accepted from a provider.
pub const MAX_EVENT_BYTES: usize = 4 * 1024 * 1024;
pub const DONE: &[u8] = b"data: [DONE]\n\n";

/// Splits a byte stream into the `data` of each event. Lines end at LF, CRLF or a lone CR,
/// as the SSE format allows; the buffer is searched for a line end from where the last
/// search stopped, so an event costs time linear in its size however it is cut up.
#[derive(Debug, Default)]
pub struct Parser {
    buffer: BytesMut,
    /// How much of `buffer` is known to hold no line end.
    searched: usize,
    /// The last line ended with a CR at the end of what had arrived: an LF that comes next
    /// belongs to it.
    after_cr: bool,
    data: Vec<u8>,
    has_data: bool,
    /// Bytes looked at for a line end, for the linearity test.
    #[cfg(test)]
    looked_at: usize,
}

/// One parse step.
#[derive(Debug, PartialEq, Eq)]
pub enum Parsed {
    Event(Vec<u8>),
    /// An event or line over [`MAX_EVENT_BYTES`].
    TooLarge,
}

/// What [`Parser::next_line`] found.
enum Line {
    /// A whole line, without its ending.
    Whole(BytesMut),
    /// An unfinished line already over [`MAX_EVENT_BYTES`].
    TooLong,
}

impl Parser {
    pub fn feed(&mut self, bytes: &[u8]) {
        self.buffer.extend_from_slice(bytes);
    }

    /// The next complete event's data, if one has arrived.
    pub fn next_event(&mut self) -> Option<Parsed> {
        loop {
            let Line::Whole(line) = self.next_line()? else { return Some(self.discard()) };
            if line.is_empty() {
                if self.has_data {
                    self.has_data = false;
                    return Some(Parsed::Event(std::mem::take(&mut self.data)));
                }
                continue;
            }
            if let Some(value) = line.strip_prefix(b"data:") {
                let value = value.strip_prefix(b" ").unwrap_or(value);
                if self.has_data {
                    self.data.push(b'\n');
                }
                self.data.extend_from_slice(value);
                self.has_data = true;
                if self.data.len() > MAX_EVENT_BYTES {
                    return Some(self.discard());
                }
            }
            // Comments (`: ping`), `event:`, `id:` and `retry:` lines carry nothing to relay.
        }
    }

    /// The next line, `None` until one has arrived (or the unfinished one is too long).
    fn next_line(&mut self) -> Option<Line> {
        if self.after_cr && !self.buffer.is_empty() {
            self.after_cr = false;
            if self.buffer[0] == b'\n' {
                self.buffer.advance(1);
            }
        }
        let unsearched = &self.buffer[self.searched..];
        let found = memchr::memchr2(b'\n', b'\r', unsearched);
        #[cfg(test)]
        {
            self.looked_at += found.map_or(unsearched.len(), |at| at + 1);
        }
        let Some(found) = found else {
            self.searched = self.buffer.len();
            return (self.buffer.len() > MAX_EVENT_BYTES).then_some(Line::TooLong);
        };
        let end = self.searched + found;
        self.searched = 0;
        let cr = self.buffer[end] == b'\r';
        let mut line = self.buffer.split_to(end + 1);
        line.truncate(end);
        if cr {
            match self.buffer.first() {
                Some(b'\n') => self.buffer.advance(1),
                Some(_) => {}
                None => self.after_cr = true,
            }
        }
        Some(Line::Whole(line))
    }

    /// Drops everything buffered after an oversized event, so parsing can go on.
    fn discard(&mut self) -> Parsed {
        self.buffer.clear();
        self.searched = 0;
        self.data.clear();
        self.has_data = false;
        Parsed::TooLarge
    }

    /// The last event when the stream ends without a blank line after it.
    pub fn finish(&mut self) -> Option<Vec<u8>> {
        if !self.buffer.is_empty() {
            self.buffer.extend_from_slice(b"\n\n");
            if let Some(Parsed::Event(data)) = self.next_event() {
                return Some(data);
            }
        }
        self.has_data.then(|| std::mem::take(&mut self.data))
    }
}

/// Rewrites one chunk for the client: `model` becomes the requested name, and a null
/// `finish_reason` is left out as LiteLLM does. Data that is not JSON passes unchanged.
/// Returns what the fast path saw of the chunk (its usage), if it took it.
pub fn rewrite(data: &[u8], model: &str, out: &mut Vec<u8>) -> Option<Spliced> {
    out.extend_from_slice(b"data: ");
    let seen = super::rewrite::model(data, model, true, out);
    if seen.is_none() {
        let mark = out.len();
        if !super::rewrite::reparse(data, model, true, out) {
            out.truncate(mark);
            out.extend_from_slice(data);
        }
    }
    out.extend_from_slice(b"\n\n");
    seen
}

/// What a relayed Anthropic event said, for the request's usage and outcome.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct MessageSeen {
    pub input_tokens: Option<u64>,
    pub output_tokens: Option<u64>,
    /// The message of an `error` event.
    pub error: Option<String>,
}

/// Writes one Anthropic event (`event: <type>` and its data) for the client, `model` set
/// to the requested name in `message_start`; other events pass byte for byte. Data that is
/// not a JSON object with a `type` is dropped.
pub fn message_event(data: &[u8], model: &str, out: &mut Vec<u8>) -> MessageSeen {
    let mut seen = MessageSeen::default();
    let Ok(mut event) = serde_json::from_slice::<serde_json::Value>(data) else { return seen };
    let Some(kind) = event.get("type").and_then(serde_json::Value::as_str).map(str::to_owned) else { return seen };
    let count = |usage: Option<&serde_json::Value>, key: &str| usage?.get(key)?.as_u64();
    out.extend_from_slice(b"event: ");
    out.extend_from_slice(kind.as_bytes());
    out.extend_from_slice(b"\ndata: ");
    if kind == "message_start" {
        let usage = event.pointer("/message/usage");
        (seen.input_tokens, seen.output_tokens) = (count(usage, "input_tokens"), count(usage, "output_tokens"));
        if let Some(message) = event.get_mut("message").and_then(serde_json::Value::as_object_mut) {
            message.insert("model".into(), serde_json::Value::String(model.to_owned()));
        }
        // Writing a Value into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *out, &event);
    } else {
        let usage = event.get("usage");
        (seen.input_tokens, seen.output_tokens) = (count(usage, "input_tokens"), count(usage, "output_tokens"));
        if kind == "error" {
            let message = event.pointer("/error/message").and_then(serde_json::Value::as_str);
            seen.error = Some(message.unwrap_or("error").to_owned());
        }
        out.extend_from_slice(data);
    }
    out.extend_from_slice(b"\n\n");
    seen
}

/// Feeds a whole SSE transcript through `translate` event by event, then `finish`; what
/// they wrote. For the stream translators' tests.
#[cfg(test)]
pub fn transcript(
    sse: &str,
    mut translate: impl FnMut(&[u8], &mut Vec<u8>),
    finish: impl FnOnce(&mut Vec<u8>),
) -> String {
    let mut parser = Parser::default();
    parser.feed(sse.as_bytes());
    let mut out = Vec::new();
    while let Some(Parsed::Event(data)) = parser.next_event() {
        translate(&data, &mut out);
    }
    finish(&mut out);
    String::from_utf8(out).unwrap_or_default()
}

/// LiteLLM's mid-stream error event (its JSON uses `", "` separators).
pub fn error_event(message: &str, kind: &str, code: u16) -> Vec<u8> {
    let message = serde_json::to_string(message).unwrap_or_else(|_| "\"stream failed\"".to_owned());
    format!("data: {{\"error\": {{\"message\": {message}, \"type\": \"{kind}\", \"param\": null, \"code\": \"{code}\"}}}}\n\n").into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(input: &[&[u8]]) -> Vec<Parsed> {
        let mut parser = Parser::default();
        let mut out = Vec::new();
        for piece in input {
            parser.feed(piece);
            while let Some(e) = parser.next_event() {
                out.push(e);
            }
        }
        out
    }

    #[test]
    fn events_split_across_reads_are_joined() {
        let got = events(&[b"data: {\"a\"", b":1}\n", b"\ndata: [DONE]\n\n"]);
        assert_eq!(got, vec![Parsed::Event(b"{\"a\":1}".to_vec()), Parsed::Event(b"[DONE]".to_vec())]);
    }

    #[test]
    fn crlf_comments_and_event_lines_are_handled() {
        let got = events(&[b": ping\r\n\r\nevent: x\r\ndata: one\r\ndata: two\r\n\r\n"]);
        assert_eq!(got, vec![Parsed::Event(b"one\ntwo".to_vec())]);
    }

    #[test]
    fn lines_may_end_in_a_lone_cr_even_across_reads() {
        let got = events(&[b"data: a\r\rdata: b\r", b"\ndata: c\r", b"\r", b"data: d\r\n\r\n"]);
        let want: Vec<Parsed> = [&b"a"[..], b"b\nc", b"d"].iter().map(|d| Parsed::Event(d.to_vec())).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn a_4_mib_event_in_200_byte_pieces_is_searched_once() {
        const PIECE: usize = 200;
        let event = [b"data: ".as_slice(), &vec![b'x'; MAX_EVENT_BYTES - 16], b"\n\n"].concat();
        let mut parser = Parser::default();
        let mut got = Vec::new();
        for piece in event.chunks(PIECE) {
            parser.feed(piece);
            while let Some(e) = parser.next_event() {
                got.push(e);
            }
        }
        assert!(matches!(got.as_slice(), [Parsed::Event(data)] if data.len() == MAX_EVENT_BYTES - 16));
        assert!(
            parser.looked_at <= event.len(),
            "looked at {} bytes for a {}-byte event",
            parser.looked_at,
            event.len()
        );
    }

    #[test]
    fn an_unfinished_line_over_the_limit_fed_in_pieces_is_refused() {
        let mut parser = Parser::default();
        parser.feed(b"data: ");
        let piece = vec![b'x'; 64 * 1024];
        let mut fed = b"data: ".len();
        while fed + piece.len() <= MAX_EVENT_BYTES {
            parser.feed(&piece);
            fed += piece.len();
            assert_eq!(parser.next_event(), None, "{fed} bytes are within the limit");
        }
        parser.feed(&piece);
        assert_eq!(parser.next_event(), Some(Parsed::TooLarge), "refused once over the limit");
        assert!(parser.buffer.is_empty(), "nothing kept after refusing");
    }

    #[test]
    fn oversized_lines_are_refused() {
        let big = vec![b'x'; MAX_EVENT_BYTES + 1];
        assert_eq!(events(&[b"data: ", &big]), vec![Parsed::TooLarge]);
    }

    #[test]
    fn unterminated_last_event_is_kept() {
        let mut parser = Parser::default();
        parser.feed(b"data: tail");
        assert_eq!(parser.next_event(), None);
        assert_eq!(parser.finish(), Some(b"tail".to_vec()));
    }

    #[test]
    fn rewrite_sets_model_and_drops_null_finish_reason() {
        let mut out = Vec::new();
        rewrite(
            br#"{"model":"up","choices":[{"index":0,"delta":{"content":"x"},"finish_reason":null}]}"#,
            "asked",
            &mut out,
        );
        let text = String::from_utf8(out).unwrap_or_default();
        assert_eq!(text, "data: {\"model\":\"asked\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"x\"}}]}\n\n");
        let mut out = Vec::new();
        rewrite(b"{ \"choices\": [{\"finish_reason\": null}] }", "asked", &mut out);
        assert_eq!(out, b"data: {\"choices\":[{}],\"model\":\"asked\"}\n\n", "spaced JSON takes the full parse");
        let mut out = Vec::new();
        rewrite(b"not json", "asked", &mut out);
        assert_eq!(out, b"data: not json\n\n");
    }

    #[test]
    fn message_events_keep_their_type_and_get_the_model() {
        let mut out = Vec::new();
        let seen = message_event(
            br#"{"type":"message_start","message":{"model":"up","usage":{"input_tokens":7,"output_tokens":1}}}"#,
            "asked",
            &mut out,
        );
        assert_eq!(seen, MessageSeen { input_tokens: Some(7), output_tokens: Some(1), error: None });
        let text = String::from_utf8(out).unwrap_or_default();
        assert!(text.starts_with("event: message_start\ndata: {") && text.contains(r#""model":"asked""#), "{text}");
        let mut out = Vec::new();
        let seen = message_event(
            br#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
            "a",
            &mut out,
        );
        assert_eq!(seen.error.as_deref(), Some("Overloaded"));
        assert!(out.starts_with(b"event: error\ndata: {\"type\":\"error\""));
        let mut out = Vec::new();
        assert_eq!(message_event(b"[DONE]", "a", &mut out), MessageSeen::default());
        assert!(out.is_empty());
    }

    #[test]
    fn error_event_matches_litellm_spacing() {
        let e = String::from_utf8(error_event("boom", "internal_server_error", 500)).unwrap_or_default();
        assert_eq!(
            e,
            "data: {\"error\": {\"message\": \"boom\", \"type\": \"internal_server_error\", \"param\": null, \"code\": \"500\"}}\n\n"
        );
    }
}
