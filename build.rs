//! Compiles one environment of `routes.yaml` into `$OUT_DIR/routes.rs` (static tables, data
//! only) with the `model-router-config` crate. `MODEL_ROUTER_ENV` picks the environment
//! (default `base`), `MODEL_ROUTER_ROUTES` the file (default `routes.yaml`). With the
//! `test-fixtures` feature it also compiles every environment of
//! `tests/fixtures/routes.yaml` into `$OUT_DIR/fixtures.rs`.

#![expect(clippy::expect_used, reason = "a build script reports what cargo failed to provide by panicking")]

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::{env, fs};

use model_router_config::{DEFAULT_ENV, codegen};

const FIXTURES: &str = "tests/fixtures/routes.yaml";
/// The price table `scripts/refresh-prices` generates from LiteLLM's cost map.
const PRICES: &str = "config/model_prices.jsonl";

fn main() {
    println!("cargo:rerun-if-env-changed=MODEL_ROUTER_ENV");
    println!("cargo:rerun-if-env-changed=MODEL_ROUTER_ROUTES");
    // Key expiries are checked against it (the build's clock otherwise); never emitted.
    println!("cargo:rerun-if-env-changed=SOURCE_DATE_EPOCH");
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let environment = env::var("MODEL_ROUTER_ENV").unwrap_or_else(|_| DEFAULT_ENV.to_owned());
    let file = env::var("MODEL_ROUTER_ROUTES").unwrap_or_else(|_| "routes.yaml".to_owned());

    let Some(source) = compile(&manifest, &file, &environment) else { return };
    write(&out.join("routes.rs"), &source);

    let prices = manifest.join(PRICES);
    println!("cargo:rerun-if-changed={}", prices.display());
    let text = fs::read_to_string(&prices).unwrap_or_default();
    match model_router_config::prices::emit(PRICES, &text) {
        Ok(source) => write(&out.join("prices.rs"), &source),
        Err(e) => println!("cargo::error={e}"),
    }

    if env::var_os("CARGO_FEATURE_TEST_FIXTURES").is_some() {
        let mut fixtures = String::new();
        for name in environments(&manifest.join(FIXTURES)) {
            let Some(source) = compile(&manifest, FIXTURES, &name) else { return };
            let _ = writeln!(fixtures, "pub mod {name} {{\n{source}}}");
        }
        write(&out.join("fixtures.rs"), &fixtures);
    }
}

/// The generated items for `environment` of `file`, or `None` after reporting the error.
fn compile(manifest: &Path, file: &str, environment: &str) -> Option<String> {
    let path = manifest.join(file);
    println!("cargo:rerun-if-changed={}", path.display());
    let text = match fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) => {
            println!("cargo::error={file}: cannot read the routes file: {e}");
            return None;
        }
    };
    match model_router_config::compile(file, &text, environment) {
        Ok(compiled) => {
            for warning in &compiled.warnings {
                println!("cargo:warning={file} ({environment}): {warning}");
            }
            Some(codegen::emit(&compiled.routes))
        }
        Err(e) => {
            println!("cargo::error={e}");
            None
        }
    }
}

/// The environment names of a routes file with an `environments:` map.
fn environments(path: &Path) -> Vec<String> {
    let text = fs::read_to_string(path).unwrap_or_default();
    model_router_config::environments(&text)
}

fn write(path: &Path, source: &str) {
    // Write only on change, so an unchanged table does not recompile the crate.
    if fs::read_to_string(path).ok().as_deref() != Some(source) {
        fs::write(path, source).expect("OUT_DIR is writable");
    }
}
