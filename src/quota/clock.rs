//! The wall clock key expiries and budget periods are read on, and the UTC form LiteLLM
//! prints times in. Tests move it forward with [`Clock::advance`] instead of sleeping.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

const SECONDS_PER_DAY: u64 = 86_400;

/// System time plus an offset that only [`Clock::advance`] changes.
#[derive(Debug, Default)]
pub struct Clock {
    offset_ms: AtomicU64,
}

impl Clock {
    pub fn system() -> Self {
        Clock::default()
    }

    /// Unix milliseconds now.
    pub fn now_ms(&self) -> u64 {
        let system = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis());
        u64::try_from(system).unwrap_or(u64::MAX).saturating_add(self.offset_ms.load(Ordering::Relaxed))
    }

    /// Moves the clock forward by `ms` (tests: an expiry or a budget period passing).
    pub fn advance(&self, ms: u64) {
        self.offset_ms.fetch_add(ms, Ordering::Relaxed);
    }
}

/// `2027-06-30 00:00:00+00:00`: unix seconds as Python prints an aware UTC datetime.
pub fn python_utc(unix_s: u64) -> String {
    let (days, rest) = (unix_s / SECONDS_PER_DAY, unix_s % SECONDS_PER_DAY);
    let (y, m, d) = civil_from_days(i64::try_from(days).unwrap_or(i64::MAX));
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}+00:00", rest / 3_600, rest % 3_600 / 60, rest % 60)
}

/// `2026-12-01 12:00:00 UTC`: the form LiteLLM's rate-limit messages give reset times in.
pub fn utc_plain(unix_s: u64) -> String {
    let python = python_utc(unix_s);
    format!("{} UTC", python.strip_suffix("+00:00").unwrap_or(&python))
}

/// (year, month, day) of days since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = u32::try_from(doy - (153 * mp + 2) / 5 + 1).unwrap_or(1);
    let month = u32::try_from(if mp < 10 { mp + 3 } else { mp - 9 }).unwrap_or(1);
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_print_as_python_prints_utc() {
        assert_eq!(python_utc(0), "1970-01-01 00:00:00+00:00");
        assert_eq!(python_utc(1_814_356_800), "2027-06-30 12:00:00+00:00");
        assert_eq!(python_utc(1_709_164_800 + 59), "2024-02-29 00:00:59+00:00");
    }

    #[test]
    fn the_clock_moves_forward_when_told() {
        let clock = Clock::system();
        let before = clock.now_ms();
        clock.advance(3_600_000);
        assert!(clock.now_ms() >= before + 3_600_000);
    }
}
