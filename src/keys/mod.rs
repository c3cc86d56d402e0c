//! Virtual keys: who a non-master key is (one SHA-256 of it and one probe of the compiled
//! hash table, or of the small map of `key: os.environ/NAME` keys hashed at start-up),
//! whether it may still be used (expiry, `MODEL_ROUTER_REVOKED_KEYS`), which models it and
//! its team may call, and its limits and budget ([`limit`]). `auth` asks [`Keys::identify`];
//! `gateway` runs [`Keys::admit`] once per model call before `retry`; `report` hands the
//! call's cost and tokens back at its end.

pub mod cli;
pub mod gauges;
pub mod limit;

// The very pattern matcher the config compiler checks keys' model lists with.
#[path = "../../config/src/glob.rs"]
mod glob;
pub use glob::glob;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use sha2::{Digest, Sha256};

use crate::error::Error;
use crate::quota::clock::Clock;
use crate::quota::{self, clock};
use crate::settings::Settings;
use crate::state::keys::SharedKeys;
use crate::table::{KeyLimits, Table, Team, VirtualKey};
use limit::{Counters, Ticket};

/// LiteLLM's name for "every model of the key's team".
pub const ALL_TEAM_MODELS: &str = "all-team-models";
/// The variable listing revoked keys (aliases or hashes, comma- or space-separated).
pub const REVOKED_VAR: &str = "MODEL_ROUTER_REVOKED_KEYS";

/// The virtual keys of one table, ready to check requests.
#[derive(Debug)]
pub struct Keys {
    table: &'static Table,
    /// SHA-256 of each `key: os.environ/NAME` secret → key index.
    from_env: HashMap<[u8; 32], u16>,
    revoked: Vec<bool>,
    revoked_hashes: HashSet<String>,
    /// The wall clock expiries and budget periods are read on.
    pub clock: Clock,
    counters: Counters,
    shared: Option<Arc<SharedKeys>>,
}

/// A key the table knows, as `auth` found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub index: u16,
    /// `hashed_api_key`: the hex SHA-256 of the secret, as LiteLLM labels keys.
    pub hash: String,
}

impl Keys {
    /// Hashes the `os.environ/` keys and reads the revocation list; a key whose variable
    /// is unset is unusable (said in [`Keys::warnings`]).
    pub fn new(table: &'static Table, settings: &Settings) -> Self {
        let mut from_env = HashMap::new();
        for (i, key) in (0u16..).zip(table.keys) {
            if let Some(secret) = key.env.and_then(|name| settings.var(table, name)).filter(|s| !s.is_empty()) {
                from_env.insert(Sha256::digest(secret.as_bytes()).into(), i);
            }
        }
        let listed: Vec<String> = settings
            .vars
            .get(REVOKED_VAR)
            .map(|v| v.split([',', ' ', '\n']).filter(|s| !s.is_empty()).map(str::to_ascii_lowercase).collect())
            .unwrap_or_default();
        let revoked = table.keys.iter().map(|k| listed.iter().any(|l| l.eq_ignore_ascii_case(k.alias))).collect();
        Keys {
            table,
            from_env,
            revoked,
            revoked_hashes: listed.into_iter().filter(|l| l.len() == 64).collect(),
            clock: Clock::system(),
            counters: Counters::new(table.keys.len() + table.teams.len()),
            shared: None,
        }
    }

    /// Whether the table has virtual keys (then unknown keys are refused even without a
    /// master key).
    pub fn enabled(&self) -> bool {
        !self.table.keys.is_empty()
    }

    /// Counts key and team limits and spend through Redis from now on.
    pub fn share(&mut self, shared: Arc<SharedKeys>) {
        self.shared = Some(shared);
    }

    /// Start-up notes: keys whose variable is unset, revoked keys, per-replica counting.
    pub fn warnings(&self, settings: &Settings) -> Vec<String> {
        let mut out = Vec::new();
        for (key, revoked) in self.table.keys.iter().zip(&self.revoked) {
            if let Some(name) = key.env.filter(|n| settings.var(self.table, n).is_none_or(|v| v.is_empty())) {
                out.push(format!("key {} reads {name}, which is not set: the key is refused", key.alias));
            }
            if *revoked {
                out.push(format!("key {} is revoked by {REVOKED_VAR}", key.alias));
            }
        }
        if self.enabled() && self.shared.is_none() {
            out.push("no Redis: key and team limits and spend are counted per replica".to_owned());
        }
        out
    }

    /// The key `presented` is, if the table knows it: one SHA-256 and one probe. Refuses a
    /// revoked or expired one.
    pub fn identify(&self, presented: &str) -> Result<Option<Found>, Error> {
        let digest: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        let hash = crate::table::hex(&digest);
        let index = self.table.key_hashes.get(hash.as_str()).copied().or_else(|| self.from_env.get(&digest).copied());
        let Some(index) = index else { return Ok(None) };
        if self.revoked.get(usize::from(index)).copied().unwrap_or(false) || self.revoked_hashes.contains(&hash) {
            return Ok(None);
        }
        let now = self.clock.now_ms() / 1000;
        if let Some(expires) = self.key(index).expires.filter(|at| *at <= now) {
            return Err(Error::ExpiredKey { expires: clock::python_utc(expires), now: clock::python_utc(now) });
        }
        Ok(Some(Found { index, hash }))
    }

    pub fn key(&self, index: u16) -> &'static VirtualKey {
        &self.table.keys[usize::from(index)]
    }

    pub fn team_of(&self, index: u16) -> Option<&'static Team> {
        self.key(index).team.map(|t| &self.table.teams[usize::from(t)])
    }

    /// The `hashed_api_key` label of key `index`: its first compiled hash, else the hash of
    /// its secret read at start-up.
    pub fn label_hash(&self, index: u16) -> String {
        if let Some(hash) = self.key(index).hashes.first() {
            return (*hash).to_owned();
        }
        self.from_env
            .iter()
            .find(|(_, i)| **i == index)
            .map_or_else(|| "None".to_owned(), |(d, _)| crate::table::hex(d))
    }

    /// The key of this alias.
    pub fn by_alias(&self, alias: &str) -> Option<u16> {
        (0u16..).zip(self.table.keys).find(|(_, k)| k.alias == alias).map(|(i, _)| i)
    }

    /// Whether key `index` (and its team) may call `model`: the requested name, or the group
    /// an alias or deployment name stands for.
    pub fn allows(&self, index: u16, model: &str) -> bool {
        self.refusal(index, model).is_none()
    }

    /// Refuses a model outside the key's or its team's list, with LiteLLM's messages.
    pub fn check_model(&self, index: u16, model: &str) -> Result<(), Error> {
        self.refusal(index, model).map_or(Ok(()), Err)
    }

    fn refusal(&self, index: u16, model: &str) -> Option<Error> {
        let key = self.key(index);
        let team = self.team_of(index);
        let own: &[&str] = if key.models.contains(&ALL_TEAM_MODELS) { &[] } else { key.models };
        if !self.listed(own, model) {
            return Some(Error::KeyModel { models: python_list(key.models), model: model.to_owned() });
        }
        let team = team.filter(|t| !self.listed(t.models, model))?;
        Some(Error::TeamModel { team: team.id, model: model.to_owned(), models: python_list(team.models) })
    }

    /// `model` is in `list` (empty: every model) by name, wildcard, or through its group.
    fn listed(&self, list: &[&str], model: &str) -> bool {
        if list.is_empty() || list.contains(&"*") {
            return true;
        }
        let table = self.table;
        let group = table
            .names
            .get(model)
            .map(|g| table.group(*g).name)
            .or_else(|| table.deployment_names.get(model).map(|d| table.deployment(*d).model_name));
        list.iter().any(|entry| glob(entry, model) || group.is_some_and(|g| glob(entry, g)))
    }

    /// The limits of key `index` and of its team (in that order): budget, then rpm, tpm and
    /// parallel calls. The ticket holds the parallel slots until the call ends.
    pub async fn admit(&self, index: u16) -> Result<Ticket, Error> {
        let entities = self.entities(index);
        let now_ms = self.clock.now_ms();
        let mut ticket = self.counters.take_parallel(&entities, now_ms)?;
        if let Some(shared) = self.shared.as_ref().filter(|s| s.is_up()) {
            if let Some(mut seen) = shared.admit(&entities, now_ms).await {
                self.counters.seen(&entities, &seen.figures, now_ms);
                ticket.lease = seen.lease.take();
                return seen.refusal.map_or(Ok(ticket), Err);
            }
        }
        self.counters.admit(&entities, now_ms)?;
        Ok(ticket)
    }

    /// The call's end: its cost against the key's and team's budgets, its tokens against
    /// their `tpm` (on Redis when it answers; kept to add later when it does not).
    pub fn finished(&self, index: u16, cost: Option<f64>, tokens: Option<u64>) {
        let entities = self.entities(index);
        let (cost, tokens) = (cost.unwrap_or(0.0), tokens.unwrap_or(0));
        if cost <= 0.0 && tokens == 0 {
            return;
        }
        let now_ms = self.clock.now_ms();
        self.counters.spent(&entities, cost, tokens, now_ms);
        if let Some(shared) = &self.shared {
            shared.spent(&entities, cost, tokens, now_ms);
        }
    }

    /// What key `index` and its team have spent this period, and their rpm/tpm windows, as
    /// this replica knows them (with Redis: as of its last answer, plus what is pending).
    pub fn usage(&self, index: u16) -> Vec<quota::Usage> {
        let entities = self.entities(index);
        let now_ms = self.clock.now_ms();
        entities.iter().map(|e| self.counters.usage(e, now_ms)).collect()
    }

    /// Key `index` and its team as counted things.
    fn entities(&self, index: u16) -> Vec<quota::Entity> {
        let key = self.key(index);
        let mut out = vec![quota::Entity {
            slot: usize::from(index),
            kind: quota::Kind::Key,
            name: key.alias,
            tag: key.team.map_or(key.alias, |t| self.table.teams[usize::from(t)].id),
            limits: key.limits,
        }];
        if let Some(t) = key.team {
            let team = &self.table.teams[usize::from(t)];
            out.push(quota::Entity {
                slot: self.table.keys.len() + usize::from(t),
                kind: quota::Kind::Team,
                name: team.id,
                tag: team.id,
                limits: team.limits,
            });
        }
        out
    }

    /// Whether anything of key `index` is counted (a limit or a budget on it or its team).
    pub fn limited(&self, index: u16) -> bool {
        let counted =
            |l: &KeyLimits| l.rpm.is_some() || l.tpm.is_some() || l.max_parallel.is_some() || l.max_budget.is_some();
        counted(&self.key(index).limits) || self.team_of(index).is_some_and(|t| counted(&t.limits))
    }
}

/// A list as Python prints it (`['a', 'b']`), as LiteLLM's messages show model lists.
pub fn python_list(items: &[&str]) -> String {
    let quoted: Vec<String> = items.iter().map(|i| format!("'{i}'")).collect();
    format!("[{}]", quoted.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_print_as_python_does() {
        assert_eq!(python_list(&["a", "b"]), "['a', 'b']");
        assert_eq!(python_list(&[]), "[]");
    }
}
