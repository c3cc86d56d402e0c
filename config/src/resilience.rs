//! The router's resilience settings: retries' spacing, cooldowns and the three kinds of
//! fallbacks, read from `router_settings` (or `litellm_settings`, where LiteLLM also takes
//! them; `router_settings` wins). Fallback targets must name model groups or aliases.

use serde::Serialize;
use serde_yaml::{Mapping, Value};

use crate::ConfigError;
use crate::keys;
use crate::parse::{Walker, join};
use crate::routes::{AliasSpec, GroupSpec};

/// LiteLLM's `DEFAULT_COOLDOWN_TIME_SECONDS`.
const DEFAULT_COOLDOWN_MS: u64 = 5_000;
/// LiteLLM's `max_fallbacks` default.
const DEFAULT_MAX_FALLBACKS: u64 = 5;

/// Group indices to fall back to, for one group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FallbackSpec {
    pub group: usize,
    pub targets: Vec<usize>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResilienceSpec {
    /// `retry_after`: the least time between two attempts.
    pub retry_after_ms: u64,
    /// `allowed_fails`: failures a minute before a deployment cools down; `None`: LiteLLM's
    /// defaults (429 in a multi-deployment group, or more than half failing).
    pub allowed_fails: Option<u32>,
    pub cooldown_ms: u64,
    pub disable_cooldowns: bool,
    pub fallbacks: Vec<FallbackSpec>,
    pub default_fallbacks: Vec<usize>,
    pub context_window_fallbacks: Vec<FallbackSpec>,
    pub content_policy_fallbacks: Vec<FallbackSpec>,
    pub max_fallbacks: u32,
}

/// Reads the resilience keys of `router` (at `router_path`), falling back to `settings`.
pub(crate) fn parse(
    walker: &Walker<'_>,
    sections: [(&Mapping, &str); 2],
    groups: &[GroupSpec],
    aliases: &[AliasSpec],
) -> Result<ResilienceSpec, ConfigError> {
    let [(router, router_path), (settings, settings_path)] = sections;
    let pick = |key: &str| -> (&Mapping, &str) {
        if router.contains_key(key) { (router, router_path) } else { (settings, settings_path) }
    };
    let whole = |key: &str| {
        let (map, path) = pick(key);
        walker.whole(map, key, path)
    };
    let group_list = |key: &str| -> Result<Vec<FallbackSpec>, ConfigError> {
        let (map, path) = pick(key);
        fallbacks(walker, map.get(key), &join(path, key), groups, aliases)
    };
    let (map, path) = pick("default_fallbacks");
    let default_fallbacks = match map.get("default_fallbacks") {
        None | Some(Value::Null) => Vec::new(),
        Some(list) => targets(walker, list, &join(path, "default_fallbacks"), groups, aliases)?,
    };
    let (cooldown_map, cooldown_path) = pick("cooldown_time");
    let (disable_map, disable_path) = pick("disable_cooldowns");
    let (after_map, after_path) = pick("retry_after");
    Ok(ResilienceSpec {
        retry_after_ms: walker.seconds_ms(after_map, "retry_after", after_path)?.unwrap_or(0),
        allowed_fails: whole("allowed_fails")?.map(|n| u32::try_from(n).unwrap_or(u32::MAX)),
        cooldown_ms: walker.seconds_ms(cooldown_map, "cooldown_time", cooldown_path)?.unwrap_or(DEFAULT_COOLDOWN_MS),
        disable_cooldowns: walker.boolean(disable_map, "disable_cooldowns", disable_path)?.unwrap_or(false),
        fallbacks: group_list("fallbacks")?,
        default_fallbacks,
        context_window_fallbacks: group_list("context_window_fallbacks")?,
        content_policy_fallbacks: group_list("content_policy_fallbacks")?,
        max_fallbacks: u32::try_from(whole("max_fallbacks")?.unwrap_or(DEFAULT_MAX_FALLBACKS)).unwrap_or(u32::MAX),
    })
}

/// `[{"group": ["fallback", ...]}, ...]`.
fn fallbacks(
    walker: &Walker<'_>,
    value: Option<&Value>,
    path: &str,
    groups: &[GroupSpec],
    aliases: &[AliasSpec],
) -> Result<Vec<FallbackSpec>, ConfigError> {
    let Some(value) = value.filter(|v| !v.is_null()) else { return Ok(Vec::new()) };
    let Value::Sequence(items) = value else {
        return Err(walker.error(path, "expected a list like [{\"gpt-4o\": [\"gpt-4o-mini\"]}]"));
    };
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let at = format!("{path}[{i}]");
        for (name, list) in walker.mapping(item, &at)? {
            let name = name.as_str().ok_or_else(|| walker.error(&at, "group names must be strings"))?;
            let group = group_index(walker, name, &at, groups, aliases)?;
            let targets = targets(walker, list, &join(&at, name), groups, aliases)?;
            out.push(FallbackSpec { group, targets });
        }
    }
    Ok(out)
}

fn targets(
    walker: &Walker<'_>,
    list: &Value,
    path: &str,
    groups: &[GroupSpec],
    aliases: &[AliasSpec],
) -> Result<Vec<usize>, ConfigError> {
    let Value::Sequence(names) = list else { return Err(walker.error(path, "expected a list of model groups")) };
    names
        .iter()
        .map(|n| {
            let name = n.as_str().ok_or_else(|| walker.error(path, "model group names must be strings"))?;
            group_index(walker, name, path, groups, aliases)
        })
        .collect()
}

fn group_index(
    walker: &Walker<'_>,
    name: &str,
    path: &str,
    groups: &[GroupSpec],
    aliases: &[AliasSpec],
) -> Result<usize, ConfigError> {
    if let Some(i) = groups.iter().position(|g| g.name == name) {
        return Ok(i);
    }
    if let Some(alias) = aliases.iter().find(|a| a.alias == name) {
        return Ok(alias.group);
    }
    let fix = keys::closest(name, groups.iter().map(|g| g.name.as_str()))
        .map_or_else(String::new, |g| format!("; did you mean \"{g}\"?"));
    Err(walker.error(path, format!("unknown model group \"{name}\"{fix}")))
}
