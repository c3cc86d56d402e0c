//! `keys:` and `teams:` as the compiler takes them: the issue's shape compiles into a hash
//! table, and each mistake (unknown model or team, duplicate alias or hash, a literal key, a
//! past expiry, a bad budget_duration) fails the build at its YAML path.

#![cfg(test)]

use model_router_config::{codegen, compile};

const HASH: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
const OTHER: &str = "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752";

fn config(keys: &str) -> String {
    format!(
        "
model_list:
  - model_name: gpt-4o-mini
    litellm_params: {{ model: openai/gpt-4o-mini }}
  - model_name: claude-3-haiku
    litellm_params: {{ model: anthropic/claude-3-haiku }}
router_settings:
  model_group_alias: {{ mini: gpt-4o-mini }}
teams:
  - team_id: search
    team_alias: Search
    models: [gpt-4o-mini, \"claude-*\"]
    rpm_limit: 2000
    tpm_limit: 500000
    max_budget: 200.0
    budget_duration: 30d
{keys}"
    )
}

fn error(keys: &str) -> String {
    compile("routes.yaml", &config(keys), "base").expect_err("a config error").to_string()
}

#[test]
fn the_issues_shape_compiles_to_a_hash_table_without_secrets() {
    let keys = format!(
        "keys:
  - key_alias: search-agent
    key_sha256: [{HASH}, {OTHER}]
    team_id: search
    models: [gpt-4o-mini, \"claude-*\", mini]
    rpm_limit: 600
    tpm_limit: 200000
    max_parallel_requests: 20
    max_budget: 50.0
    budget_duration: 30d
    expires: 2099-06-30
    metadata: {{owner: search-team}}
  - key_alias: from-env
    key: os.environ/SEARCH_KEY
    models: [all-team-models]
    team_id: search
"
    );
    let compiled = compile("routes.yaml", &config(&keys), "base").unwrap_or_else(|e| panic!("{e}"));
    let spec = &compiled.routes.keys;
    assert_eq!(spec.keys.len(), 2);
    assert_eq!(spec.keys[0].hashes, [HASH, OTHER]);
    assert_eq!(spec.keys[0].limits.budget_duration_s, Some(30 * 86_400));
    assert_eq!(spec.keys[0].expires, Some(4_086_460_800));
    assert_eq!(spec.keys[1].env.as_deref(), Some("SEARCH_KEY"));
    let source = codegen::emit(&compiled.routes);
    assert!(source.contains("static KEY_HASHES") && source.contains(HASH));
    assert!(source.contains("env: Some(\"SEARCH_KEY\")"));
    let without = compile("routes.yaml", &config("").replace("teams:", "unused_teams:"), "base");
    assert!(without.is_err(), "unknown top-level keys still fail");
}

#[test]
fn configs_without_keys_keep_their_hash() {
    let plain = "model_list:\n  - model_name: m\n    litellm_params: { model: openai/m }\n";
    let with_empty = format!("{plain}keys: []\nteams: []\n");
    let a = compile("routes.yaml", plain, "base").unwrap().routes.sha256();
    let b = compile("routes.yaml", &with_empty, "base").unwrap().routes.sha256();
    assert_eq!(a, b);
}

#[test]
fn each_mistake_fails_at_its_path() {
    let cases = [
        (
            format!("keys:\n  - key_alias: a\n    key_sha256: {HASH}\n    models: [gpt-4o-mimi]\n"),
            "keys[0].models: \"gpt-4o-mimi\" names no model of model_list; did you mean \"gpt-4o-mini\"?",
        ),
        (
            format!("keys:\n  - key_alias: a\n    key_sha256: {HASH}\n  - key_alias: a\n    key_sha256: {OTHER}\n"),
            "keys[1].key_alias: key alias \"a\" is used twice",
        ),
        (
            format!("keys:\n  - key_alias: a\n    key_sha256: {HASH}\n  - key_alias: b\n    key_sha256: [{HASH}]\n"),
            "keys[1].key_sha256: hash",
        ),
        (
            "keys:\n  - key_alias: a\n    key: sk-literal\n".to_owned(),
            "keys[0].key: a key written into the config would ship in the binary",
        ),
        (
            format!("keys:\n  - key_alias: a\n    key_sha256: {HASH}\n    expires: 2001-01-01\n"),
            "keys[0].expires: 2001-01-01 is already past",
        ),
        (
            format!("keys:\n  - key_alias: a\n    key_sha256: {HASH}\n    team_id: serch\n"),
            "keys[0].team_id: unknown team \"serch\"; did you mean \"search\"?",
        ),
        (
            format!("keys:\n  - key_alias: a\n    key_sha256: {HASH}\n    budget_duration: 1w\n"),
            "keys[0].budget_duration: \"1w\" is not a duration",
        ),
        ("keys:\n  - key_alias: a\n    key_sha256: abc\n".to_owned(), "keys[0].key_sha256: expected the 64 hex digits"),
        ("keys:\n  - key_alias: a\n".to_owned(), "keys[0]: needs key_sha256"),
        (
            format!("keys:\n  - key_alias: a\n    key_sha256: {HASH}\n    rpm_limt: 3\n"),
            "keys[0].rpm_limt: unknown key \"rpm_limt\"; did you mean \"rpm_limit\"?",
        ),
        (
            format!("keys:\n  - key_alias: a\n    key_sha256: {HASH}\n    models: [all-team-models]\n"),
            "all-team-models needs a team_id",
        ),
    ];
    for (keys, expected) in cases {
        let message = error(&keys);
        assert!(message.contains(expected), "{message}\n  expected: {expected}");
    }
}

#[test]
fn wildcards_and_aliases_name_models() {
    let keys = format!(
        "keys:\n  - key_alias: a\n    key_sha256: {HASH}\n    models: [\"claude-*\", mini, openai/gpt-4o-mini]\n"
    );
    assert!(compile("routes.yaml", &config(&keys), "base").is_ok());
    let keys = format!("keys:\n  - key_alias: a\n    key_sha256: {HASH}\n    models: [\"llama-*\"]\n");
    assert!(error(&keys).contains("\"llama-*\" names no model"));
}
