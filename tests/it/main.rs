//! The integration tests, one binary: the gateway in process on 127.0.0.1:0 with mock
//! upstreams, real sockets, TLS and Redis servers (`common` is their harness). One binary
//! and not one per file because each test binary links the whole crate and its
//! dependencies: 28 links were most of the test build's time. nextest still runs every
//! test in a process of its own; filter by module with `cargo nextest run -E 'test(/^stream::/)'`.

#![cfg(test)]

mod common;

mod api;
mod architecture;
mod bedrock;
mod bedrock_credentials;
mod bedrock_messages;
mod catalog;
mod forward;
mod hostile_urls;
mod inbound;
mod keys;
mod keys_shared;
mod limits;
mod memory;
mod messages;
mod metrics_bounds;
mod observe;
mod properties;
mod resilience;
mod responses;
mod responses_bridge;
mod responses_store;
mod responses_upstream;
mod runtime;
mod shared;
mod shared_cluster;
mod shared_cooldowns;
mod shared_outage;
mod stream;
mod strict;
mod tls;
mod tool_schemas;
mod trace;
mod translate_anthropic;
mod translate_gemini;
mod translate_vertex;
mod whole_replies;
