//! Resolution and substitution, with the cases LiteLLM was observed on
//! (litellm-behaviour.md §2).

use model_router_config::Routes;

use super::*;

impl Index for Routes {
    fn group_named(&self, name: &str) -> Option<u16> {
        self.group_index(name).and_then(|i| u16::try_from(i).ok())
    }

    fn deployment_named(&self, name: &str) -> Option<u16> {
        self.deployment_index(name).and_then(|i| u16::try_from(i).ok())
    }

    fn wildcards(&self) -> impl Iterator<Item = (&str, u16)> {
        self.wildcards.iter().map(|w| (w.pattern.as_str(), u16::try_from(w.group).unwrap_or(u16::MAX)))
    }
}

fn routes(yaml: &str) -> Routes {
    match model_router_config::compile("test.yaml", yaml, "base") {
        Ok(compiled) => compiled.routes,
        Err(e) => panic!("{e}"),
    }
}

const MIXED: &str = r#"
model_list:
  - model_name: gpt-4o
    litellm_params: { model: openai/gpt-4o-exact }
  - model_name: "fake/*"
    litellm_params: { model: "openai/*" }
  - model_name: "anthropic/*"
    litellm_params: { model: "openai/*" }
  - model_name: "*"
    litellm_params: { model: "openai/*" }
  - model_name: pinned
    litellm_params: { model: groq/llama-3-70b }
router_settings:
  model_group_alias: { my-alias: gpt-4o }
"#;

/// Resolves `requested` and substitutes into the chosen group's first deployment.
fn upstream_for(routes: &Routes, requested: &str) -> (String, String) {
    let (index, captures) = match resolve(routes, requested) {
        Ok(Target::Group { group, captures }) => (routes.groups[usize::from(group)].deployments[0], captures),
        Ok(Target::Deployment(d)) => (usize::from(d), None),
        Err(e) => panic!("{requested}: {e:?}"),
    };
    let d = &routes.deployments[index];
    (d.model_name.clone(), upstream_model(&d.upstream_model, &d.provider, captures.as_deref(), requested))
}

#[test]
fn exact_name_beats_wildcards() {
    let r = routes(MIXED);
    assert_eq!(upstream_for(&r, "gpt-4o"), ("gpt-4o".into(), "gpt-4o-exact".into()));
}

#[test]
fn alias_routes_to_its_group() {
    let r = routes(MIXED);
    assert_eq!(upstream_for(&r, "my-alias"), ("gpt-4o".into(), "gpt-4o-exact".into()));
}

#[test]
fn longest_wildcard_wins_and_capture_is_substituted() {
    let r = routes(MIXED);
    assert_eq!(upstream_for(&r, "fake/my-model-x"), ("fake/*".into(), "my-model-x".into()));
    assert_eq!(upstream_for(&r, "anthropic/claude-opus-4-1"), ("anthropic/*".into(), "claude-opus-4-1".into()));
}

#[test]
fn catch_all_keeps_foreign_prefixes() {
    let r = routes(MIXED);
    assert_eq!(upstream_for(&r, "groq/llama-3"), ("*".into(), "groq/llama-3".into()));
}

#[test]
fn capture_loses_the_deployments_own_provider_prefix() {
    let r = routes(MIXED);
    assert_eq!(upstream_for(&r, "openai/gpt-4o-mini"), ("*".into(), "gpt-4o-mini".into()));
}

#[test]
fn deployment_name_resolves_when_nothing_else_does() {
    let r = routes("model_list:\n  - model_name: flash\n    litellm_params: { model: groq/gemma-7b }\n");
    assert_eq!(resolve(&r, "groq/gemma-7b"), Ok(Target::Deployment(0)));
    assert_eq!(resolve(&r, "nope"), Err(Unresolved::InvalidModel));
}

#[test]
fn unmatched_name_with_wildcards_is_no_deployment() {
    let r = routes("model_list:\n  - model_name: 'fake/*'\n    litellm_params: { model: 'openai/*' }\n");
    assert_eq!(resolve(&r, "nope"), Err(Unresolved::NoDeployment));
}

#[test]
fn wildcard_is_anchored_at_the_start_only_and_greedy() {
    assert_eq!(match_wildcard("fake/*", "fake/x/y"), Some(vec!["x/y"]));
    assert_eq!(match_wildcard("fake/*", "other/x"), None);
    assert_eq!(match_wildcard("*-mini", "a-mini-b-mini-c"), Some(vec!["a-mini-b"]));
    assert_eq!(match_wildcard("gpt-4", "gpt-4o"), Some(vec![]));
    assert_eq!(match_wildcard("a/*/*", "a/b/c/d"), Some(vec!["b/c", "d"]));
    assert_eq!(match_wildcard("*", "line\nnext"), Some(vec!["line"]));
}

#[test]
fn substitution_follows_litellm() {
    let caps = vec!["x".to_owned(), "y".to_owned()];
    assert_eq!(upstream_model("*/*", "openai", Some(&caps), "x/y"), "x/y");
    assert_eq!(upstream_model("fixed", "openai", Some(&caps), "x/y"), "fixed");
    assert_eq!(upstream_model("pre-*", "openai", Some(&caps), "x/y"), "x/y", "more captures than stars");
    assert_eq!(upstream_model("pre-*", "openai", Some(&caps[..1]), "x"), "pre-x");
    assert_eq!(upstream_model("gpt-4o", "openai", None, "gpt-4o"), "gpt-4o");
}
