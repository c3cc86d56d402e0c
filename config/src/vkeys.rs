//! Virtual keys and teams (`keys:` and `teams:` beside `model_list`): who may call which
//! models, how often and for how much. Validated here (unknown model or team, duplicate
//! alias or hash, a literal key, a past expiry, a bad `budget_duration`); `codegen` writes
//! them as the hash-keyed table the gateway's `keys` module probes.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_yaml::{Mapping, Value};

use crate::glob::glob;
use crate::keys::{Section, closest};
use crate::parse::{Walker, join};
use crate::routes::Routes;
use crate::{ConfigError, clock};

/// LiteLLM's name for "every model of the key's team".
pub const ALL_TEAM_MODELS: &str = "all-team-models";
/// Hex digits of a SHA-256.
const SHA256_HEX: usize = 64;

const DB: &str = "kept in the database by LiteLLM; model-router has none";

pub const KEY: Section = Section {
    used: &[
        "budget_duration",
        "expires",
        "key",
        "key_alias",
        "key_sha256",
        "max_budget",
        "max_parallel_requests",
        "metadata",
        "models",
        "rpm_limit",
        "team_id",
        "tpm_limit",
    ],
    ignored: &[
        ("aliases", DB),
        ("blocked", "remove the key, or revoke it with MODEL_ROUTER_REVOKED_KEYS"),
        ("model_max_budget", DB),
        ("soft_budget", DB),
        ("tags", DB),
        ("user_id", DB),
    ],
};

pub const TEAM: Section = Section {
    used: &[
        "budget_duration",
        "max_budget",
        "max_parallel_requests",
        "metadata",
        "models",
        "rpm_limit",
        "team_alias",
        "team_id",
        "tpm_limit",
    ],
    ignored: &[("blocked", DB), ("members", DB), ("organization_id", DB), ("tags", DB)],
};

/// The limits a key or team carries; `None` is no limit.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct LimitSpec {
    pub rpm: Option<u64>,
    pub tpm: Option<u64>,
    pub max_parallel: Option<u32>,
    /// USD per budget period (the whole life of the key without `budget_duration`).
    pub max_budget: Option<f64>,
    pub budget_duration_s: Option<u64>,
}

/// One `keys:` entry.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KeySpec {
    pub alias: String,
    /// Lower-case hex SHA-256 of each accepted secret (two during a rotation).
    pub hashes: Vec<String>,
    /// `key: os.environ/NAME`: a secret read and hashed at start-up.
    pub env: Option<String>,
    /// Index into [`KeysSpec::teams`].
    pub team: Option<usize>,
    /// Names, aliases and wildcards; empty means every model (of the team, with one).
    pub models: Vec<String>,
    pub limits: LimitSpec,
    /// Unix seconds after which the key is refused.
    pub expires: Option<u64>,
    /// `metadata` as compact JSON (`{}` without).
    pub metadata_json: String,
}

/// One `teams:` entry.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TeamSpec {
    pub id: String,
    pub alias: Option<String>,
    pub models: Vec<String>,
    pub limits: LimitSpec,
}

/// An environment's keys and teams; empty without `keys:`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct KeysSpec {
    pub keys: Vec<KeySpec>,
    pub teams: Vec<TeamSpec>,
}

impl KeysSpec {
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty() && self.teams.is_empty()
    }
}

/// Reads `keys:` and `teams:` of `top` (at `path`), checking models against `routes` and
/// expiries against `now` (unix seconds: `SOURCE_DATE_EPOCH`, else the build's clock).
pub(crate) fn parse(
    walker: &mut Walker<'_>,
    top: &Mapping,
    path: &str,
    routes: &Routes,
    now: u64,
) -> Result<KeysSpec, ConfigError> {
    let mut spec = KeysSpec::default();
    for (i, item) in list(walker, top.get("teams"), &join(path, "teams"))?.iter().enumerate() {
        let at = format!("{}[{i}]", join(path, "teams"));
        let team = team(walker, item, &at, routes)?;
        if spec.teams.iter().any(|t| t.id == team.id) {
            return Err(walker.error(&join(&at, "team_id"), format!("team \"{}\" is defined twice", team.id)));
        }
        spec.teams.push(team);
    }
    for (i, item) in list(walker, top.get("keys"), &join(path, "keys"))?.iter().enumerate() {
        let at = format!("{}[{i}]", join(path, "keys"));
        let key = key(walker, item, &at, routes, &spec.teams, now)?;
        if spec.keys.iter().any(|k| k.alias == key.alias) {
            return Err(walker.error(&join(&at, "key_alias"), format!("key alias \"{}\" is used twice", key.alias)));
        }
        let taken = spec.keys.iter().flat_map(|k| &k.hashes).find(|h| key.hashes.contains(h));
        if let Some(hash) = taken {
            return Err(walker.error(&join(&at, "key_sha256"), format!("hash {hash} belongs to another key too")));
        }
        spec.keys.push(key);
    }
    Ok(spec)
}

fn list<'v>(walker: &Walker<'_>, value: Option<&'v Value>, path: &str) -> Result<&'v [Value], ConfigError> {
    match value {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Sequence(items)) => Ok(items),
        Some(_) => Err(walker.error(path, "expected a list")),
    }
}

fn team(walker: &mut Walker<'_>, item: &Value, path: &str, routes: &Routes) -> Result<TeamSpec, ConfigError> {
    let map = walker.section(item, path, &TEAM, &[])?;
    let id = walker
        .string(map, "team_id", path)?
        .filter(|s| !s.is_empty())
        .ok_or_else(|| walker.error(&join(path, "team_id"), "required: the team's id"))?;
    Ok(TeamSpec {
        id,
        alias: walker.string(map, "team_alias", path)?,
        models: models(walker, map, path, routes, false)?,
        limits: limits(walker, map, path)?,
    })
}

fn key(
    walker: &mut Walker<'_>,
    item: &Value,
    path: &str,
    routes: &Routes,
    teams: &[TeamSpec],
    now: u64,
) -> Result<KeySpec, ConfigError> {
    let map = walker.section(item, path, &KEY, &[])?;
    let alias = walker
        .string(map, "key_alias", path)?
        .filter(|s| !s.is_empty())
        .ok_or_else(|| walker.error(&join(path, "key_alias"), "required: the name the key is known by"))?;
    let hashes = hashes(walker, map.get("key_sha256"), &join(path, "key_sha256"))?;
    let env = match walker.string(map, "key", path)? {
        None => None,
        Some(raw) => match raw.strip_prefix("os.environ/") {
            Some(name) if !name.is_empty() => Some(name.to_owned()),
            _ => {
                return Err(walker.error(
                    &join(path, "key"),
                    "a key written into the config would ship in the binary; write key_sha256 (`model-router keys hash`) or key: os.environ/NAME",
                ));
            }
        },
    };
    if hashes.is_empty() && env.is_none() {
        return Err(walker.error(path, "needs key_sha256 (`model-router keys new`) or key: os.environ/NAME"));
    }
    let team = match walker.string(map, "team_id", path)? {
        None => None,
        Some(id) => Some(teams.iter().position(|t| t.id == id).ok_or_else(|| {
            let fix = closest(&id, teams.iter().map(|t| t.id.as_str()))
                .map_or_else(|| "; define it under teams:".to_owned(), |t| format!("; did you mean \"{t}\"?"));
            walker.error(&join(path, "team_id"), format!("unknown team \"{id}\"{fix}"))
        })?),
    };
    let expires = match walker.string(map, "expires", path)? {
        None => None,
        Some(text) => {
            let at = clock::parse_time(&text).ok_or_else(|| {
                walker.error(
                    &join(path, "expires"),
                    format!("\"{text}\" is not a date (2027-06-30) or time (2027-06-30T12:00:00Z)"),
                )
            })?;
            if at <= now {
                return Err(walker.error(
                    &join(path, "expires"),
                    format!(
                        "{text} is already past (build clock: SOURCE_DATE_EPOCH, else now); remove the key or extend it"
                    ),
                ));
            }
            Some(at)
        }
    };
    Ok(KeySpec {
        alias,
        hashes,
        env,
        team,
        models: models(walker, map, path, routes, team.is_some())?,
        limits: limits(walker, map, path)?,
        expires,
        metadata_json: metadata(walker, map.get("metadata"), &join(path, "metadata"))?,
    })
}

/// One hash or a list of them, each 64 hex digits, stored lower-case.
fn hashes(walker: &Walker<'_>, value: Option<&Value>, path: &str) -> Result<Vec<String>, ConfigError> {
    let items: Vec<&Value> = match value {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Sequence(items)) => items.iter().collect(),
        Some(one) => vec![one],
    };
    let mut out: Vec<String> = Vec::new();
    for item in items {
        let hex = item.as_str().map(str::to_ascii_lowercase).unwrap_or_default();
        if hex.len() != SHA256_HEX || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(walker.error(path, "expected the 64 hex digits of a SHA-256 (`model-router keys hash`)"));
        }
        if out.contains(&hex) {
            return Err(walker.error(path, format!("hash {hex} is listed twice")));
        }
        out.push(hex);
    }
    Ok(out)
}

/// `models:`, each naming something the routes serve.
fn models(
    walker: &Walker<'_>,
    map: &Mapping,
    path: &str,
    routes: &Routes,
    in_team: bool,
) -> Result<Vec<String>, ConfigError> {
    let at = join(path, "models");
    let names: Vec<String> = match map.get("models") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Sequence(items)) => items
            .iter()
            .map(|v| v.as_str().map(str::to_owned).ok_or_else(|| walker.error(&at, "model names must be strings")))
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(walker.error(&at, "expected a list of model names")),
    };
    for name in &names {
        if name == ALL_TEAM_MODELS && !in_team {
            return Err(walker.error(&at, format!("{ALL_TEAM_MODELS} needs a team_id")));
        }
        if name != ALL_TEAM_MODELS && name != "*" && !served(routes, name) {
            let known =
                routes.groups.iter().map(|g| g.name.as_str()).chain(routes.aliases.iter().map(|a| a.alias.as_str()));
            let fix = closest(name, known).map_or_else(String::new, |k| format!("; did you mean \"{k}\"?"));
            return Err(walker.error(&at, format!("\"{name}\" names no model of model_list{fix}")));
        }
    }
    Ok(names)
}

/// Whether `name` is a group, an alias, a deployment's own name or a wildcard route, or
/// (with `*`) matches one of those.
fn served(routes: &Routes, name: &str) -> bool {
    let names = || {
        routes
            .groups
            .iter()
            .map(|g| g.name.as_str())
            .chain(routes.aliases.iter().map(|a| a.alias.as_str()))
            .chain(routes.deployments.iter().map(|d| d.model.as_str()))
    };
    if names().any(|n| n == name) || routes.wildcards.iter().any(|w| glob(&w.pattern, name)) {
        return true;
    }
    name.contains('*') && names().any(|n| glob(name, n))
}

fn limits(walker: &Walker<'_>, map: &Mapping, path: &str) -> Result<LimitSpec, ConfigError> {
    let duration = match walker.string(map, "budget_duration", path)? {
        None => None,
        Some(text) => Some(duration_s(&text).ok_or_else(|| {
            walker.error(
                &join(path, "budget_duration"),
                format!("\"{text}\" is not a duration such as 30s, 10m, 1h, 1d or 30d"),
            )
        })?),
    };
    Ok(LimitSpec {
        rpm: walker.whole(map, "rpm_limit", path)?,
        tpm: walker.whole(map, "tpm_limit", path)?,
        max_parallel: walker.whole(map, "max_parallel_requests", path)?.map(|n| u32::try_from(n).unwrap_or(u32::MAX)),
        max_budget: walker.number(map, "max_budget", path)?,
        budget_duration_s: duration,
    })
}

/// `30s`, `10m`, `1h`, `1d`, `30d` (LiteLLM's forms) in seconds; 0 and other units are refused.
pub fn duration_s(text: &str) -> Option<u64> {
    const UNITS: [(&str, u64); 4] = [("s", 1), ("m", 60), ("h", 3_600), ("d", 86_400)];
    let text = text.trim();
    let (unit, scale) = UNITS.iter().find(|(u, _)| text.ends_with(u))?;
    let n: u64 = text.strip_suffix(unit)?.parse().ok()?;
    n.checked_mul(*scale).filter(|s| *s > 0)
}

fn metadata(walker: &Walker<'_>, value: Option<&Value>, path: &str) -> Result<String, ConfigError> {
    match value {
        None | Some(Value::Null) => Ok("{}".to_owned()),
        Some(v @ Value::Mapping(_)) => {
            let json: BTreeMap<String, serde_json::Value> = serde_yaml::from_value(v.clone())
                .map_err(|e| walker.error(path, format!("not representable as JSON: {e}")))?;
            serde_json::to_string(&json).map_err(|e| walker.error(path, e.to_string()))
        }
        Some(_) => Err(walker.error(path, "expected a mapping")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_litellm_writes_them() {
        assert_eq!(duration_s("30s"), Some(30));
        assert_eq!(duration_s("10m"), Some(600));
        assert_eq!(duration_s("1h"), Some(3_600));
        assert_eq!(duration_s("30d"), Some(2_592_000));
        for bad in ["", "0d", "1w", "d", "1.5h", "-1d", "1mo"] {
            assert_eq!(duration_s(bad), None, "{bad}");
        }
    }
}
