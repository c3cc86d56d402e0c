//! Walks one environment's YAML into [`Routes`]: every key classified, every value typed,
//! every mistake reported with its YAML path and a fix. Deployments are in `deployment`.

use std::collections::BTreeMap;

use serde_yaml::{Mapping, Value};

use crate::keys::{self, Kind, Section};
use crate::kinds::Strategy;
use crate::routes::{AliasSpec, GeneralSpec, GroupSpec, RouterSpec, Routes, Setting, WildcardSpec};
use crate::{Compiled, ConfigError};

use crate::deployment;

/// LiteLLM's `request_timeout` default: 6000 s.
const DEFAULT_REQUEST_TIMEOUT_MS: u64 = 6_000_000;
/// LiteLLM's `max_request_size_mb` default.
const DEFAULT_MAX_REQUEST_MB: f64 = 32.0;
const BYTES_PER_MB: f64 = 1024.0 * 1024.0;
/// LiteLLM's `DEFAULT_MAX_RETRIES`.
const DEFAULT_NUM_RETRIES: u64 = 2;

/// The walk's state: the file name for errors and the warnings gathered so far.
pub(crate) struct Walker<'a> {
    pub(crate) file: &'a str,
    pub(crate) warnings: Vec<String>,
}

impl Walker<'_> {
    pub(crate) fn error(&self, path: &str, message: impl Into<String>) -> ConfigError {
        ConfigError { file: self.file.to_owned(), path: path.to_owned(), message: message.into() }
    }

    /// `value` as a mapping whose keys all belong to `section`; ignored keys are warned
    /// about, unknown ones fail with the closest known key.
    pub(crate) fn section<'v>(
        &mut self,
        value: &'v Value,
        path: &str,
        section: &Section,
        extra_used: &[&str],
    ) -> Result<&'v Mapping, ConfigError> {
        let map = self.mapping(value, path)?;
        for key in map.keys() {
            let key = key.as_str().ok_or_else(|| self.error(path, "keys must be strings"))?;
            let at = join(path, key);
            match section.kind(key) {
                Kind::Used => {}
                Kind::Ignored(why) => self.warnings.push(format!("{at}: ignored ({why})")),
                Kind::Unknown if extra_used.contains(&key) => {}
                Kind::Unknown => {
                    let fix = section.suggest(key).map_or_else(String::new, |k| format!("; did you mean \"{k}\"?"));
                    return Err(self.error(&at, format!("unknown key \"{key}\"{fix}")));
                }
            }
        }
        Ok(map)
    }

    pub(crate) fn mapping<'v>(&self, value: &'v Value, path: &str) -> Result<&'v Mapping, ConfigError> {
        value.as_mapping().ok_or_else(|| self.error(path, "expected a mapping"))
    }

    pub(crate) fn string(&self, map: &Mapping, key: &str, path: &str) -> Result<Option<String>, ConfigError> {
        match map.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(_) => Err(self.error(&join(path, key), "expected a string")),
        }
    }

    pub(crate) fn setting(&self, map: &Mapping, key: &str, path: &str) -> Result<Option<Setting>, ConfigError> {
        Ok(self.string(map, key, path)?.map(|s| Setting::from_config(&s)))
    }

    pub(crate) fn number(&self, map: &Mapping, key: &str, path: &str) -> Result<Option<f64>, ConfigError> {
        match map.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => n
                .as_f64()
                .filter(|f| f.is_finite() && *f >= 0.0)
                .map(Some)
                .ok_or_else(|| self.error(&join(path, key), "expected a number of at least 0")),
            Some(Value::String(s)) => s
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|f| f.is_finite() && *f >= 0.0)
                .map(Some)
                .ok_or_else(|| self.error(&join(path, key), format!("expected a number, got \"{s}\""))),
            Some(_) => Err(self.error(&join(path, key), "expected a number")),
        }
    }

    pub(crate) fn whole(&self, map: &Mapping, key: &str, path: &str) -> Result<Option<u64>, ConfigError> {
        match self.number(map, key, path)? {
            None => Ok(None),
            #[expect(
                clippy::cast_possible_truncation,
                clippy::cast_sign_loss,
                reason = "checked whole and non-negative"
            )]
            Some(f) if f.fract() == 0.0 && f <= 9.0e15 => Ok(Some(f as u64)),
            Some(_) => Err(self.error(&join(path, key), "expected a whole number")),
        }
    }

    /// Seconds in the config, milliseconds in the table.
    pub(crate) fn seconds_ms(&self, map: &Mapping, key: &str, path: &str) -> Result<Option<u64>, ConfigError> {
        #[expect(clippy::cast_possible_truncation, clippy::cast_sign_loss, reason = "non-negative, rounded")]
        Ok(self.number(map, key, path)?.map(|s| (s * 1000.0).round() as u64))
    }

    pub(crate) fn boolean(&self, map: &Mapping, key: &str, path: &str) -> Result<Option<bool>, ConfigError> {
        match map.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(Some(true)),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(Some(false)),
            Some(_) => Err(self.error(&join(path, key), "expected true or false")),
        }
    }

    pub(crate) fn warn_literal(&mut self, path: &str, setting: Option<&Setting>) {
        if let Some(Setting::Literal(_)) = setting {
            self.warnings.push(format!(
                "{path}: a literal secret is compiled into the binary; use os.environ/NAME for a real one"
            ));
        }
    }
}

/// `path.key`, or `key` at the top.
pub(crate) fn join(path: &str, key: &str) -> String {
    if path.is_empty() { key.to_owned() } else { format!("{path}.{key}") }
}

/// Compiles environment `env` of the parsed document.
pub fn environment(file: &str, doc: &Value, env: &str) -> Result<Compiled, ConfigError> {
    let mut walker = Walker { file, warnings: Vec::new() };
    let config = select(&walker, doc, env)?;
    let prefix = if config.1 { format!("environments.{env}") } else { String::new() };
    let routes = routes(&mut walker, config.0, &prefix, env)?;
    Ok(Compiled { routes, warnings: walker.warnings })
}

/// The config of `env`, and whether it came from an `environments:` map.
fn select<'v>(walker: &Walker<'_>, doc: &'v Value, env: &str) -> Result<(&'v Value, bool), ConfigError> {
    let Some(envs) = doc.as_mapping().and_then(|m| m.get("environments")) else {
        return Ok((doc, false));
    };
    if let Some(other) = doc.as_mapping().and_then(|m| m.keys().find(|k| k.as_str() != Some("environments"))) {
        let key = other.as_str().unwrap_or("?");
        return Err(
            walker.error(key, "a file with `environments:` holds nothing else; move this key into an environment")
        );
    }
    let envs = walker.mapping(envs, "environments")?;
    let known: Vec<&str> = envs.keys().filter_map(Value::as_str).collect();
    match envs.get(env) {
        Some(config) => Ok((config, true)),
        None => Err(walker.error(
            "environments",
            format!("unknown environment \"{env}\" (MODEL_ROUTER_ENV); known: {}", known.join(", ")),
        )),
    }
}

fn routes(walker: &mut Walker<'_>, config: &Value, path: &str, env: &str) -> Result<Routes, ConfigError> {
    let top = walker.section(config, path, &keys::TOP, &[])?;
    let list_path = join(path, "model_list");
    let list = match top.get("model_list") {
        Some(Value::Sequence(items)) if !items.is_empty() => items,
        _ => return Err(walker.error(&list_path, "needs at least one deployment (model_name + litellm_params)")),
    };
    let mut deployments = Vec::with_capacity(list.len());
    for (i, item) in list.iter().enumerate() {
        deployments.push(deployment::parse(walker, item, &format!("{list_path}[{i}]"))?);
    }
    let groups = group(&deployments);
    let mut wildcards: Vec<WildcardSpec> = groups
        .iter()
        .enumerate()
        .filter(|(_, g)| g.name.contains('*'))
        .map(|(i, g)| WildcardSpec { pattern: g.name.clone(), group: i })
        .collect();
    wildcards.sort_by_key(|w| std::cmp::Reverse((w.pattern.len(), w.pattern.matches('*').count())));

    let empty = Value::Mapping(Mapping::new());
    let router_value = top.get("router_settings").unwrap_or(&empty);
    let router_map = walker.section(router_value, &join(path, "router_settings"), &keys::ROUTER, &[])?;
    let settings_value = top.get("litellm_settings").unwrap_or(&empty);
    let settings_map = walker.section(settings_value, &join(path, "litellm_settings"), &keys::LITELLM_SETTINGS, &[])?;
    let aliases = aliases(walker, router_map, &join(path, "router_settings"), &groups)?;
    let router = router(walker, router_map, settings_map, path)?;
    let default_parallel = walker.whole(router_map, "default_max_parallel_requests", &join(path, "router_settings"))?;
    for d in deployments.iter_mut().filter(|d| d.max_parallel.is_none()) {
        d.max_parallel = default_parallel.map(|n| u32::try_from(n).unwrap_or(u32::MAX));
    }
    let resilience = crate::resilience::parse(
        walker,
        [(router_map, &join(path, "router_settings")), (settings_map, &join(path, "litellm_settings"))],
        &groups,
        &aliases,
    )?;
    let redis = crate::redis::parse(walker, router_map, &join(path, "router_settings"))?;
    let general = general(walker, top.get("general_settings").unwrap_or(&empty), &join(path, "general_settings"))?;
    let environment =
        environment_variables(walker, top.get("environment_variables"), &join(path, "environment_variables"))?;
    let mut compiled = Routes {
        env: env.to_owned(),
        deployments,
        groups,
        aliases,
        wildcards,
        router,
        resilience,
        general,
        redis,
        environment,
        keys: crate::vkeys::KeysSpec::default(),
    };
    compiled.keys = crate::vkeys::parse(walker, top, path, &compiled, crate::clock::build_now())?;
    Ok(compiled)
}

/// Deployments sharing a `model_name` form a group, in order of first appearance.
fn group(deployments: &[crate::DeploymentSpec]) -> Vec<GroupSpec> {
    let mut groups: Vec<GroupSpec> = Vec::new();
    for (i, d) in deployments.iter().enumerate() {
        match groups.iter_mut().find(|g| g.name == d.model_name) {
            Some(g) => g.deployments.push(i),
            None => groups.push(GroupSpec { name: d.model_name.clone(), deployments: vec![i] }),
        }
    }
    groups
}

fn aliases(
    walker: &Walker<'_>,
    router: &Mapping,
    path: &str,
    groups: &[GroupSpec],
) -> Result<Vec<AliasSpec>, ConfigError> {
    let Some(value) = router.get("model_group_alias") else { return Ok(Vec::new()) };
    let path = join(path, "model_group_alias");
    let mut aliases = Vec::new();
    for (alias, target) in walker.mapping(value, &path)? {
        let alias = alias.as_str().ok_or_else(|| walker.error(&path, "aliases must be strings"))?;
        let at = join(&path, alias);
        let (name, hidden) = match target {
            Value::String(s) => (s.clone(), false),
            Value::Mapping(m) => (
                walker.string(m, "model", &at)?.ok_or_else(|| walker.error(&at, "needs `model:`"))?,
                walker.boolean(m, "hidden", &at)?.unwrap_or(false),
            ),
            _ => return Err(walker.error(&at, "expected a model group name")),
        };
        let Some(group) = groups.iter().position(|g| g.name == name) else {
            let fix = keys::closest(&name, groups.iter().map(|g| g.name.as_str()))
                .map_or_else(String::new, |g| format!("; did you mean \"{g}\"?"));
            return Err(walker.error(&at, format!("alias points at unknown model group \"{name}\"{fix}")));
        };
        aliases.push(AliasSpec { alias: alias.to_owned(), group, hidden });
    }
    Ok(aliases)
}

fn router(walker: &Walker<'_>, router: &Mapping, settings: &Mapping, path: &str) -> Result<RouterSpec, ConfigError> {
    let router_path = join(path, "router_settings");
    let settings_path = join(path, "litellm_settings");
    let strategy =
        walker.string(router, "routing_strategy", &router_path)?.unwrap_or_else(|| "simple-shuffle".to_owned());
    let Some(selected) = Strategy::from_name(&strategy) else {
        let names = || Strategy::NAMES.iter().map(|(name, _)| *name);
        let fix = keys::closest(&strategy, names()).map_or_else(
            || format!("; known: {}", names().collect::<Vec<_>>().join(", ")),
            |s| format!("; did you mean \"{s}\"?"),
        );
        return Err(
            walker.error(&join(&router_path, "routing_strategy"), format!("unknown strategy \"{strategy}\"{fix}"))
        );
    };
    let num_retries = match walker.whole(router, "num_retries", &router_path)? {
        Some(n) => Some(n),
        None => walker.whole(settings, "num_retries", &settings_path)?,
    };
    let callbacks = match settings.get("callbacks") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Sequence(items)) => items.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
        Some(_) => return Err(walker.error(&join(&settings_path, "callbacks"), "expected a list of names")),
    };
    Ok(RouterSpec {
        routing_strategy: strategy,
        strategy: selected,
        num_retries: u32::try_from(num_retries.unwrap_or(DEFAULT_NUM_RETRIES)).unwrap_or(u32::MAX),
        timeout_ms: walker.seconds_ms(router, "timeout", &router_path)?,
        stream_timeout_ms: walker.seconds_ms(router, "stream_timeout", &router_path)?,
        request_timeout_ms: walker
            .seconds_ms(settings, "request_timeout", &settings_path)?
            .unwrap_or(DEFAULT_REQUEST_TIMEOUT_MS),
        drop_params: walker.boolean(settings, "drop_params", &settings_path)?.unwrap_or(false),
        require_auth_for_metrics: walker
            .boolean(settings, "require_auth_for_metrics_endpoint", &settings_path)?
            .unwrap_or(true),
        callbacks,
        check_provider_endpoint: walker.boolean(settings, "check_provider_endpoint", &settings_path)?.unwrap_or(false),
    })
}

fn general(walker: &mut Walker<'_>, value: &Value, path: &str) -> Result<GeneralSpec, ConfigError> {
    let map = walker.section(value, path, &keys::GENERAL, &[])?;
    let master_key = walker.setting(map, "master_key", path)?;
    if matches!(&master_key, Some(Setting::Literal(k)) if k.is_empty()) {
        return Err(walker.error(&join(path, "master_key"), "empty; remove it for open access or set a key"));
    }
    walker.warn_literal(&join(path, "master_key"), master_key.as_ref());
    let mb = walker.number(map, "max_request_size_mb", path)?.unwrap_or(DEFAULT_MAX_REQUEST_MB);
    if mb <= 0.0 {
        return Err(walker.error(&join(path, "max_request_size_mb"), "must be more than 0"));
    }
    #[expect(clippy::cast_possible_truncation, clippy::cast_sign_loss, reason = "positive and finite")]
    let max_request_bytes = (mb * BYTES_PER_MB) as u64;
    Ok(GeneralSpec {
        master_key,
        key_header: walker.string(map, "litellm_key_header_name", path)?.map(|h| h.to_ascii_lowercase()),
        max_request_bytes,
        forward_client_headers: walker.boolean(map, "forward_client_headers_to_llm_api", path)?.unwrap_or(false),
        global_max_parallel: walker
            .whole(map, "global_max_parallel_requests", path)?
            .map(|n| u32::try_from(n).unwrap_or(u32::MAX)),
    })
}

fn environment_variables(
    walker: &mut Walker<'_>,
    value: Option<&Value>,
    path: &str,
) -> Result<BTreeMap<String, String>, ConfigError> {
    let Some(value) = value else { return Ok(BTreeMap::new()) };
    let mut vars = BTreeMap::new();
    let map = walker.mapping(value, path)?;
    for k in map.keys() {
        let k = k.as_str().ok_or_else(|| walker.error(path, "names must be strings"))?;
        let v = walker.string(map, k, path)?.unwrap_or_default();
        vars.insert(k.to_owned(), v);
    }
    if !vars.is_empty() {
        walker.warnings.push(format!(
            "{path}: values are compiled into the binary as defaults; keep secrets in the real environment"
        ));
    }
    Ok(vars)
}
