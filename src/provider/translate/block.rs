//! A provider's rendered content block written into the upstream body: each renderer
//! (`anthropic::request`, `gemini::request`, `bedrock::request`) types its blocks as its own
//! `Serialize` enum, and [`write`] (called by `conversation::write` and the providers'
//! heads) serialises one straight into the `upstream::Builder`. The strings a block may
//! carry at length (text, base64 data) are [`Long`]: one longer than [`LONG`] is moved
//! into the body and written out as it is sent, so its text never sits beside its copy;
//! a part passed through as the client sent it stays its tree and is kept the same way.

use serde::{Serialize, Serializer};
use serde_json::Value;
use serde_json::ser::Formatter;

use crate::upstream::Builder;

/// Strings longer than this are moved into the body rather than copied: the length past
/// which `Builder::json` keeps a string until it is sent.
pub const LONG: usize = 4 * 1024;

/// A string a block may carry at length, moved out of the client's message.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Long {
    text: String,
    /// Moved into the body by [`write`]; serialised as the mark written where it goes.
    moved: bool,
}

impl From<String> for Long {
    fn from(text: String) -> Self {
        Long { text, moved: false }
    }
}

impl Long {
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl Serialize for Long {
    fn serialize<S: Serializer>(&self, out: S) -> Result<S::Ok, S::Error> {
        if self.moved { out.serialize_bytes(&[]) } else { out.serialize_str(&self.text) }
    }
}

/// A rendered block.
pub trait Block: Serialize + Sized {
    /// Calls `each` with every [`Long`] the block holds, in the order it serialises them.
    fn each_long(&mut self, each: &mut impl FnMut(&mut Long));

    /// The block as the tree it came as, when it is a part passed through untouched.
    fn into_tree(self) -> Result<Value, Self> {
        Err(self)
    }
}

/// Writes `block` into `out`: a passed-through tree as `Builder::json` writes trees, a
/// typed block serialised now, but for its long strings, which move into the body.
pub fn write<B: Block>(block: B, out: &mut Builder) {
    let mut block = match block.into_tree() {
        Ok(tree) => return out.json(tree),
        Err(block) => block,
    };
    let mut moved = Vec::new();
    block.each_long(&mut |long| {
        if long.text.len() > LONG {
            moved.push(std::mem::take(&mut long.text));
            long.moved = true;
        }
    });
    if moved.is_empty() {
        return out.value(&block);
    }
    let mut text = Vec::new();
    // Writing JSON into a Vec cannot fail.
    let _ = block.serialize(&mut serde_json::Serializer::with_formatter(&mut text, Marks));
    drop(block);
    let mut moved = moved.into_iter();
    // JSON text holds no NUL byte of its own: each one is a moved string's mark.
    for (i, piece) in text.split(|byte| *byte == MARK).enumerate() {
        if i > 0 {
            out.json(moved.next().map(Value::String).unwrap_or_default());
        }
        out.bytes(piece);
    }
}

/// Writes `blocks` into `out` as a list, each as [`write`] writes it.
pub fn write_list<B: Block>(blocks: Vec<B>, out: &mut Builder) {
    out.bytes(b"[");
    for (i, block) in blocks.into_iter().enumerate() {
        if i > 0 {
            out.bytes(b",");
        }
        write(block, out);
    }
    out.bytes(b"]");
}

/// The byte [`Marks`] writes where a moved string goes.
const MARK: u8 = 0;

/// Compact JSON (the trait's defaults), with a moved [`Long`] (serialised as bytes, which no other value of a
/// block is) written as [`MARK`].
struct Marks;

impl Formatter for Marks {
    fn write_byte_array<W: ?Sized + std::io::Write>(&mut self, out: &mut W, _: &[u8]) -> std::io::Result<()> {
        out.write_all(&[MARK])
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[derive(Serialize)]
    struct Pair {
        a: Long,
        b: Option<Value>,
        c: Long,
    }

    impl Block for Pair {
        fn each_long(&mut self, each: &mut impl FnMut(&mut Long)) {
            each(&mut self.a);
            each(&mut self.c);
        }
    }

    fn written(block: impl Block) -> (String, usize) {
        let mut out = Builder::default();
        write(block, &mut out);
        let held = usize::try_from(out.held()).unwrap();
        let body = out.build();
        (String::from_utf8(body.into_vec()).unwrap(), held)
    }

    #[test]
    fn long_strings_move_into_the_body_and_the_bytes_stay_those_serde_writes() {
        let long = "q\"".repeat(LONG);
        let pair =
            || Pair { a: Long::from(long.clone()), b: Some(json!({ "k": [1, null] })), c: Long::from("s".to_owned()) };
        let want = serde_json::to_string(&pair()).unwrap();
        let (got, held) = written(pair());
        assert_eq!(got, want);
        assert!(held >= want.len(), "the kept string counts as held");
        let short = Pair { a: Long::from("x".to_owned()), b: None, c: Long::from("\u{0}".to_owned()) };
        assert_eq!(written(short).0, r#"{"a":"x","b":null,"c":"\u0000"}"#, "a client's NUL is escaped, not a mark");
    }
}
