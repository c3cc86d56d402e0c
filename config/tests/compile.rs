//! The routes compiler as `build.rs` runs it: LiteLLM configs that must compile, mistakes
//! that must fail with their path and fix, and output that must not vary.

#![cfg(test)]

use model_router_config::{ConfigError, Setting, codegen, compile};

fn ok(yaml: &str) -> model_router_config::Compiled {
    compile("routes.yaml", yaml, "base").unwrap_or_else(|e| panic!("{e}"))
}

fn err(yaml: &str, env: &str) -> ConfigError {
    compile("routes.yaml", yaml, env).expect_err("a config error")
}

/// The deployment model-router replaces, verbatim.
const ORIGINAL: &str = "
model_list:
  - model_name: fake-openai-endpoint
    litellm_params:
      model: openai/fake
      api_key: fake-key
      api_base: https://exampleopenaiendpoint-production.up.railway.app/

general_settings:
  master_key: sk-123456789
  proxy_batch_write_at: 60
  database_connection_pool_limit: 10
  disable_error_logs: True
  allow_requests_on_db_unavailable: False

litellm_settings:
  request_timeout: 600
  set_verbose: False
  json_logs: true
";

#[test]
fn the_original_litellm_config_compiles_as_one_environment() {
    let compiled = ok(ORIGINAL);
    let routes = &compiled.routes;
    assert_eq!(routes.env, "base");
    assert_eq!(routes.deployments[0].provider, "openai");
    assert_eq!(routes.deployments[0].upstream_model, "fake");
    assert_eq!(routes.general.master_key, Some(Setting::Literal("sk-123456789".into())));
    assert_eq!(routes.router.request_timeout_ms, 600_000);
    for ignored in [
        "proxy_batch_write_at",
        "database_connection_pool_limit",
        "disable_error_logs",
        "allow_requests_on_db_unavailable",
        "set_verbose",
        "json_logs",
    ] {
        assert!(
            compiled.warnings.iter().any(|w| w.contains(ignored) && w.contains("ignored")),
            "{ignored}: {:?}",
            compiled.warnings
        );
    }
    assert!(compiled.warnings.iter().any(|w| w.contains("master_key") && w.contains("literal")));
    assert!(compiled.warnings.iter().any(|w| w.contains("api_key") && w.contains("literal")));
}

#[test]
fn the_shipped_routes_compile_in_both_environments() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../routes.yaml")).unwrap();
    assert_eq!(model_router_config::environments(&text), vec!["base", "local"]);
    let base = compile("routes.yaml", &text, "base").unwrap().routes;
    assert_eq!(base.groups[0].name, "fake-openai-endpoint");
    assert_eq!(base.deployments[0].provider, "fake");
    let local = compile("routes.yaml", &text, "local").unwrap().routes;
    assert_eq!(local.wildcards[0].pattern, "*");
    assert_eq!(local.deployments[0].api_key, Some(Setting::Env("OPENAI_API_KEY".into())));
    assert_eq!(local.general.master_key, None);
}

#[test]
fn an_unknown_environment_lists_the_known_ones() {
    let e = err(
        "environments:\n  base: {model_list: [{model_name: a, litellm_params: {model: fake/a}}]}\n  local: {}\n",
        "prod",
    );
    assert_eq!(e.path, "environments");
    assert!(e.message.contains("unknown environment \"prod\"") && e.message.contains("known: base, local"), "{e}");
}

#[test]
fn a_misspelt_provider_names_the_path_and_the_fix() {
    let e = err(
        "model_list:\n  - model_name: a\n    litellm_params: { model: foo }\n  - model_name: b\n    litellm_params: { model: opena/gpt-4o }\n",
        "base",
    );
    assert!(e.to_string().starts_with("routes.yaml: model_list[0].litellm_params.model:"), "{e}");
    let e = err("model_list:\n  - model_name: b\n    litellm_params: { model: opena/gpt-4o }\n", "base");
    assert_eq!(
        e.to_string(),
        "routes.yaml: model_list[0].litellm_params.model: unknown provider \"opena\"; did you mean \"openai\"?"
    );
}

#[test]
fn misspelt_keys_suggest_the_closest() {
    let e = err(
        "model_list: [{model_name: a, litellm_params: {model: fake/a}}]\ngeneral_settings: {master_kye: x}\n",
        "base",
    );
    assert_eq!(
        (e.path.as_str(), e.message.as_str()),
        ("general_settings.master_kye", "unknown key \"master_kye\"; did you mean \"master_key\"?")
    );
    let e = err("model_lst: []\n", "base");
    assert!(e.message.contains("did you mean \"model_list\""), "{e}");
    let e = err("model_list: [{model_name: a, litellm_params: {model: fake/a, api_bse: x}}]\n", "base");
    assert_eq!(e.path, "model_list[0].litellm_params.api_bse");
}

#[test]
fn bad_values_are_reported_at_their_path() {
    let e = err("model_list: [{model_name: a, litellm_params: {model: fake/a, rpm: lots}}]\n", "base");
    assert_eq!(e.path, "model_list[0].litellm_params.rpm");
    let e = err(
        "model_list: [{model_name: a, litellm_params: {model: fake/a}}]\nrouter_settings: {routing_strategy: simple-shufle}\n",
        "base",
    );
    assert!(e.message.contains("did you mean \"simple-shuffle\""), "{e}");
    let e = err(
        "model_list: [{model_name: a, litellm_params: {model: fake/a}}]\nrouter_settings: {model_group_alias: {x: b}}\n",
        "base",
    );
    assert!(e.message.contains("unknown model group \"b\"") && e.message.contains("did you mean \"a\""), "{e}");
    let e = err("model_list: [{model_name: a, litellm_params: {model: bedrock/invoke/anthropic.claude-v2}}]\n", "base");
    assert!(e.message.contains("bedrock/invoke/ is not served") && e.message.contains("Converse"), "{e}");
    let e = err("model_list: []\n", "base");
    assert!(e.message.contains("at least one deployment"), "{e}");
}

#[test]
fn wildcards_are_ordered_longest_first() {
    let routes = ok("model_list:
  - {model_name: '*', litellm_params: {model: 'openai/*'}}
  - {model_name: 'anthropic/*', litellm_params: {model: 'openai/*'}}
  - {model_name: 'a/*', litellm_params: {model: 'openai/*'}}
")
    .routes;
    let order: Vec<&str> = routes.wildcards.iter().map(|w| w.pattern.as_str()).collect();
    assert_eq!(order, vec!["anthropic/*", "a/*", "*"]);
}

#[test]
fn secrets_stay_references_and_never_reach_generated_code() {
    let compiled = ok("model_list:
  - model_name: a
    litellm_params: {model: openai/a, api_key: os.environ/MY_SECRET_KEY}
general_settings: {master_key: os.environ/LITELLM_MASTER_KEY}
");
    let d = &compiled.routes.deployments[0];
    assert_eq!(d.api_key, Some(Setting::Env("MY_SECRET_KEY".into())));
    assert!(!d.info_json.contains("MY_SECRET_KEY"), "model info leaves credentials out: {}", d.info_json);
    let code = codegen::emit(&compiled.routes);
    assert!(code.contains("Setting::Env(\"MY_SECRET_KEY\")"));
}

#[test]
fn generated_code_is_deterministic_and_formatting_blind() {
    let a = ok(
        "model_list: [{model_name: a, litellm_params: {model: fake/a}}, {model_name: '*', litellm_params: {model: 'openai/*'}}]\n",
    );
    let b = ok(
        "# a comment\nmodel_list:\n  - model_name: a\n    litellm_params:\n      model: fake/a\n  - model_name: '*'\n    litellm_params:\n      model: 'openai/*'\n",
    );
    assert_eq!(codegen::emit(&a.routes), codegen::emit(&b.routes));
    assert_eq!(a.routes.sha256(), b.routes.sha256());
    let c = ok("model_list: [{model_name: a, litellm_params: {model: fake/b}}]\n");
    assert_ne!(a.routes.sha256(), c.routes.sha256());
    let code = codegen::emit(&a.routes);
    assert!(
        !code.contains("/work/") && !code.contains("/home/") && !code.contains("/tmp/"),
        "no paths in generated code"
    );
}

#[test]
fn deployment_ids_follow_model_info_or_hash() {
    let routes = ok("model_list:
  - {model_name: a, litellm_params: {model: fake/a}, model_info: {id: my-id}}
  - {model_name: a, litellm_params: {model: fake/b}}
")
    .routes;
    assert_eq!(routes.deployments[0].id, "my-id");
    assert_eq!(routes.deployments[1].id.len(), 64);
    assert_eq!(routes.groups[0].deployments, vec![0, 1]);
}

#[test]
fn vertex_deployments_keep_their_credential_a_reference() {
    let compiled = ok("model_list:
  - model_name: v
    litellm_params:
      model: vertex_ai/gemini-2.0-flash
      vertex_project: my-project
      vertex_location: europe-west4
      vertex_credentials: os.environ/VERTEX_SA
");
    let d = &compiled.routes.deployments[0];
    assert_eq!((d.provider.as_str(), d.upstream_model.as_str()), ("vertex_ai", "gemini-2.0-flash"));
    assert_eq!(d.vertex.credentials, Some(Setting::Env("VERTEX_SA".into())));
    assert_eq!(d.vertex.location, Some(Setting::Literal("europe-west4".into())));
    assert!(!d.info_json.contains("VERTEX_SA"), "model info leaves the credential out: {}", d.info_json);
    assert!(d.info_json.contains("my-project"), "{}", d.info_json);
    let code = codegen::emit(&compiled.routes);
    assert!(code.contains("protocol: crate::table::Protocol::Vertex"), "{code}");
    assert!(code.contains("credentials: Some(crate::table::Setting::Env(\"VERTEX_SA\"))"), "{code}");
}

#[test]
fn a_vertex_credential_written_into_the_config_fails_the_build() {
    let as_json = r#"model_list:
  - model_name: v
    litellm_params:
      model: vertex_ai/gemini-2.0-flash
      vertex_credentials: '{"type": "service_account", "private_key": "-----BEGIN PRIVATE KEY-----"}'
"#;
    let as_map = "model_list:
  - model_name: v
    litellm_params:
      model: vertex_ai/gemini-2.0-flash
      vertex_credentials: {type: service_account, private_key: secret}
";
    for yaml in [as_json, as_map] {
        let e = err(yaml, "base");
        assert_eq!(e.path, "model_list[0].litellm_params.vertex_credentials", "{e}");
        assert!(e.message.contains("os.environ/"), "{e}");
        assert!(!e.to_string().contains("PRIVATE KEY") && !e.to_string().contains("secret"), "{e}");
    }
}

const REDIS: &str = "
model_list:
  - model_name: m
    litellm_params: { model: openai/m, api_key: os.environ/K }
router_settings:
  redis_host: os.environ/REDIS_HOST
  redis_port: 6380
  redis_password: os.environ/REDIS_PASSWORD
";

#[test]
fn redis_settings_compile_as_settings_not_warnings() {
    let compiled = ok(REDIS);
    let redis = &compiled.routes.redis;
    assert_eq!(redis.host, Some(Setting::Env("REDIS_HOST".into())));
    assert_eq!(redis.port, Some(Setting::Literal("6380".into())));
    assert_eq!(redis.password, Some(Setting::Env("REDIS_PASSWORD".into())));
    assert!(compiled.warnings.iter().all(|w| !w.contains("redis")), "{:?}", compiled.warnings);
    let source = codegen::emit(&compiled.routes);
    assert!(source.contains("password: Some(crate::table::Setting::Env(\"REDIS_PASSWORD\"))"), "{source}");
}

#[test]
fn a_literal_redis_password_is_warned_about_and_bad_values_fail() {
    let literal = REDIS.replace("os.environ/REDIS_PASSWORD", "hunter2");
    let compiled = ok(&literal);
    assert!(compiled.warnings.iter().any(|w| w.contains("redis_password") && w.contains("literal")));
    let in_url = REDIS.replace("redis_host: os.environ/REDIS_HOST", "redis_url: redis://:hunter2@cache:6379");
    assert!(ok(&in_url).warnings.iter().any(|w| w.contains("redis_url") && w.contains("literal")));
    let bad_port = err(&REDIS.replace("6380", "sixty"), "base");
    assert_eq!(bad_port.path, "router_settings.redis_port");
    let bad_url = err(&REDIS.replace("redis_host: os.environ/REDIS_HOST", "redis_url: http://cache"), "base");
    assert_eq!(bad_url.path, "router_settings.redis_url");
}

#[test]
fn responses_store_ttl_is_whole_seconds_within_30_days() {
    let with = |ttl: &str| format!("{REDIS}  responses_store_ttl: {ttl}\n");
    let compiled = ok(&with("120"));
    assert_eq!(compiled.routes.redis.store_ttl_s, Some(120));
    assert!(codegen::emit(&compiled.routes).contains("store_ttl_s: Some(120)"));
    assert_eq!(ok(REDIS).routes.redis.store_ttl_s, None);
    for bad in ["0", "1.5", "2592001", "soon"] {
        assert_eq!(err(&with(bad), "base").path, "router_settings.responses_store_ttl", "{bad}");
    }
    let hash = ok(REDIS).routes.sha256();
    assert_ne!(hash, compiled.routes.sha256());
    assert!(!serde_json::to_string(&ok(REDIS).routes).unwrap().contains("store_ttl"), "absent, left out of the hash");
}

#[test]
fn configs_without_redis_keep_their_hash() {
    let without = ok(ORIGINAL).routes;
    assert!(without.redis.is_empty());
    assert!(!serde_json::to_string(&without).unwrap().contains("redis"));
}

#[test]
fn responses_api_follows_the_vendor_unless_supported_endpoints_says() {
    let routes = ok("model_list:
  - {model_name: a, litellm_params: {model: openai/gpt-4o}}
  - {model_name: b, litellm_params: {model: anthropic/claude}}
  - {model_name: c, litellm_params: {model: hosted_vllm/m, api_base: http://h}, model_info: {supported_endpoints: [/v1/chat/completions, /v1/responses]}}
  - {model_name: d, litellm_params: {model: openai/m}, model_info: {supported_endpoints: [/v1/chat/completions]}}
  - {model_name: e, litellm_params: {model: azure/m, api_base: https://x}}
")
    .routes;
    let speaks: Vec<bool> = routes.deployments.iter().map(|d| d.responses_api).collect();
    assert_eq!(speaks, [true, false, true, false, true]);
    let e = err(
        "model_list:\n  - {model_name: a, litellm_params: {model: openai/m}, model_info: {supported_endpoints: [/v1/respones]}}\n",
        "base",
    );
    let text = e.to_string();
    assert!(
        text.contains("model_list[0].model_info.supported_endpoints[0]") && text.contains("/v1/responses"),
        "{text}"
    );
    let e = err(
        "model_list:\n  - {model_name: a, litellm_params: {model: openai/m}, model_info: {supported_endpoints: /v1/responses}}\n",
        "base",
    );
    assert!(e.to_string().contains("expected a list"), "{e}");
}

#[test]
fn bedrock_model_forms_and_aws_settings() {
    let routes = ok("model_list:
  - {model_name: a, litellm_params: {model: bedrock/anthropic.claude-3-5-sonnet-20240620-v1:0, aws_region_name: eu-west-1}}
  - {model_name: b, litellm_params: {model: bedrock/converse/us.amazon.nova-pro-v1:0}}
  - {model_name: c, litellm_params: {model: 'bedrock/arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.meta.llama3-1-8b-instruct-v1:0',
      aws_access_key_id: os.environ/K, aws_secret_access_key: os.environ/S, aws_session_token: os.environ/T}}
")
    .routes;
    let models: Vec<&str> = routes.deployments.iter().map(|d| d.upstream_model.as_str()).collect();
    assert_eq!(
        models,
        [
            "anthropic.claude-3-5-sonnet-20240620-v1:0",
            "us.amazon.nova-pro-v1:0",
            "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.meta.llama3-1-8b-instruct-v1:0"
        ]
    );
    assert_eq!(routes.deployments[0].aws.region_name, Some(Setting::Literal("eu-west-1".into())));
    assert_eq!(routes.deployments[2].aws.session_token, Some(Setting::Env("T".into())));
    let info = &routes.deployments[2].info_json;
    assert!(!info.contains("aws_secret_access_key") && !info.contains("aws_session_token"), "{info}");

    for bad in
        ["aws_secret_access_key: abc, aws_access_key_id: AKIA", "aws_session_token: tok", "aws_web_identity_token: eyJ"]
    {
        let e = err(&format!("model_list: [{{model_name: a, litellm_params: {{model: bedrock/m, {bad}}}}}]\n"), "base");
        assert!(e.message.contains("compiled into the binary"), "{bad}: {e}");
    }
    let e = err(
        "model_list: [{model_name: a, litellm_params: {model: bedrock/m, aws_access_key_id: os.environ/K}}]\n",
        "base",
    );
    assert!(e.message.contains("go together"), "{e}");
    let e = err("model_list: [{model_name: a, litellm_params: {model: bedrock/llama/meta.llama3}}]\n", "base");
    assert!(e.message.contains("bedrock/llama/ is not served"), "{e}");
}

#[test]
fn a_redis_cluster_is_named_by_cache_kwargs_startup_nodes_as_litellm_takes_it() {
    let with = |nodes: &str| format!("{REDIS}  cache_kwargs:\n    startup_nodes: {nodes}\n");
    let listed = ok(&with(r#"[{ "host": "10.0.0.1", "port": "7001" }, { host: node-b, port: 7002 }, { host: c }]"#));
    let json = r#"[{"host":"10.0.0.1","port":7001},{"host":"node-b","port":7002},{"host":"c","port":6379}]"#;
    assert_eq!(listed.routes.redis.startup_nodes, Some(Setting::Literal(json.into())));
    assert!(codegen::emit(&listed.routes).contains("startup_nodes: Some(crate::table::Setting::Literal("));
    let in_string = ok(&with(r#"'[{"host": "10.0.0.1", "port": 7001}]'"#));
    assert_eq!(
        in_string.routes.redis.startup_nodes,
        Some(Setting::Literal(r#"[{"host":"10.0.0.1","port":7001}]"#.into()))
    );
    let from_env = ok(&with("os.environ/REDIS_NODES"));
    assert_eq!(from_env.routes.redis.startup_nodes, Some(Setting::Env("REDIS_NODES".into())));
    assert_eq!(ok(REDIS).routes.redis.startup_nodes, None);
    assert_eq!(ok(REDIS).routes.sha256(), ok(REDIS).routes.sha256());
    assert!(
        !serde_json::to_string(&ok(REDIS).routes).unwrap().contains("startup_nodes"),
        "absent, left out of the hash"
    );
    for bad in [
        "[]",
        "[{ port: 7001 }]",
        "[{ host: a, port: 0 }]",
        "[{ host: a, port: x }]",
        "[{ host: a, ssl: true }]",
        "'not json'",
        "{ host: a }",
    ] {
        assert_eq!(err(&with(bad), "base").path, "router_settings.cache_kwargs.startup_nodes", "{bad}");
    }
    let other = err(&format!("{REDIS}  cache_kwargs:\n    ssl: true\n"), "base");
    assert_eq!(other.path, "router_settings.cache_kwargs.ssl", "{other}");
}
