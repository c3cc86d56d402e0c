//! The memory budget for request bodies: how many bytes of request bodies, and of the JSON
//! trees translations build from them, the gateway holds at once over all requests. `parse`
//! charges a body as it arrives (its `Content-Length` up front, else chunk by chunk); the
//! translating providers charge the tree they build. A charge the budget cannot take is
//! answered 503 with `retry-after` instead of growing the process; a [`Charge`] gives its
//! bytes back when dropped, once the upstream body has been sent.
//!
//! The default is sized to the pod: the cgroup's memory limit less [`RESERVE`] (the
//! gateway's own memory and its streams), never less than one largest body; without a
//! readable limit, [`UNLIMITED_DEFAULT`]. `MODEL_ROUTER_BODY_BUDGET_MB` sets it outright.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::Error;

const MIB: u64 = 1024 * 1024;
/// Memory kept out of the budget: the idle process (about 7 MiB), 1,000 open streams (58 MiB
/// peak in the benchmark), buffers and allocator slack.
pub const RESERVE: u64 = 64 * MIB;
/// The budget when no cgroup memory limit can be read (a laptop, a container run without a
/// limit): six bodies of the default 32 MiB maximum.
pub const UNLIMITED_DEFAULT: u64 = 192 * MIB;
/// What a client over the budget is told to wait: bodies are held for one upstream call.
const RETRY_AFTER_S: u64 = 1;
/// cgroup v2's limit file, then v1's.
const CGROUP_LIMITS: &[&str] = &["/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"];
/// cgroup v1 writes "no limit" as a number near `i64::MAX`; anything above this is none.
const NO_LIMIT_ABOVE: u64 = 1 << 60;

/// The bytes held now, out of a fixed total.
#[derive(Debug)]
struct Inner {
    held: AtomicU64,
    total: u64,
}

/// The process-wide budget; cheap to share.
#[derive(Debug, Clone)]
pub struct Budget(Arc<Inner>);

/// Bytes held against the budget until dropped.
#[derive(Debug)]
pub struct Charge {
    budget: Arc<Inner>,
    bytes: u64,
    /// What the same request holds under other charges, so a request that could never fit
    /// is told so rather than to try again.
    beside: u64,
}

impl Budget {
    pub fn new(total: u64) -> Self {
        Budget(Arc::new(Inner { held: AtomicU64::new(0), total }))
    }

    pub fn total(&self) -> u64 {
        self.0.total
    }

    /// Bytes charged now, over all requests.
    pub fn held(&self) -> u64 {
        self.0.held.load(Ordering::Acquire)
    }

    /// Charges `bytes`, or refuses with [`Error::BodyBudget`] when they do not fit now and
    /// with [`Error::OverBudget`] when they never could.
    pub fn charge(&self, bytes: u64) -> Result<Charge, Error> {
        self.charge_beside(0, bytes)
    }

    /// Like [`Budget::charge`], for a request already holding `beside` bytes under other
    /// charges.
    pub fn charge_beside(&self, beside: u64, bytes: u64) -> Result<Charge, Error> {
        let mut charge = Charge { budget: Arc::clone(&self.0), bytes: 0, beside };
        charge.grow(bytes)?;
        Ok(charge)
    }
}

impl Charge {
    /// Adds `bytes` to this charge, refused as [`Budget::charge`] refuses.
    pub fn grow(&mut self, bytes: u64) -> Result<(), Error> {
        let inner = &self.budget;
        let total = inner.total;
        let need = self.beside.saturating_add(self.bytes).saturating_add(bytes);
        if need > total {
            let need_mb = need.div_ceil(MIB);
            return Err(Error::OverBudget { need_mb, budget_mb: total / MIB });
        }
        inner
            .held
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |held| {
                held.checked_add(bytes).filter(|after| *after <= total)
            })
            .map_err(|_| Error::BodyBudget { budget_mb: total / MIB, wait_s: RETRY_AFTER_S })?;
        self.bytes += bytes;
        Ok(())
    }

    /// Makes this charge `bytes`: grown (refused as [`Budget::charge`] refuses) or given back.
    pub fn set(&mut self, bytes: u64) -> Result<(), Error> {
        if bytes >= self.bytes {
            return self.grow(bytes - self.bytes);
        }
        self.budget.held.fetch_sub(self.bytes - bytes, Ordering::AcqRel);
        self.bytes = bytes;
        Ok(())
    }

    pub fn bytes(&self) -> u64 {
        self.bytes
    }
}

impl Drop for Charge {
    fn drop(&mut self) {
        self.budget.held.fetch_sub(self.bytes, Ordering::AcqRel);
    }
}

/// The budget for a process whose memory limit is `limit` (`None`: no limit known) and
/// whose largest body is `max_body`: the limit less [`RESERVE`], at least one largest body.
pub fn sized_to(limit: Option<u64>, max_body: u64) -> u64 {
    limit.map_or(UNLIMITED_DEFAULT, |limit| limit.saturating_sub(RESERVE)).max(max_body)
}

/// The cgroup memory limit of this process, when one is set and readable.
pub fn memory_limit() -> Option<u64> {
    CGROUP_LIMITS.iter().find_map(|path| std::fs::read_to_string(path).ok()).and_then(|text| parse_limit(&text))
}

/// A cgroup limit file's content: bytes, or `max` / a huge number for none.
pub fn parse_limit(text: &str) -> Option<u64> {
    text.trim().parse::<u64>().ok().filter(|bytes| *bytes > 0 && *bytes <= NO_LIMIT_ABOVE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charges_fit_until_the_total_and_come_back_when_dropped() {
        let budget = Budget::new(100);
        let first = budget.charge(60).unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(budget.charge(41), Err(Error::BodyBudget { .. })));
        let mut second = budget.charge(40).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(budget.held(), 100);
        assert!(matches!(second.grow(1), Err(Error::BodyBudget { .. })));
        drop(first);
        assert!(second.grow(50).is_ok());
        assert_eq!((second.bytes(), budget.held()), (90, 90));
        assert!(second.set(30).is_ok());
        assert_eq!((second.bytes(), budget.held()), (30, 30));
        assert!(matches!(second.set(101), Err(Error::OverBudget { .. })));
        drop(second);
        assert_eq!(budget.held(), 0);
    }

    #[test]
    fn a_charge_larger_than_the_whole_budget_is_never_accepted() {
        let budget = Budget::new(10 * MIB);
        assert!(matches!(budget.charge(10 * MIB + 1), Err(Error::OverBudget { need_mb: 11, budget_mb: 10 })));
        let body = budget.charge(6 * MIB).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            matches!(budget.charge_beside(body.bytes(), 5 * MIB), Err(Error::OverBudget { need_mb: 11, .. })),
            "with what the request holds already, it could never fit"
        );
        assert!(matches!(budget.charge(5 * MIB), Err(Error::BodyBudget { .. })), "another request could, later");
        drop(body);
        assert_eq!(budget.held(), 0);
    }

    #[test]
    fn the_default_follows_the_memory_limit() {
        assert_eq!(sized_to(Some(256 * MIB), 32 * MIB), 192 * MIB);
        assert_eq!(sized_to(Some(64 * MIB), 32 * MIB), 32 * MIB, "never less than one largest body");
        assert_eq!(sized_to(None, 32 * MIB), UNLIMITED_DEFAULT);
    }

    #[test]
    fn cgroup_files_are_read_as_bytes_or_no_limit() {
        assert_eq!(parse_limit("268435456\n"), Some(256 * MIB));
        assert_eq!(parse_limit("max\n"), None);
        assert_eq!(parse_limit("9223372036854771712\n"), None, "cgroup v1 without a limit");
        assert_eq!(parse_limit("0"), None);
    }
}
