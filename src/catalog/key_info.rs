//! `GET /key/info`: a virtual key's alias, team, models, limits, spend and remaining budget
//! this period, and expiry, in LiteLLM's `{"key": <hash>, "info": {...}}` shape. A key sees
//! itself; the master key names any alias with `?key=`. Served from the counters, no provider
//! (in `catalog`, with the other answers that need none, so `keys` needs no `respond`).

use http::StatusCode;
use serde_json::{Value, json};

use crate::error::Error;
use crate::keys::Keys;
use crate::quota::Usage;
use crate::quota::clock::python_utc;
use crate::respond::{self, Body};

/// The answer for the caller's key `caller` (`None`: the master key, or open access).
pub fn answer(keys: &Keys, caller: Option<u16>, query: Option<&str>) -> Result<http::Response<Body>, Error> {
    let asked = query.and_then(|q| q.split('&').find_map(|p| p.strip_prefix("key="))).filter(|a| !a.is_empty());
    let index = match (caller, asked) {
        (Some(own), None) => own,
        (Some(own), Some(alias)) if keys.key(own).alias == alias || keys.key(own).hashes.contains(&alias) => own,
        (None, Some(alias)) => keys.by_alias(alias).ok_or_else(|| Error::UnknownKey { alias: alias.to_owned() })?,
        (Some(_), Some(_)) | (None, None) => return Err(Error::KeyInfoDenied),
    };
    Ok(respond::json(StatusCode::OK, &body(keys, index)))
}

fn body(keys: &Keys, index: u16) -> Value {
    let key = keys.key(index);
    let usage = keys.usage(index);
    let own = usage.first().copied().unwrap_or_default();
    let mut info = figures(&own);
    info["key_alias"] = json!(key.alias);
    info["models"] = json!(key.models);
    info["expires"] = json!(key.expires.map(iso));
    info["metadata"] = serde_json::from_str(key.metadata_json).unwrap_or_else(|_| json!({}));
    info["team_id"] = json!(keys.team_of(index).map(|t| t.id));
    info["team_alias"] = json!(keys.team_of(index).and_then(|t| t.alias));
    if let (Some(team), Some(counted)) = (keys.team_of(index), usage.get(1)) {
        let mut t = figures(counted);
        t["team_id"] = json!(team.id);
        t["team_alias"] = json!(team.alias);
        t["models"] = json!(team.models);
        info["team"] = t;
    }
    json!({ "key": key.hashes.first(), "info": info })
}

/// Limits, spend and what is left of them, for a key or a team.
fn figures(usage: &Usage) -> Value {
    let l = usage.limits;
    json!({
        "spend": usage.spend,
        "max_budget": l.max_budget,
        "remaining_budget": usage.remaining_budget(),
        "budget_duration": l.budget_duration_s.map(duration),
        "budget_reset_at": usage.resets_at_ms.map(|ms| iso(ms / 1000)),
        "rpm_limit": l.rpm,
        "tpm_limit": l.tpm,
        "max_parallel_requests": l.max_parallel,
        "remaining_requests": usage.remaining_requests(),
        "remaining_tokens": usage.remaining_tokens(),
    })
}

/// `2027-06-30T00:00:00+00:00`.
fn iso(unix_s: u64) -> String {
    python_utc(unix_s).replacen(' ', "T", 1)
}

/// Seconds in the largest whole unit LiteLLM writes (`30d`, `1h`, `10m`, `30s`).
fn duration(seconds: u64) -> String {
    const UNITS: [(u64, &str); 3] = [(86_400, "d"), (3_600, "h"), (60, "m")];
    UNITS
        .iter()
        .find(|(size, _)| seconds.is_multiple_of(*size))
        .map_or_else(|| format!("{seconds}s"), |(size, unit)| format!("{}{unit}", seconds / size))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_print_in_their_largest_unit() {
        assert_eq!(duration(2_592_000), "30d");
        assert_eq!(duration(3_600), "1h");
        assert_eq!(duration(600), "10m");
        assert_eq!(duration(30), "30s");
        assert_eq!(iso(0), "1970-01-01T00:00:00+00:00");
    }
}
