//! Placeholder: the benchmark's mock upstream is being written.
fn main() {}
