//! A request's top-level JSON members, each kept as the slice of the client's body it
//! arrived in (a handle on the body, not a copy) or, once a translation has built it, as a
//! JSON tree, a list written element by element, or a client's list mapped element by
//! element as it is read ([`Mapped`]). Providers read the few members they
//! need, and build the upstream body from the rest without copying them
//! (`upstream::Outgoing`).

use std::borrow::Cow;
use std::collections::BTreeMap;

use bytes::Bytes;
use bytestring::ByteString;
use serde_json::Value;
use serde_json::value::RawValue;

use crate::error::Error;

/// One member's value.
#[derive(Debug, Clone)]
pub enum Member {
    /// JSON text, valid and UTF-8: a slice of the body it came in, or text the gateway wrote.
    Raw(Bytes),
    /// A value the gateway built (a translated request's).
    Tree(Value),
    /// A list the gateway built element by element (`provider::list`).
    List(Vec<Item>),
    /// A client's list translated element by element where it is read (`provider::list::each`),
    /// never written out and parsed again.
    Mapped(Mapped),
}

/// Maps one element of a client's list to the elements it becomes (pushed on the last
/// `Vec`). The `Option` is one element the map may keep back while the next ones can still
/// add to it (the assistant message a run of Responses `function_call` items joins); it is
/// the map's to push when it is done with it, and the reader's after the last element.
pub type MapFn = fn(Value, &mut Option<Value>, &mut Vec<Value>) -> Result<(), Error>;

/// A list of `head`, then each element of the client's list `raw` through `map` (and what
/// the map kept back, at the end): one API's messages read as another's (a `/v1/messages`
/// call's turns, a Responses call's input items, as chat messages) by the translation that
/// walks them, so the client's text is parsed once.
#[derive(Debug, Clone)]
pub struct Mapped {
    pub head: Vec<Value>,
    /// The client's list, a slice of its body.
    pub raw: Bytes,
    pub map: MapFn,
}

impl Mapped {
    /// The whole list as trees (for a reader that does not walk it element by element).
    fn into_values(self) -> Result<Vec<Value>, serde_json::Error> {
        let (mut list, mut kept) = (self.head, None);
        for element in serde_json::from_slice::<Vec<Value>>(&self.raw)? {
            (self.map)(element, &mut kept, &mut list).map_err(|e| serde::de::Error::custom(e.to_string()))?;
        }
        list.extend(kept);
        Ok(list)
    }
}

/// A stretch of a built list.
#[derive(Debug, Clone)]
pub enum Item {
    /// Elements written out as JSON, separated by commas, without the brackets.
    Run(Bytes),
    /// One element kept as a tree until it is sent (a large one).
    Tree(Value),
}

impl Member {
    /// The value as a tree: parsed from raw text, or taken.
    pub fn into_value(self) -> Result<Value, serde_json::Error> {
        match self {
            Member::Raw(raw) => serde_json::from_slice(&raw),
            Member::Tree(value) => Ok(value),
            Member::List(items) => {
                let mut list = Vec::new();
                for item in items {
                    match item {
                        Item::Run(run) => {
                            let text = [&b"["[..], &run, b"]"].concat();
                            list.extend(serde_json::from_slice::<Vec<Value>>(&text)?);
                        }
                        Item::Tree(value) => list.push(value),
                    }
                }
                Ok(Value::Array(list))
            }
            Member::Mapped(mapped) => mapped.into_values().map(Value::Array),
        }
    }

    /// Whether the member is JSON `null`.
    pub fn is_null(&self) -> bool {
        match self {
            Member::Raw(raw) => &raw[..] == b"null",
            Member::Tree(value) => value.is_null(),
            Member::List(_) | Member::Mapped(_) => false,
        }
    }
}

/// A JSON object's members. A repeated key keeps its last value, as Python's `json` (and so
/// LiteLLM) does, so gateway and provider read the same request.
///
/// Kept as a vector sorted by key, each key once: a request has a handful of members, which a
/// binary search finds as fast as a B-tree does, without the tree's node to allocate and free
/// on every request.
#[derive(Debug, Clone, Default)]
pub struct Fields(Vec<(ByteString, Member)>);

impl Fields {
    /// The members of the JSON object `body` holds, each a slice of it.
    pub fn parse(body: &Bytes) -> Result<Self, serde_json::Error> {
        if let Some(fields) = Fields::read(body, crate::json::MAX_DEPTH) {
            return Ok(fields);
        }
        Fields::parse_with_serde(body)
    }

    /// serde_json's reading of `body`: what decides, and words the error, where
    /// [`Fields::read`] declines the text.
    pub fn parse_with_serde(body: &Bytes) -> Result<Self, serde_json::Error> {
        let map: BTreeMap<String, &RawValue> = serde_json::from_slice(body)?;
        Ok(Fields(
            map.into_iter().map(|(key, raw)| (ByteString::from(key), Member::Raw(slice_of(body, raw.get())))).collect(),
        ))
    }

    /// Members in the order they came, sorted by key with the last of a repeated key kept.
    fn from_members(mut members: Vec<(ByteString, Member)>) -> Self {
        // Stable: a repeated key's values stay in the order they came.
        members.sort_by(|a, b| a.0.cmp(&b.0));
        members.dedup_by(|later, kept| {
            let repeated = later.0 == kept.0;
            if repeated {
                std::mem::swap(later, kept);
            }
            repeated
        });
        Fields(members)
    }

    /// Where `key` is, or would go.
    fn find(&self, key: &str) -> Result<usize, usize> {
        self.0.binary_search_by(|(k, _)| (**k).cmp(key))
    }

    fn member(&self, key: &str) -> Option<&Member> {
        self.find(key).ok().map(|i| &self.0[i].1)
    }

    /// The members of `body` as `crate::json`'s one pass finds them, nested at most
    /// `max_depth` deep; `None` when it declines the text, for [`Fields::parse`] to decide.
    pub fn read(body: &Bytes, max_depth: usize) -> Option<Self> {
        let mut members = Vec::new();
        let read = crate::json::object(body, max_depth, |key, value| {
            // The key is unescaped: its bytes are its name, a slice of the body like the value.
            let Ok(key) = ByteString::try_from(body.slice(key)) else { return false };
            members.push((key, Member::Raw(body.slice(value))));
            true
        });
        read.then(|| Fields::from_members(members))
    }

    /// A member as raw JSON: borrowed from the body, or written out for a built one.
    pub fn get(&self, key: &str) -> Option<Cow<'_, RawValue>> {
        match self.member(key)? {
            Member::Raw(raw) => serde_json::from_slice::<&RawValue>(raw).ok().map(Cow::Borrowed),
            Member::Tree(value) => serde_json::value::to_raw_value(value).ok().map(Cow::Owned),
            built @ (Member::List(_) | Member::Mapped(_)) => {
                let value = built.clone().into_value().ok()?;
                serde_json::value::to_raw_value(&value).ok().map(Cow::Owned)
            }
        }
    }

    /// A member's JSON text: a raw member's own bytes (valid JSON already, not parsed again),
    /// a built one written out.
    pub fn json_text(&self, key: &str) -> Option<Cow<'_, str>> {
        match self.member(key)? {
            Member::Raw(raw) => std::str::from_utf8(raw).ok().map(Cow::Borrowed),
            _ => self.get(key).map(|raw| Cow::Owned(raw.get().to_owned())),
        }
    }

    /// A member as a tree of its own (parsed, or copied).
    pub fn value(&self, key: &str) -> Option<Value> {
        self.member(key)?.clone().into_value().ok()
    }

    /// Takes a member out as a tree, `None` when absent or null. Raw members are valid JSON,
    /// so parsing them cannot fail.
    pub fn take(&mut self, key: &str) -> Option<Value> {
        self.remove(key)?.into_value().ok().filter(|v| !v.is_null())
    }

    /// Whether the member is present and not null.
    pub fn is_set(&self, key: &str) -> bool {
        self.member(key).is_some_and(|member| !member.is_null())
    }

    /// Sets a member the gateway built.
    pub fn insert_member(&mut self, key: &str, member: Member) {
        match self.find(key) {
            Ok(i) => self.0[i].1 = member,
            Err(i) => self.0.insert(i, (ByteString::from(key), member)),
        }
    }

    /// The members, in key order.
    pub fn members(&self) -> impl Iterator<Item = (&str, &Member)> {
        self.0.iter().map(|(key, member)| (&**key, member))
    }

    /// A string member, `None` when absent or not a string.
    pub fn text(&self, key: &str) -> Option<String> {
        self.value(key).and_then(|v| if let Value::String(text) = v { Some(text) } else { None })
    }

    pub fn contains(&self, key: &str) -> bool {
        self.find(key).is_ok()
    }

    pub fn insert(&mut self, key: &str, value: Box<RawValue>) {
        let text: Box<str> = value.into();
        self.insert_member(key, Member::Raw(Bytes::from(text.into_boxed_bytes())));
    }

    pub fn remove(&mut self, key: &str) -> Option<Member> {
        self.find(key).ok().map(|i| self.0.remove(i).1)
    }

    /// Keeps the members whose key `keep` accepts: one pass over the members, however
    /// many keys are dropped.
    pub fn retain(&mut self, mut keep: impl FnMut(&str) -> bool) {
        self.0.retain(|(key, _)| keep(key));
    }

    /// The members, in key order.
    pub fn into_members(self) -> impl Iterator<Item = (ByteString, Member)> {
        self.0.into_iter()
    }

    /// The object as compact JSON (a copy; for small objects and tests).
    pub fn to_json(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.push(b'{');
        for (i, (key, member)) in self.0.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            // Writing JSON into a Vec cannot fail.
            let _ = serde_json::to_writer(&mut out, &**key);
            out.push(b':');
            match member {
                Member::Raw(raw) => out.extend_from_slice(raw),
                Member::Tree(value) => {
                    let _ = serde_json::to_writer(&mut out, value);
                }
                built @ (Member::List(_) | Member::Mapped(_)) => {
                    let _ = serde_json::to_writer(&mut out, &built.clone().into_value().unwrap_or_default());
                }
            }
        }
        out.push(b'}');
        out
    }
}

/// `part`, a slice of `body`'s text, as a handle on `body`; a copy should it lie elsewhere.
fn slice_of(body: &Bytes, part: &str) -> Bytes {
    let start = part.as_ptr().addr().wrapping_sub(body.as_ptr().addr());
    match body.get(start..start.wrapping_add(part.len())) {
        Some(inside) if inside.as_ptr() == part.as_ptr() => body.slice(start..start + part.len()),
        _ => Bytes::copy_from_slice(part.as_bytes()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_are_slices_of_the_body() {
        let body = Bytes::from_static(br#"{"a": [1, 2] ,"b":"x\"y","a":{"c":null}}"#);
        let fields = Fields::parse(&body).unwrap_or_default();
        let Some(Member::Raw(a)) = fields.member("a") else { panic!("a is raw") };
        assert_eq!(&a[..], br#"{"c":null}"#, "the last of a repeated key");
        assert!(body.as_ptr_range().contains(&a.as_ptr()), "a handle on the body, not a copy");
        assert_eq!(fields.text("b").as_deref(), Some("x\"y"));
        assert_eq!(fields.get("b").map(|raw| raw.get().to_owned()).as_deref(), Some(r#""x\"y""#));
        assert_eq!(String::from_utf8(fields.to_json()).unwrap_or_default(), r#"{"a":{"c":null},"b":"x\"y"}"#);
    }

    #[test]
    fn members_stay_sorted_and_unique_whatever_the_order_they_came_in() {
        let body = Bytes::from_static(br#"{"b":1,"a":2,"b":3,"c":4,"a":5,"b":6,"ab":7}"#);
        let mut fields = Fields::parse(&body).unwrap_or_default();
        let json = |fields: &Fields| String::from_utf8(fields.to_json()).unwrap_or_default();
        assert_eq!(json(&fields), r#"{"a":5,"ab":7,"b":6,"c":4}"#);
        fields.insert_member("aa", Member::Raw(Bytes::from_static(b"8")));
        fields.insert_member("c", Member::Raw(Bytes::from_static(b"9")));
        assert!(fields.remove("ab").is_some() && fields.remove("ab").is_none());
        fields.retain(|key| key != "b");
        assert_eq!(json(&fields), r#"{"a":5,"aa":8,"c":9}"#);
        let keys: Vec<String> = fields.into_members().map(|(key, _)| String::from(&*key)).collect();
        assert_eq!(keys, ["a", "aa", "c"]);
    }

    #[test]
    fn built_members_read_like_raw_ones() {
        let mut fields = Fields::default();
        fields.insert_member("n", Member::Tree(Value::from(3)));
        fields.insert("s", RawValue::from_string(r#""t""#.into()).unwrap_or_else(|e| panic!("{e}")));
        fields
            .insert_member("l", Member::List(vec![Item::Run(Bytes::from_static(b"1,2")), Item::Tree(Value::from(3))]));
        assert_eq!(fields.get("n").map(|raw| raw.get().to_owned()).as_deref(), Some("3"));
        assert_eq!(fields.text("s").as_deref(), Some("t"));
        assert_eq!(fields.value("l"), Some(serde_json::json!([1, 2, 3])));
        assert!(fields.is_set("n") && !fields.is_set("absent"));
        assert_eq!(fields.take("l"), Some(serde_json::json!([1, 2, 3])));
        assert_eq!(String::from_utf8(fields.to_json()).unwrap_or_default(), r#"{"n":3,"s":"t"}"#);
    }
}
