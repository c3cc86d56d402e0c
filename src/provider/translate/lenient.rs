//! The lenient readers the typed chat messages (`translate::message`) are made of, as
//! forgiving as the walk of a JSON tree they replace: an [`Object`] reads the members it
//! knows (any other value reads as its default, any other member is skipped, a repeated
//! member's last value wins), a [`Str`] is a string borrowed from the client's text where
//! it needs no unescaping (moved out of a tree, else absent), an [`IsStr`] only says whether
//! a value is one. The typed messages go on to `translate::conversation`.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// A type read from a JSON object member by member; any other value reads as the default,
/// or as [`Object::text`] makes of a string.
pub trait Object<'de>: Default {
    /// Reads member `key`'s value from `map` (which must be read or skipped).
    fn member<A: MapAccess<'de>>(&mut self, _key: &str, map: &mut A) -> Result<(), A::Error> {
        map.next_value::<IgnoredAny>().map(drop)
    }
    /// What a string value reads as.
    fn text(_text: Cow<'de, str>) -> Self {
        Self::default()
    }
    /// What a string value that had to be unescaped reads as.
    fn str(_text: &str) -> Self {
        Self::default()
    }
}

/// The visitor of an [`Object`].
pub struct Lenient<T>(PhantomData<T>);

impl<T> Lenient<T> {
    pub fn new() -> Self {
        Lenient(PhantomData)
    }
}

impl<'de, T: Object<'de>> Visitor<'de> for Lenient<T> {
    type Value = T;

    fn expecting(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        out.write_str("any JSON value")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<T, A::Error> {
        let mut value = T::default();
        while let Some(key) = map.next_key::<Str<'de>>()? {
            match key.0 {
                Some(key) => value.member(&key, &mut map)?,
                None => map.next_value::<IgnoredAny>().map(drop)?,
            }
        }
        Ok(value)
    }
    fn visit_borrowed_str<E: de::Error>(self, text: &'de str) -> Result<T, E> {
        Ok(T::text(Cow::Borrowed(text)))
    }
    fn visit_string<E: de::Error>(self, text: String) -> Result<T, E> {
        Ok(T::text(Cow::Owned(text)))
    }
    fn visit_str<E: de::Error>(self, text: &str) -> Result<T, E> {
        Ok(T::str(text))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<T, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(T::default())
    }
    fn visit_some<D: Deserializer<'de>>(self, inner: D) -> Result<T, D::Error> {
        inner.deserialize_any(self)
    }
    fn visit_none<E: de::Error>(self) -> Result<T, E> {
        Ok(T::default())
    }
    fn visit_unit<E: de::Error>(self) -> Result<T, E> {
        Ok(T::default())
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<T, E> {
        Ok(T::default())
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<T, E> {
        Ok(T::default())
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<T, E> {
        Ok(T::default())
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<T, E> {
        Ok(T::default())
    }
}

/// `Deserialize` for an [`Object`]: `lenient!(Type)`, `lenient!(Type<'a>)` (borrowing from
/// the text read) or `lenient!(Type<'a, P>)` (and a member type `P` of its own).
macro_rules! lenient {
    ($ty:ident) => {
        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
                de.deserialize_any($crate::provider::translate::lenient::Lenient::<Self>::new())
            }
        }
    };
    ($ty:ident<'a>) => {
        impl<'de: 'a, 'a> serde::Deserialize<'de> for $ty<'a> {
            fn deserialize<D: serde::Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
                de.deserialize_any($crate::provider::translate::lenient::Lenient::<Self>::new())
            }
        }
    };
    ($ty:ident<'a, P>) => {
        impl<'de: 'a, 'a, P: serde::Deserialize<'de>> serde::Deserialize<'de> for $ty<'a, P> {
            fn deserialize<D: serde::Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
                de.deserialize_any($crate::provider::translate::lenient::Lenient::<Self>::new())
            }
        }
    };
}

pub(crate) use lenient;

/// A string, borrowed from the text read when it needs no unescaping; `None` when absent
/// or not a string.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Str<'a>(pub Option<Cow<'a, str>>);

impl Str<'_> {
    /// The string, `""` when there is none.
    pub fn as_str(&self) -> &str {
        self.0.as_deref().unwrap_or_default()
    }
}

impl<'de: 'a, 'a> Object<'de> for Str<'a> {
    fn text(text: Cow<'de, str>) -> Self {
        Str(Some(text))
    }
    fn str(text: &str) -> Self {
        Str(Some(Cow::Owned(text.to_owned())))
    }
}

lenient!(Str<'a>);

/// Whether a value is a string (read without keeping it).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct IsStr(pub bool);

impl<'de> Object<'de> for IsStr {
    fn text(_: Cow<'de, str>) -> Self {
        IsStr(true)
    }
    fn str(_: &str) -> Self {
        IsStr(true)
    }
}

lenient!(IsStr);

/// Reads `T` from `text`, for tests.
#[cfg(test)]
pub fn from<'a, T: serde::Deserialize<'a>>(text: &'a str) -> T {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Default)]
    struct Probe<'a> {
        s: Str<'a>,
        is: IsStr,
    }

    impl<'de: 'a, 'a> Object<'de> for Probe<'a> {
        fn member<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
            match key {
                "s" => self.s = map.next_value()?,
                "is" => self.is = map.next_value()?,
                _ => map.next_value::<IgnoredAny>().map(drop)?,
            }
            Ok(())
        }
    }

    lenient!(Probe<'a>);

    #[test]
    fn members_read_what_fits_and_nothing_else() {
        let got: Probe<'_> = from(r#"{"s":"plain","is":"a\nb","x":[1]}"#);
        assert!(matches!(got.s.0, Some(Cow::Borrowed("plain"))), "borrowed when it can be");
        assert!(got.is.0);
        let got: Probe<'_> = from(r#"{"s":"a\"b","is":{"x":1}}"#);
        assert!(matches!(got.s.0, Some(Cow::Owned(ref s)) if s == "a\"b"), "unescaped when it must be");
        assert!(!got.is.0);
        let got: Probe<'_> = from(r#"{"s":{"x":[1]},"s":"last"}"#);
        assert_eq!(got.s.as_str(), "last", "a repeated member's last value wins");
        for odd in ["[1,{}]", "7", "null", "true", r#""text""#] {
            let got: Probe<'_> = from(odd);
            assert_eq!((got.s.0, got.is.0), (None, false), "{odd}");
        }
        let moved: Str<'_> = Str::deserialize(serde_json::Value::from("tree")).unwrap_or_default();
        assert!(matches!(moved.0, Some(Cow::Owned(_))), "moved out of a tree");
    }
}
