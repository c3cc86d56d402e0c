//! The upstream framing layer, below both `provider` and `respond`: a provider's stream
//! body decoded incrementally into events, whatever its framing: SSE ([`sse::Parser`], with
//! event names and ids) or AWS's binary event stream ([`eventstream::Decoder`], Bedrock).
//! Bytes already scanned are not scanned again (each decoder's tests show it). It knows no
//! event format: the decoded events go to a provider's translator
//! (`provider::translate::stream::Translated`) or to the client's format
//! (`respond::stream::Relay` through `respond::format`). It imports neither.

pub mod eventstream;
mod read;
pub mod sse;

pub use read::{bad_reply, read};

use eventstream::Frame;
use sse::{Event, Framed};

/// A stream's decoder, chosen by its framing.
#[derive(Debug)]
pub enum Decoder {
    Sse(sse::Parser),
    EventStream(eventstream::Decoder),
}

/// One decode step.
#[derive(Debug)]
pub enum Decoded {
    /// An SSE event: its name, id and data.
    Event(Event),
    /// An event-stream frame: its kind, name and payload.
    Frame(Frame),
    /// An SSE event or line over `sse::MAX_EVENT_BYTES`: the stream cannot go on.
    TooLarge,
    /// An event-stream frame too long or corrupt (`why`): the stream cannot go on.
    Broken(String),
}

impl Decoder {
    pub fn sse() -> Self {
        Decoder::Sse(sse::Parser::default())
    }

    pub fn event_stream() -> Self {
        Decoder::EventStream(eventstream::Decoder::default())
    }

    pub fn feed(&mut self, bytes: &[u8]) {
        match self {
            Decoder::Sse(parser) => parser.feed(bytes),
            Decoder::EventStream(decoder) => decoder.feed(bytes),
        }
    }

    /// The next whole event, if one has arrived.
    pub fn next_decoded(&mut self) -> Option<Decoded> {
        match self {
            Decoder::Sse(parser) => Some(match parser.next_frame()? {
                Framed::Event(event) => Decoded::Event(event),
                Framed::TooLarge => Decoded::TooLarge,
            }),
            Decoder::EventStream(decoder) => Some(match decoder.next_frame()? {
                eventstream::Decoded::Frame(frame) => Decoded::Frame(frame),
                eventstream::Decoded::Broken(why) => Decoded::Broken(why),
            }),
        }
    }

    /// The last SSE event, when the stream ends in the middle of one (an event-stream
    /// frame cut short is dropped: its CRC cannot be checked).
    pub fn finish(&mut self) -> Option<Event> {
        match self {
            Decoder::Sse(parser) => parser.finish_frame(),
            Decoder::EventStream(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decoded(mut decoder: Decoder, input: &[u8]) -> Vec<Decoded> {
        let mut out = Vec::new();
        for byte in input.chunks(1) {
            decoder.feed(byte);
            out.extend(std::iter::from_fn(|| decoder.next_decoded()));
        }
        out
    }

    #[test]
    fn both_framings_decode_behind_one_decoder() {
        let got = decoded(Decoder::sse(), b"event: ping\ndata: {}\n\n");
        assert!(matches!(&got[..], [Decoded::Event(e)] if e.name.as_deref() == Some(&b"ping"[..])), "{got:?}");
        let got = decoded(Decoder::event_stream(), &eventstream::encode("event", "messageStop", b"{}"));
        assert!(matches!(&got[..], [Decoded::Frame(f)] if f.name == "messageStop"), "{got:?}");
        let mut sse = Decoder::sse();
        sse.feed(b"data: cut");
        assert!(sse.next_decoded().is_none());
        assert_eq!(sse.finish().map(|e| e.data), Some(b"cut".to_vec()));
    }
}
