//! Dates for key expiries: `2027-06-30` or `2027-06-30T12:00:00Z` to unix seconds, and the
//! build's clock they are checked against (`SOURCE_DATE_EPOCH` when set, so a reproducible
//! build checks against its fixed date, else the system clock). The clock only decides
//! whether a build passes; it never reaches the generated code.

use std::time::{SystemTime, UNIX_EPOCH};

const SECONDS_PER_DAY: i64 = 86_400;

/// The time expiries must lie after: `SOURCE_DATE_EPOCH`, else now.
pub fn build_now() -> u64 {
    std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or_else(|| SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()))
}

/// `YYYY-MM-DD` (midnight UTC, LiteLLM's reading of a date) or `YYYY-MM-DDTHH:MM:SS` with `Z`
/// or `+00:00` (or no zone: UTC), a space allowed for the `T`.
pub fn parse_time(text: &str) -> Option<u64> {
    let text = text.trim();
    let (date, time) = match text.find(['T', ' ']) {
        Some(at) => (&text[..at], Some(&text[at + 1..])),
        None => (text, None),
    };
    let mut parts = date.split('-');
    let year: i64 = parts.next()?.parse().ok()?;
    let month: u32 = parts.next()?.parse().ok()?;
    let day: u32 = parts.next()?.parse().ok()?;
    if parts.next().is_some() || !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    let mut seconds = days_from_civil(year, month, day) * SECONDS_PER_DAY;
    if let Some(time) = time {
        let time = time.strip_suffix('Z').or_else(|| time.strip_suffix("+00:00")).unwrap_or(time);
        let mut hms = time.split(':');
        let h: i64 = hms.next()?.parse().ok()?;
        let m: i64 = hms.next()?.parse().ok()?;
        let s: i64 = hms.next().map_or(Some(0), |s| s.split('.').next()?.parse().ok())?;
        if hms.next().is_some() || h > 23 || m > 59 || s > 59 {
            return None;
        }
        seconds += h * 3_600 + m * 60 + s;
    }
    u64::try_from(seconds).ok()
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_times_read_as_utc() {
        assert_eq!(parse_time("1970-01-01"), Some(0));
        assert_eq!(parse_time("2027-06-30"), Some(1_814_313_600));
        assert_eq!(parse_time("2027-06-30T12:00:00Z"), Some(1_814_356_800));
        assert_eq!(parse_time("2027-06-30 12:00:00+00:00"), Some(1_814_356_800));
        assert_eq!(parse_time("2024-02-29"), Some(1_709_164_800));
        for bad in ["2023-02-29", "2027-13-01", "2027-06", "tomorrow", "2027-06-30T25:00:00Z"] {
            assert_eq!(parse_time(bad), None, "{bad}");
        }
    }
}
