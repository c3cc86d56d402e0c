//! JSON lists read and written one element at a time, so a translation never holds a
//! client's whole `messages` as a tree (a tree of many small messages takes 20 to 40 times
//! their text): [`each`] hands over the elements of a raw list one by one (as trees, or
//! [`elements`]: as their text where the list is text), keeping the request's memory-budget
//! charge at what the translation holds; [`Built`] gathers a
//! translated list as text, keeping only long, mostly-text elements as trees until they are
//! sent (so their text never sits beside the tree); [`Turns`] writes a provider's turns
//! (consecutive messages of one role merged) straight into the upstream body, which goes on
//! to `upstream` as an `Outgoing`.

use bytes::Bytes;
use serde::de::{Deserializer as _, Error as _, SeqAccess, Visitor};
use serde_json::Value;
use serde_json::value::RawValue;

use crate::budget::Charge;
use crate::error::Error;
use crate::parse::{self, Item, Mapped, Member};
use crate::upstream::{Builder, json_len, keeps};

/// Most bytes of written elements gathered in one run of a [`Built`] list.
const RUN: usize = 1024 * 1024;

/// What a list being written holds so far beyond the client's body.
pub trait Held {
    fn held(&self) -> u64;
}

impl Held for Builder {
    fn held(&self) -> u64 {
        Builder::held(self)
    }
}

/// One element of a list being read: its text where the list was the client's text, the
/// tree where the gateway built one.
#[derive(Debug)]
pub enum Element<'a> {
    Raw(&'a RawValue),
    Tree(Value),
}

/// Calls `f` with each element of the list `member` as a tree of its own, and `sink` to
/// write the element's translation into; `not_a_list` when it is not a list. `charge` is
/// kept at what `sink` holds plus the tree of the element in hand (`parse::Shape`), so the
/// memory budget sees the translation as it grows.
pub fn each<S: Held>(
    member: Member,
    sink: &mut S,
    charge: &mut Charge,
    not_a_list: impl Fn() -> Error,
    mut f: impl FnMut(Value, &mut S) -> Result<(), Error>,
) -> Result<(), Error> {
    elements(member, sink, charge, not_a_list, |element, sink| match element {
        Element::Raw(raw) => f(serde_json::from_str(raw.get()).map_err(|e| Error::BadJson(e.to_string()))?, sink),
        Element::Tree(value) => f(value, sink),
    })
}

/// [`each`], handing each element as it is held: the element's text when the list is the
/// client's (a typed reading of it borrows from the body), else its tree. The charge is
/// [`each`]'s: the element's tree while it is in hand, as though it were parsed.
pub fn elements<S: Held>(
    member: Member,
    sink: &mut S,
    charge: &mut Charge,
    not_a_list: impl Fn() -> Error,
    mut f: impl FnMut(Element<'_>, &mut S) -> Result<(), Error>,
) -> Result<(), Error> {
    let mut one = |element: Element<'_>, tree: u64, sink: &mut S| {
        charge.set(sink.held() + tree)?;
        f(element, sink)
    };
    match member {
        Member::Raw(raw) => raw_each(&raw, sink, &not_a_list, &mut one)?,
        Member::Tree(Value::Array(items)) => {
            items.into_iter().try_for_each(|item| one(Element::Tree(item), 0, sink))?;
        }
        Member::Tree(_) => return Err(not_a_list()),
        Member::List(items) => {
            for item in items {
                match item {
                    Item::Run(run) => raw_each(&[&b"["[..], &run, b"]"].concat(), sink, &not_a_list, &mut one)?,
                    Item::Tree(value) => one(Element::Tree(value), 0, sink)?,
                }
            }
        }
        Member::Mapped(Mapped { head, raw, map }) => {
            head.into_iter().try_for_each(|value| one(Element::Tree(value), 0, sink))?;
            let (mut mapped, mut kept) = (Vec::new(), None);
            // Each element's translations are charged as its tree was.
            raw_each(&raw, sink, &not_a_list, &mut |element, tree, sink| {
                let Element::Raw(raw) = element else { return one(element, tree, sink) };
                let element = serde_json::from_str(raw.get()).map_err(|e| Error::BadJson(e.to_string()))?;
                map(element, &mut kept, &mut mapped)?;
                mapped.drain(..).try_for_each(|value| one(Element::Tree(value), tree, sink))
            })?;
            kept.into_iter().try_for_each(|value| one(Element::Tree(value), 0, sink))?;
        }
    }
    charge.set(sink.held())
}

/// Calls `f` with each element's text and the tree it would take.
fn raw_each<S>(
    text: &[u8],
    sink: &mut S,
    not_a_list: &impl Fn() -> Error,
    f: &mut impl FnMut(Element<'_>, u64, &mut S) -> Result<(), Error>,
) -> Result<(), Error> {
    for_each_raw(text, |raw| {
        let text = raw.get();
        let tree = parse::scan(text.as_bytes()).tree_bytes(text.len());
        f(Element::Raw(raw), tree, sink)
    })
    .map_err(|e| e.unwrap_or_else(not_a_list))
}

/// Calls `f` with each element's text; `Err(None)` when `text` is not a list.
fn for_each_raw(text: &[u8], f: impl FnMut(&RawValue) -> Result<(), Error>) -> Result<(), Option<Error>> {
    struct Elements<F> {
        f: F,
        failed: Option<Error>,
    }
    impl<'de, F: FnMut(&RawValue) -> Result<(), Error>> Visitor<'de> for &mut Elements<F> {
        type Value = ();
        fn expecting(&self, out: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            out.write_str("a list")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
            while let Some(raw) = seq.next_element::<&'de RawValue>()? {
                if let Err(e) = (self.f)(raw) {
                    self.failed = Some(e);
                    return Err(A::Error::custom("stopped"));
                }
            }
            Ok(())
        }
    }
    let mut elements = Elements { f, failed: None };
    let mut de = serde_json::Deserializer::from_slice(text);
    match de.deserialize_seq(&mut elements) {
        Ok(()) => Ok(()),
        Err(_) => Err(elements.failed.take()),
    }
}

/// A list built element by element: small elements written out in runs, large ones kept.
#[derive(Debug, Default)]
pub struct Built {
    items: Vec<Item>,
    run: Vec<u8>,
    /// Bytes of finished runs, and the written length of the trees kept.
    held: u64,
}

impl Held for Built {
    fn held(&self) -> u64 {
        self.held + self.run.len() as u64
    }
}

impl Built {
    pub fn push(&mut self, element: Value) {
        let len = json_len(&element);
        if keeps(&element, len) {
            self.held += len;
            self.flush();
            self.items.push(Item::Tree(element));
            return;
        }
        if !self.run.is_empty() {
            self.run.push(b',');
        }
        // Writing JSON into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut self.run, &element);
        if self.run.len() >= RUN {
            self.flush();
        }
    }

    fn flush(&mut self) {
        if !self.run.is_empty() {
            self.held += self.run.len() as u64;
            self.items.push(Item::Run(Bytes::from(std::mem::take(&mut self.run))));
        }
    }

    pub fn finish(mut self) -> Member {
        self.flush();
        Member::List(self.items)
    }
}

/// A provider's list of turns written into its upstream body, consecutive parts of one role
/// merged into one turn: `{"<parts>":[...],"role":"<role>"}`.
pub struct Turns {
    /// The key the parts go under (`content`, `parts`).
    parts: &'static str,
    open: Option<&'static str>,
    written: usize,
    in_turn: usize,
}

impl Turns {
    /// Starts the list (`[`) in `out`.
    pub fn start(parts: &'static str, out: &mut Builder) -> Self {
        out.bytes(b"[");
        Turns { parts, open: None, written: 0, in_turn: 0 }
    }

    /// Adds `parts` to the open turn of `role`, or opens one, each written by `write`.
    pub fn push<P>(&mut self, role: &'static str, parts: Vec<P>, out: &mut Builder, write: impl Fn(P, &mut Builder)) {
        if parts.is_empty() {
            return;
        }
        if self.open != Some(role) {
            self.close(out);
            if self.written > 0 {
                out.bytes(b",");
            }
            out.bytes(b"{");
            out.key(self.parts);
            out.bytes(b"[");
            (self.open, self.written, self.in_turn) = (Some(role), self.written + 1, 0);
        }
        for part in parts {
            if self.in_turn > 0 {
                out.bytes(b",");
            }
            write(part, out);
            self.in_turn += 1;
        }
    }

    fn close(&mut self, out: &mut Builder) {
        if let Some(role) = self.open.take() {
            out.bytes(b"],");
            out.key("role");
            out.json(Value::from(role));
            out.bytes(b"}");
        }
    }

    /// Ends the list (`]`).
    pub fn finish(mut self, out: &mut Builder) {
        self.close(out);
        out.bytes(b"]");
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::budget::Budget;

    fn not_a_list() -> Error {
        Error::BadJson("not a list".into())
    }

    fn read(member: Member) -> Result<Vec<Value>, Error> {
        let (mut seen, mut charge) = (Built::default(), Budget::new(u64::MAX).charge(0)?);
        let mut all = Vec::new();
        each(member, &mut seen, &mut charge, not_a_list, |v, _| {
            all.push(v);
            Ok(())
        })?;
        Ok(all)
    }

    #[test]
    fn raw_lists_are_read_element_by_element() {
        let raw = Member::Raw(Bytes::from_static(br#"[{"a":1}, "x" ,[2]]"#));
        assert_eq!(read(raw).ok(), Some(vec![json!({ "a": 1 }), json!("x"), json!([2])]));
        assert!(read(Member::Raw(Bytes::from_static(b"{}"))).is_err());
        let (mut sink, mut charge) =
            (Built::default(), Budget::new(u64::MAX).charge(0).unwrap_or_else(|e| panic!("{e}")));
        let stopped = each(Member::Raw(Bytes::from_static(b"[1,2]")), &mut sink, &mut charge, not_a_list, |_, _| {
            Err(Error::ClientTimeout)
        });
        assert!(matches!(stopped, Err(Error::ClientTimeout)), "the element's own error comes back");
    }

    #[test]
    fn the_charge_follows_what_the_translation_holds() {
        let budget = Budget::new(1 << 20);
        let (mut built, mut charge) = (Built::default(), budget.charge(0).unwrap_or_else(|e| panic!("{e}")));
        let raw = Member::Raw(Bytes::from(format!("[{}]", vec![r#"{"n":[1,2,3]}"#; 100].join(","))));
        let mut peak = 0;
        let read = each(raw, &mut built, &mut charge, not_a_list, |v, built| {
            peak = peak.max(budget.held());
            built.push(v);
            Ok(())
        });
        assert!(read.is_ok());
        assert!(peak > built.held(), "each element's tree is charged while it is in hand");
        assert_eq!((charge.bytes(), budget.held()), (built.held(), built.held()), "then what was written");
        let small = Budget::new(64);
        let (mut built, mut charge) = (Built::default(), small.charge(0).unwrap_or_else(|e| panic!("{e}")));
        let raw = Member::Raw(Bytes::from(format!("[{}]", vec!["1"; 100].join(","))));
        let over = each(raw, &mut built, &mut charge, not_a_list, |v, built| {
            built.push(v);
            Ok(())
        });
        assert!(matches!(over, Err(Error::OverBudget { .. })), "a translation outgrowing the budget stops");
    }

    #[test]
    fn built_lists_read_back_and_serialize_as_lists() {
        let mut built = Built::default();
        built.push(json!({ "n": 1 }));
        built.push(json!("big ".repeat(8 * 1024)));
        built.push(json!([3]));
        let member = built.finish();
        let mut out = Builder::default();
        out.member(member.clone());
        let Member::List(items) = &member else { panic!("a built list") };
        assert!(matches!(items[..], [Item::Run(_), Item::Tree(_), Item::Run(_)]), "{items:?}");
        let want = json!([{ "n": 1 }, "big ".repeat(8 * 1024), [3]]);
        assert_eq!(serde_json::from_slice::<Value>(&out.into_vec()).ok(), Some(want.clone()));
        assert_eq!(read(member).ok().map(Value::Array), Some(want));
    }

    #[test]
    fn turns_merge_consecutive_parts_of_a_role() {
        let mut out = Builder::default();
        let mut turns = Turns::start("parts", &mut out);
        let json = |part, out: &mut Builder| out.json(part);
        turns.push("user", vec![json!(1)], &mut out, json);
        turns.push("user", vec![], &mut out, json);
        turns.push("user", vec![json!(2), json!(3)], &mut out, json);
        turns.push("model", vec![json!(4)], &mut out, json);
        turns.finish(&mut out);
        let got: Value = serde_json::from_slice(&out.into_vec()).unwrap_or_default();
        assert_eq!(got, json!([{ "parts": [1, 2, 3], "role": "user" }, { "parts": [4], "role": "model" }]));
    }
}
