//! The scalar types the typed provider formats (`anthropic::response`,
//! `gemini::response`) read with, written once: a string borrowed from the reply where it
//! has no escapes ([`Text`]) and a token count ([`Count`]), each as lenient as the walk of a
//! JSON tree it replaces: a value of another type reads as absent rather than failing the
//! reply (a [`Text`] is written back as its string, or `null`). The typed replies go on to `respond` as the client's format.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Serialize, Serializer};

/// A string member, borrowed from the reply when it needs no unescaping; `None` when absent
/// or not a string.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Text<'a>(pub Option<Cow<'a, str>>);

impl<'a> Text<'a> {
    /// The string, `""` when there is none.
    pub fn as_str(&self) -> &str {
        self.0.as_deref().unwrap_or_default()
    }

    /// The string, `None` when absent or not a string.
    pub fn get(&self) -> Option<&str> {
        self.0.as_deref()
    }

    /// Whether there is no string (absent, or not a string).
    pub fn is_none(&self) -> bool {
        self.0.is_none()
    }

    /// The string itself, `default` when there is none.
    pub fn or(self, default: &'a str) -> Cow<'a, str> {
        self.0.unwrap_or(Cow::Borrowed(default))
    }
}

/// Written as the string, or `null` when there is none.
impl Serialize for Text<'_> {
    fn serialize<S: Serializer>(&self, out: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(out)
    }
}

/// A token count: `0` when absent or not an unsigned integer.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Count(pub u64);

/// Reads any JSON value, keeping what `keep` makes of the ones it takes.
struct Lenient<T>(std::marker::PhantomData<T>);

/// What a [`Lenient`] visitor makes of the values it takes; anything else is `T::default()`.
trait Takes<'de>: Default {
    fn borrowed_str(_: &'de str) -> Self {
        Self::default()
    }
    fn str(_: &str) -> Self {
        Self::default()
    }
    fn u64(_: u64) -> Self {
        Self::default()
    }
}

impl<'de> Takes<'de> for Text<'de> {
    fn borrowed_str(text: &'de str) -> Self {
        Text(Some(Cow::Borrowed(text)))
    }
    fn str(text: &str) -> Self {
        Text(Some(Cow::Owned(text.to_owned())))
    }
}

impl Takes<'_> for Count {
    fn u64(n: u64) -> Self {
        Count(n)
    }
}

impl<'de, T: Takes<'de>> Visitor<'de> for Lenient<T> {
    type Value = T;

    fn expecting(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        out.write_str("any JSON value")
    }
    fn visit_borrowed_str<E: de::Error>(self, text: &'de str) -> Result<T, E> {
        Ok(T::borrowed_str(text))
    }
    fn visit_str<E: de::Error>(self, text: &str) -> Result<T, E> {
        Ok(T::str(text))
    }
    fn visit_u64<E: de::Error>(self, n: u64) -> Result<T, E> {
        Ok(T::u64(n))
    }
    fn visit_i64<E: de::Error>(self, n: i64) -> Result<T, E> {
        Ok(u64::try_from(n).map_or_else(|_| T::default(), T::u64))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<T, E> {
        Ok(T::default())
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<T, E> {
        Ok(T::default())
    }
    fn visit_unit<E: de::Error>(self) -> Result<T, E> {
        Ok(T::default())
    }
    fn visit_none<E: de::Error>(self) -> Result<T, E> {
        Ok(T::default())
    }
    fn visit_some<D: Deserializer<'de>>(self, inner: D) -> Result<T, D::Error> {
        inner.deserialize_any(self)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<T, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(T::default())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<T, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(T::default())
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        de.deserialize_any(Lenient::<Text<'de>>(std::marker::PhantomData))
    }
}

impl<'de> Deserialize<'de> for Count {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        de.deserialize_any(Lenient::<Count>(std::marker::PhantomData))
    }
}

/// What a reply that does not read says: `not JSON` for bad syntax, `shape` otherwise.
pub fn unreadable(e: &serde_json::Error, shape: &str) -> String {
    if e.is_syntax() || e.is_eof() { format!("not JSON: {e}") } else { shape.to_owned() }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Deserialize)]
    struct Probe<'a> {
        #[serde(borrow, default)]
        s: Text<'a>,
        #[serde(default)]
        n: Count,
    }

    fn probe(text: &str) -> (Option<String>, bool, u64) {
        let got: Probe<'_> = serde_json::from_str(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        (got.s.get().map(str::to_owned), matches!(got.s.0, Some(Cow::Borrowed(_))), got.n.0)
    }

    #[test]
    fn scalars_read_what_fits_and_nothing_else() {
        assert_eq!(probe(r#"{"s":"plain","n":7}"#), (Some("plain".into()), true, 7), "borrowed when it can be");
        assert_eq!(probe(r#"{"s":"a\"b"}"#), (Some("a\"b".into()), false, 0), "unescaped when it must be");
        assert_eq!(probe(r#"{"s":{"x":[1]},"n":"7"}"#), (None, false, 0));
        assert_eq!(probe(r#"{"s":null,"n":-1}"#), (None, false, 0));
        assert_eq!(probe(r#"{"s":[true],"n":2.5,"other":1}"#), (None, false, 0));
    }
}
