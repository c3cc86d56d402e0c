//! AWS's binary event-stream framing (`application/vnd.amazon.eventstream`), beside SSE
//! (`sse`) in the upstream framing layer (`framing`): bytes in, whole frames out, each
//! checked by `aws-smithy-eventstream` (prelude and message CRC32s) and bounded by
//! [`MAX_FRAME_BYTES`]; a frame's length is read once, and its bytes once when it is
//! whole. It knows nothing of Converse: a frame is its `:message-type`, its `:event-type`
//! (or `:exception-type`) and its payload, which `provider::bedrock::stream` translates.

use aws_smithy_eventstream::frame::read_message_from;
use aws_smithy_types::event_stream::{HeaderValue, Message};
use bytes::{Bytes, BytesMut};

/// The largest frame accepted; Converse and InvokeModel frames are a few KiB.
pub const MAX_FRAME_BYTES: usize = 4 * 1024 * 1024;
/// Bytes of the total-length field that starts every frame.
const LENGTH_BYTES: usize = 4;
/// The smallest frame: the 12-byte prelude and the 4-byte message CRC.
const MIN_FRAME_BYTES: usize = 16;

/// What a frame carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// `:message-type: event`, named by `:event-type`.
    Event,
    /// `:message-type: exception`, named by `:exception-type` (`throttlingException`, ...).
    Exception,
    /// `:message-type: error`, named by `:error-code`.
    Error,
}

/// One decoded frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub kind: Kind,
    pub name: String,
    pub payload: Bytes,
}

/// One decode step.
#[derive(Debug, PartialEq, Eq)]
pub enum Decoded {
    Frame(Frame),
    /// A frame longer than [`MAX_FRAME_BYTES`], or one whose CRC or layout is wrong; the
    /// stream cannot be read past it.
    Broken(String),
}

/// Splits a byte stream into frames.
#[derive(Debug, Default)]
pub struct Decoder {
    buffer: BytesMut,
    /// The length of the frame at the head of `buffer`, once its length field has arrived.
    pending: Option<usize>,
    broken: bool,
    /// Bytes looked at, for the test that each is looked at once.
    #[cfg(test)]
    looked_at: usize,
}

impl Decoder {
    pub fn feed(&mut self, bytes: &[u8]) {
        if !self.broken {
            self.buffer.extend_from_slice(bytes);
        }
    }

    /// The next whole frame, if one has arrived.
    pub fn next_frame(&mut self) -> Option<Decoded> {
        if self.broken {
            return None;
        }
        let total = if let Some(total) = self.pending {
            total
        } else {
            let length: [u8; LENGTH_BYTES] = self.buffer.get(..LENGTH_BYTES)?.try_into().ok()?;
            #[cfg(test)]
            {
                self.looked_at += LENGTH_BYTES;
            }
            let total = usize::try_from(u32::from_be_bytes(length)).unwrap_or(usize::MAX);
            if !(MIN_FRAME_BYTES..=MAX_FRAME_BYTES).contains(&total) {
                return Some(self.broke(format!("a frame of {total} bytes (at most {MAX_FRAME_BYTES} are read)")));
            }
            *self.pending.insert(total)
        };
        if self.buffer.len() < total {
            return None;
        }
        self.pending = None;
        #[cfg(test)]
        {
            self.looked_at += total;
        }
        let frame = self.buffer.split_to(total).freeze();
        match read_message_from(frame) {
            Ok(message) => Some(Decoded::Frame(frame_of(&message))),
            Err(e) => Some(self.broke(format!("a corrupt frame ({e})"))),
        }
    }

    /// Bytes left over when the stream ended: a frame cut short.
    pub fn leftover(&self) -> usize {
        self.buffer.len()
    }

    fn broke(&mut self, why: String) -> Decoded {
        self.broken = true;
        self.buffer = BytesMut::new();
        Decoded::Broken(why)
    }
}

fn frame_of(message: &Message) -> Frame {
    let header = |name: &str| {
        message.headers().iter().find(|h| h.name().as_str() == name).and_then(|h| match h.value() {
            HeaderValue::String(s) => Some(s.as_str().to_owned()),
            _ => None,
        })
    };
    let (kind, name) = match header(":message-type").as_deref() {
        Some("exception") => (Kind::Exception, header(":exception-type")),
        Some("error") => (Kind::Error, header(":error-code")),
        _ => (Kind::Event, header(":event-type")),
    };
    Frame { kind, name: name.unwrap_or_default(), payload: message.payload().clone() }
}

/// Encodes an event frame, as Bedrock sends them; for tests (and the tests' mock).
#[cfg(test)]
pub fn encode(message_type: &str, name: &str, payload: &[u8]) -> Vec<u8> {
    use aws_smithy_types::event_stream::Header;
    let type_header = if message_type == "exception" { ":exception-type" } else { ":event-type" };
    let message = Message::new(Bytes::copy_from_slice(payload))
        .add_header(Header::new(":message-type", HeaderValue::String(message_type.to_owned().into())))
        .add_header(Header::new(type_header, HeaderValue::String(name.to_owned().into())))
        .add_header(Header::new(":content-type", HeaderValue::String("application/json".into())));
    let mut out = Vec::new();
    let _ = aws_smithy_eventstream::frame::write_message_to(&message, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(input: &[u8], step: usize) -> Vec<Decoded> {
        let mut decoder = Decoder::default();
        let mut out = Vec::new();
        for piece in input.chunks(step) {
            decoder.feed(piece);
            while let Some(d) = decoder.next_frame() {
                out.push(d);
            }
        }
        out
    }

    #[test]
    fn frames_cut_anywhere_come_out_whole() {
        let mut input = encode("event", "messageStart", br#"{"role":"assistant"}"#);
        input.extend(encode("exception", "throttlingException", br#"{"message":"slow"}"#));
        for step in [1, 3, 7, input.len()] {
            let got = frames(&input, step);
            assert_eq!(got.len(), 2, "step {step}");
            let Decoded::Frame(first) = &got[0] else { panic!("{got:?}") };
            assert_eq!((first.kind.clone(), first.name.as_str()), (Kind::Event, "messageStart"));
            assert_eq!(&first.payload[..], br#"{"role":"assistant"}"#);
            let Decoded::Frame(second) = &got[1] else { panic!("{got:?}") };
            assert_eq!((second.kind.clone(), second.name.as_str()), (Kind::Exception, "throttlingException"));
        }
    }

    #[test]
    fn a_frame_fed_a_byte_at_a_time_is_looked_at_once() {
        let mut input = encode("event", "contentBlockDelta", &[b'x'; 300]);
        input.extend(encode("event", "messageStop", br#"{"stopReason":"end_turn"}"#));
        let mut decoder = Decoder::default();
        let mut got = 0;
        for byte in input.chunks(1) {
            decoder.feed(byte);
            while let Some(Decoded::Frame(_)) = decoder.next_frame() {
                got += 1;
            }
        }
        assert_eq!(got, 2);
        assert_eq!(decoder.looked_at, input.len() + 2 * LENGTH_BYTES, "each length field and frame read once");
    }

    #[test]
    fn a_bad_crc_or_an_oversized_frame_breaks_the_stream() {
        let mut input = encode("event", "messageStart", br#"{"role":"assistant"}"#);
        let last = input.len() - 6;
        input[last] ^= 0xff;
        let got = frames(&input, 5);
        assert!(matches!(&got[..], [Decoded::Broken(why)] if why.contains("corrupt")), "{got:?}");
        let huge = u32::try_from(MAX_FRAME_BYTES + 1).unwrap_or(u32::MAX).to_be_bytes();
        let got = frames(&[&huge[..], &[0; 12]].concat(), 16);
        assert!(matches!(&got[..], [Decoded::Broken(why)] if why.contains("at most")), "{got:?}");
    }
}
