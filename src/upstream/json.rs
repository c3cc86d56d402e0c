//! JSON trees written out without copies: their exact length counted ([`json_len`]), and
//! the tree written a chunk at a time while each written element is dropped ([`Writer`]),
//! so a large translated request is never held both as a tree and as text. Used by
//! [`super::Outgoing`].

use serde_json::{Map, Value};

/// Strings longer than this are written out in pieces of about the length asked for.
const PIECE: usize = 64 * 1024;

/// How many values `value` holds, itself included.
pub fn nodes(value: &Value) -> u64 {
    let mut stack = vec![value];
    let mut count = 0;
    while let Some(value) = stack.pop() {
        count += 1;
        match value {
            Value::Array(items) => stack.extend(items),
            Value::Object(members) => stack.extend(members.values()),
            _ => {}
        }
    }
    count
}

/// The length of `value` written out as compact JSON.
pub fn json_len(value: &Value) -> u64 {
    let mut counter = Counter(0);
    // Counting cannot fail.
    let _ = serde_json::to_writer(&mut counter, value);
    counter.0
}

/// Counts what is written to it.
struct Counter(u64);

impl std::io::Write for Counter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// What is still open while a tree is written out: arrays and objects with the elements
/// not yet written (the written ones already dropped), and a long string part-way through.
enum Open {
    Array(std::vec::IntoIter<Value>, bool),
    Object(serde_json::map::IntoIter, bool),
    Text(String, usize),
}

/// Writes one tree as compact JSON, byte for byte what `serde_json::to_writer` writes, a
/// chunk at a time.
pub struct Writer {
    open: Vec<Open>,
    root: Option<Value>,
}

impl Writer {
    pub fn new(value: Value) -> Self {
        Writer { open: Vec::new(), root: Some(value) }
    }

    /// Writes into `out` until it holds `want` bytes or the tree is done; `false` when done.
    pub fn fill(&mut self, out: &mut Vec<u8>, want: usize) -> bool {
        if let Some(root) = self.root.take() {
            self.value(root, out);
        }
        while out.len() < want {
            let next = match self.open.last_mut() {
                None => return false,
                Some(Open::Text(text, at)) => {
                    let mut end = (*at + (want - out.len()).max(1)).min(text.len());
                    while !text.is_char_boundary(end) {
                        end += 1;
                    }
                    fragment(&text[*at..end], out);
                    *at = end;
                    if end < text.len() {
                        continue;
                    }
                    out.push(b'"');
                    None
                }
                Some(Open::Array(items, first)) => match items.next() {
                    None => {
                        out.push(b']');
                        None
                    }
                    Some(item) => {
                        if !std::mem::take(first) {
                            out.push(b',');
                        }
                        Some(item)
                    }
                },
                Some(Open::Object(members, first)) => match members.next() {
                    None => {
                        out.push(b'}');
                        None
                    }
                    Some((key, item)) => {
                        if !std::mem::take(first) {
                            out.push(b',');
                        }
                        let _ = serde_json::to_writer(&mut *out, &key);
                        out.push(b':');
                        Some(item)
                    }
                },
            };
            match next {
                Some(item) => self.value(item, out),
                None => {
                    self.open.pop();
                }
            }
        }
        !self.open.is_empty()
    }

    /// Writes `value`, or opens it when it is a container or a long string.
    fn value(&mut self, value: Value, out: &mut Vec<u8>) {
        match value {
            Value::Array(items) => {
                out.push(b'[');
                self.open.push(Open::Array(items.into_iter(), true));
            }
            Value::Object(members) => {
                out.push(b'{');
                self.open.push(Open::Object(Map::into_iter(members), true));
            }
            Value::String(text) if text.len() > PIECE => {
                out.push(b'"');
                self.open.push(Open::Text(text, 0));
            }
            // Writing JSON into a Vec cannot fail.
            scalar => {
                let _ = serde_json::to_writer(&mut *out, &scalar);
            }
        }
    }
}

/// A piece of a string's contents, escaped as JSON escapes it (without the quotes).
fn fragment(text: &str, out: &mut Vec<u8>) {
    let start = out.len();
    let _ = serde_json::to_writer(&mut *out, text);
    out.pop();
    out.remove(start);
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;

    fn written_in_chunks(value: Value, want: usize) -> Vec<u8> {
        let (mut writer, mut out) = (Writer::new(value), Vec::new());
        loop {
            let target = out.len() + want;
            if !writer.fill(&mut out, target) {
                return out;
            }
        }
    }

    /// Any JSON tree, strings long and short.
    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Value::from),
            ".{0,300}".prop_map(Value::from),
        ];
        leaf.prop_recursive(4, 64, 8, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..8).prop_map(Value::from),
                proptest::collection::btree_map(".{0,8}", inner, 0..8)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn trees_are_written_as_serde_json_writes_them(value in json_value(), want in 1usize..200) {
            let want_bytes = serde_json::to_vec(&value).unwrap_or_default();
            prop_assert_eq!(json_len(&value), want_bytes.len() as u64);
            prop_assert_eq!(written_in_chunks(value, want), want_bytes);
        }
    }

    #[test]
    fn a_long_string_goes_in_pieces_split_at_characters() {
        let text = "é\"\\\n€".repeat(PIECE / 3);
        let value = json!({ "text": text, "then": [1, "x"] });
        let want = serde_json::to_vec(&value).unwrap_or_default();
        assert_eq!(written_in_chunks(value, 1000), want);
    }

    #[test]
    fn nodes_count_every_value() {
        assert_eq!(nodes(&json!({ "a": [1, { "b": null }], "c": "x" })), 6);
    }
}
