//! The routes.yaml compiler that `build.rs` runs: LiteLLM-format config in, validated
//! [`Routes`] and generated table source out.
//!
//! Stages, one module each: [`keys`] classifies every key (used, ignored with a warning,
//! unknown with a suggestion), [`parse`] walks the YAML into the normalised [`Routes`],
//! [`vendors`] holds the provider prefixes as data, [`kinds`] the closed sets shared with the
//! gateway (protocols, strategies), and [`codegen`] writes the Rust source
//! of the static tables that `src/table.rs` defines. Nothing here runs in the gateway.

pub mod aws;
pub mod clock;
pub mod codegen;
mod deployment;
pub mod keys;
pub mod glob;
pub mod kinds;
pub mod parse;
pub mod prices;
pub mod redis;
pub mod resilience;
pub mod routes;
pub mod vendors;
pub mod vkeys;
mod vkeys_codegen;

use std::fmt;

pub use routes::{
    AliasSpec, DeploymentSpec, GeneralSpec, GroupSpec, RouterSpec, Routes, Setting, VertexSpec, WildcardSpec,
};

/// The environment compiled when `MODEL_ROUTER_ENV` is unset.
pub const DEFAULT_ENV: &str = "base";

/// A config mistake: where it is and how to fix it. Displayed as the build error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The routes file as the user named it.
    pub file: String,
    /// The YAML path, such as `model_list[2].litellm_params.model`.
    pub path: String,
    /// What is wrong, and the fix where one is known.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}: {}", self.file, self.message)
        } else {
            write!(f, "{}: {}: {}", self.file, self.path, self.message)
        }
    }
}

impl std::error::Error for ConfigError {}

/// A compiled environment and what the compiler has to say about it.
#[derive(Debug, Clone)]
pub struct Compiled {
    pub routes: Routes,
    /// Accepted-but-ignored keys and literal secrets, one line each, for `cargo:warning`.
    pub warnings: Vec<String>,
}

/// Compiles environment `env` of the routes file `file` (its text in `text`).
///
/// A file with a top-level `environments:` map holds one LiteLLM config per environment;
/// any other file is a single LiteLLM config and compiles as whatever `env` names.
pub fn compile(file: &str, text: &str, env: &str) -> Result<Compiled, ConfigError> {
    let doc: serde_yaml::Value = serde_yaml::from_str(text).map_err(|e| ConfigError {
        file: file.to_owned(),
        path: String::new(),
        message: format!("not valid YAML: {e}"),
    })?;
    parse::environment(file, &doc, env)
}

/// The environment names of a routes file, in file order; empty for a single-environment file.
pub fn environments(text: &str) -> Vec<String> {
    let doc: serde_yaml::Value = serde_yaml::from_str(text).unwrap_or_default();
    doc.get("environments")
        .and_then(serde_yaml::Value::as_mapping)
        .map(|envs| envs.keys().filter_map(|k| k.as_str().map(str::to_owned)).collect())
        .unwrap_or_default()
}
