//! The mock's answers: the ~1 KB `chat.completion` and the paced SSE body.

use std::convert::Infallible;
use std::fmt::Write as _;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use tokio::time::{Instant, Sleep};

use mock_upstream::CONTENT;

use crate::{Shape, inject};

const ID: &str = "chatcmpl-mock5f0c2a9e41d7b3c8e6a04f19";
const CREATED: u64 = 1_764_115_200;

pub fn completion(model: &str) -> String {
    let mut out = String::with_capacity(1200);
    let _ = write!(
        out,
        "{{\"id\":\"{ID}\",\"object\":\"chat.completion\",\"created\":{CREATED},\"model\":{model},\
         \"choices\":[{{\"index\":0,\"message\":{{\"role\":\"assistant\",\"content\":\"{CONTENT}\",\
         \"refusal\":null,\"annotations\":[]}},\"logprobs\":null,\"finish_reason\":\"stop\"}}],\
         \"usage\":{{\"prompt_tokens\":212,\"completion_tokens\":148,\"total_tokens\":360,\
         \"prompt_tokens_details\":{{\"cached_tokens\":0,\"audio_tokens\":0}},\
         \"completion_tokens_details\":{{\"reasoning_tokens\":0,\"audio_tokens\":0,\
         \"accepted_prediction_tokens\":0,\"rejected_prediction_tokens\":0}}}},\
         \"service_tier\":\"default\",\"system_fingerprint\":\"fp_mock0001\"}}"
    );
    out
}

/// The SSE body: content chunks `0..chunks` (chunk `i` carries ` tok<i>`), paced on a fixed
/// schedule so lateness does not accumulate, then the finish chunk, the usage chunk and
/// `[DONE]` together.
pub struct SseBody {
    model: String,
    shape: Shape,
    include_usage: bool,
    next: u32,
    start: Instant,
    sleep: Option<Pin<Box<Sleep>>>,
    done: bool,
    /// The content chunk sent as broken JSON (an injected `json` fault).
    pub broken: Option<u32>,
}

impl SseBody {
    pub fn new(model: String, shape: Shape, include_usage: bool) -> Self {
        Self { model, shape, include_usage, next: 0, start: Instant::now(), sleep: None, done: false, broken: None }
    }

    pub fn chunk(&self, index: u32) -> String {
        let (model, usage) = (&self.model, self.usage_field());
        let role = if index == 0 { "\"role\":\"assistant\"," } else { "" };
        format!(
            "data: {{\"id\":\"{ID}\",\"object\":\"chat.completion.chunk\",\"created\":{CREATED},\
             \"model\":{model},\"system_fingerprint\":\"fp_mock0001\",\"choices\":[{{\"index\":0,\
             \"delta\":{{{role}\"content\":\" tok{index}\"}},\"logprobs\":null,\"finish_reason\":null}}]{usage}}}\n\n"
        )
    }

    fn usage_field(&self) -> &'static str {
        if self.include_usage { ",\"usage\":null" } else { "" }
    }

    pub fn tail(&self) -> String {
        let (model, usage) = (&self.model, self.usage_field());
        let mut out = format!(
            "data: {{\"id\":\"{ID}\",\"object\":\"chat.completion.chunk\",\"created\":{CREATED},\
             \"model\":{model},\"system_fingerprint\":\"fp_mock0001\",\"choices\":[{{\"index\":0,\
             \"delta\":{{}},\"logprobs\":null,\"finish_reason\":\"stop\"}}]{usage}}}\n\n"
        );
        if self.include_usage {
            let completion = self.shape.chunks;
            let _ = write!(
                out,
                "data: {{\"id\":\"{ID}\",\"object\":\"chat.completion.chunk\",\"created\":{CREATED},\
                 \"model\":{model},\"system_fingerprint\":\"fp_mock0001\",\"choices\":[],\
                 \"usage\":{{\"prompt_tokens\":212,\"completion_tokens\":{completion},\
                 \"total_tokens\":{}}}}}\n\n",
                212 + u64::from(completion)
            );
        }
        out.push_str("data: [DONE]\n\n");
        out
    }
}

impl Body for SseBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if self.done {
            return Poll::Ready(None);
        }
        // Chunk i (and, after the last, the tail) is due at start + i × interval.
        if self.next > 0 && !self.shape.interval.is_zero() {
            let due = self.start + self.shape.interval * self.next;
            if Instant::now() < due {
                let sleep = self.sleep.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(due)));
                if sleep.deadline() != due {
                    sleep.as_mut().reset(due);
                }
                if sleep.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
            }
        }
        let index = self.next;
        let text = if index < self.shape.chunks {
            self.next += 1;
            if self.broken == Some(index) {
                let mut half = String::from_utf8_lossy(&inject::first_half(&self.chunk(index))).into_owned();
                half.push_str("\n\n");
                half
            } else {
                self.chunk(index)
            }
        } else {
            self.done = true;
            self.tail()
        };
        Poll::Ready(Some(Ok(Frame::data(Bytes::from(text)))))
    }

    fn is_end_stream(&self) -> bool {
        self.done
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
    }
}
