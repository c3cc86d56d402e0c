//! One family's series: a map of label sets to values, capped both in series and in the
//! bytes its series render to. A label set beyond either cap is counted under the family's
//! overflow series instead, whose labels come from the routes alone, so clients inventing
//! keys or model names cannot grow memory or the `/metrics` page without bound.

use std::hash::{BuildHasherDefault, Hash, Hasher};

use hashbrown::hash_map::EntryRef;
use hashbrown::{Equivalent, HashMap};

/// Most label sets one family keeps.
pub const MAX_SERIES: usize = 10_000;

/// FNV-1a: label keys are short and come from the gateway's own tables or bounded
/// client strings, so the fast hash fits better than SipHash (the family is bounded anyway).
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
        const PRIME: u64 = 0x0100_0000_01b3;
        let start = if self.0 == 0 { OFFSET } else { self.0 };
        self.0 = bytes.iter().fold(start, |h, b| (h ^ u64::from(*b)).wrapping_mul(PRIME));
    }
}

/// A bounded map of label sets to values.
#[derive(Debug)]
pub(crate) struct Family<K, V> {
    pub(crate) series: HashMap<K, V, BuildHasherDefault<Fnv>>,
    /// What the admitted series render to, and the most they may.
    bytes: usize,
    budget: usize,
}

impl<K: Eq + Hash, V: Default> Default for Family<K, V> {
    /// A family whose labels come from the routes alone: capped in series only.
    fn default() -> Self {
        Family::with_budget(usize::MAX)
    }
}

impl<K: Eq + Hash, V: Default> Family<K, V> {
    /// A family whose series may render to at most `budget` bytes.
    pub(crate) fn with_budget(budget: usize) -> Self {
        Family { series: HashMap::default(), bytes: 0, budget }
    }

    /// The series for `key`, admitted if it fits both caps (`cost` is what it renders to),
    /// else the one for `overflow()`; an overflow series is always admitted. `key` may be a
    /// borrowed view of the label set: `own` makes the key kept only when the series is new,
    /// so finding a known series allocates nothing.
    pub(crate) fn get<Q>(
        &mut self,
        key: &Q,
        own: impl FnOnce(&Q) -> K,
        cost: impl FnOnce(&K) -> usize,
        overflow: impl FnOnce() -> K,
    ) -> &mut V
    where
        Q: Hash + Equivalent<K> + ?Sized,
    {
        if !self.series.contains_key(key) {
            let key = self.admit(own(key), cost, overflow);
            return self.series.entry(key).or_default();
        }
        match self.series.entry_ref(key) {
            EntryRef::Occupied(found) => found.into_mut(),
            // Not reached (the series is there); `own(key)` is `key`'s own form.
            EntryRef::Vacant(room) => room.insert_with_key(own(key), V::default()),
        }
    }

    /// A new label set's key if it fits both caps, else the overflow's.
    fn admit(&mut self, key: K, cost: impl FnOnce(&K) -> usize, overflow: impl FnOnce() -> K) -> K {
        if self.series.len() >= MAX_SERIES {
            return overflow();
        }
        let bytes = self.bytes.saturating_add(cost(&key));
        if bytes > self.budget {
            overflow()
        } else {
            self.bytes = bytes;
            key
        }
    }

    /// The series for a key whose labels come from the routes alone (a deployment and a
    /// status code), capped in series only.
    #[expect(clippy::needless_pass_by_value, reason = "such keys are small Copy values, passed as they are made")]
    pub(crate) fn at(&mut self, key: K) -> &mut V
    where
        K: Clone,
    {
        let overflow = key.clone();
        self.get(&key, Clone::clone, |_| 0, || overflow)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_family_overflows_at_its_byte_budget_and_keeps_known_series() {
        let mut family: Family<String, u32> = Family::with_budget(100);
        for name in ["a", "b", "c"] {
            *family.get(name, str::to_owned, |_| 40, || "over".to_owned()) += 1;
        }
        *family.get("a", str::to_owned, |_| 40, || "over".to_owned()) += 1;
        assert_eq!(family.series.get("a"), Some(&2), "a known series is found whatever the budget");
        assert_eq!(family.series.get("b"), Some(&1));
        assert_eq!(family.series.get("c"), None, "the third would pass 100 bytes");
        assert_eq!(family.series.get("over"), Some(&1));
    }

    #[test]
    fn a_family_overflows_at_its_series_cap() {
        let mut family: Family<usize, u32> = Family::default();
        for i in 0..MAX_SERIES + 3 {
            *family.get(&i, Clone::clone, |_| 0, || usize::MAX) += 1;
        }
        assert_eq!(family.series.len(), MAX_SERIES + 1);
        assert_eq!(family.series.get(&usize::MAX), Some(&3));
    }
}
