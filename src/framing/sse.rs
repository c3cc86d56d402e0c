//! The SSE framing of an upstream stream: a bounded, incremental parser yielding each
//! event's `event:` name, `id:` and `data` ([`Parser::next_frame`]; [`Parser::next_event`]
//! for the data alone). It knows no event format: the providers' translators and the
//! client formats (`respond::format`) read the data, the relay (`respond::stream`) moves it.

use bytes::{Buf as _, BytesMut};

/// The largest single event accepted from a provider.
pub const MAX_EVENT_BYTES: usize = 4 * 1024 * 1024;

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
    /// The `event:` and `id:` of the event being read.
    name: Option<BytesMut>,
    id: Option<BytesMut>,
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

/// One event as its framing delivered it.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Event {
    /// `event:`, when the stream names its events (Anthropic's, the Responses API's).
    pub name: Option<BytesMut>,
    /// `id:`, when given.
    pub id: Option<BytesMut>,
    pub data: Vec<u8>,
}

/// One parse step with the event's framing kept.
#[derive(Debug, PartialEq, Eq)]
pub enum Framed {
    Event(Event),
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
        Some(match self.next_frame()? {
            Framed::Event(event) => Parsed::Event(event.data),
            Framed::TooLarge => Parsed::TooLarge,
        })
    }

    /// The next complete event with its name and id, if one has arrived.
    pub fn next_frame(&mut self) -> Option<Framed> {
        loop {
            let Line::Whole(line) = self.next_line()? else { return Some(self.discard()) };
            if line.is_empty() {
                if self.has_data {
                    self.has_data = false;
                    let data = std::mem::take(&mut self.data);
                    return Some(Framed::Event(Event { name: self.name.take(), id: self.id.take(), data }));
                }
                self.name = None;
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
            } else if line.starts_with(b"event:") {
                self.name = Some(field_value(line, b"event:".len()));
            } else if line.starts_with(b"id:") {
                self.id = Some(field_value(line, b"id:".len()));
            }
            // Comments (`: ping`) and `retry:` lines carry nothing to relay.
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
    fn discard(&mut self) -> Framed {
        self.buffer.clear();
        self.searched = 0;
        self.data.clear();
        self.has_data = false;
        (self.name, self.id) = (None, None);
        Framed::TooLarge
    }

    /// The last event's data when the stream ends without a blank line after it.
    pub fn finish(&mut self) -> Option<Vec<u8>> {
        self.finish_frame().map(|event| event.data)
    }

    /// The last event when the stream ends without a blank line after it.
    pub fn finish_frame(&mut self) -> Option<Event> {
        if !self.buffer.is_empty() {
            self.buffer.extend_from_slice(b"\n\n");
            if let Some(Framed::Event(event)) = self.next_frame() {
                return Some(event);
            }
        }
        let data = self.has_data.then(|| std::mem::take(&mut self.data))?;
        self.has_data = false;
        Some(Event { name: self.name.take(), id: self.id.take(), data })
    }
}

/// A field line's value after its `name:` (`at` bytes) and the one space that may follow.
fn field_value(mut line: BytesMut, at: usize) -> BytesMut {
    let skip = at + usize::from(line.get(at) == Some(&b' '));
    line.advance(skip);
    line
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
    fn event_names_and_ids_are_kept_with_their_data() {
        let mut parser = Parser::default();
        parser
            .feed(b"event: response.created\nid: 7\ndata: {}\n\n: ping\n\nevent:x\n\ndata: a\n\nevent: last\ndata: b");
        let frame = |name: Option<&[u8]>, id: Option<&[u8]>, data: &[u8]| {
            Framed::Event(Event { name: name.map(BytesMut::from), id: id.map(BytesMut::from), data: data.to_vec() })
        };
        assert_eq!(parser.next_frame(), Some(frame(Some(b"response.created"), Some(b"7"), b"{}")));
        assert_eq!(parser.next_frame(), Some(frame(None, None, b"a")), "a name without data is dropped");
        assert_eq!(parser.next_frame(), None);
        let last = parser.finish_frame();
        assert_eq!(last.map(|e| (e.name, e.data)), Some((Some(BytesMut::from(&b"last"[..])), b"b".to_vec())));
    }
}
