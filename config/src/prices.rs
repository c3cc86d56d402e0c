//! The price table (`config/prices.yaml`): USD per input and output token by upstream
//! model name, compiled into a perfect-hash map for cost when `model_info` has no prices.

use std::fmt::Write as _;

use serde::Deserialize;

use crate::ConfigError;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Price {
    input: f64,
    output: f64,
}

/// `static PRICES: phf::Map<&str, (f64, f64)>` for the price file `text`.
pub fn emit(file: &str, text: &str) -> Result<String, ConfigError> {
    let prices: std::collections::BTreeMap<String, Price> = serde_yaml::from_str(text).map_err(|e| ConfigError {
        file: file.to_owned(),
        path: String::new(),
        message: e.to_string(),
    })?;
    let mut map = phf_codegen::Map::<&str>::new();
    let values: Vec<(String, String)> = prices
        .iter()
        .map(|(model, p)| {
            let bad = !(p.input.is_finite() && p.output.is_finite() && p.input >= 0.0 && p.output >= 0.0);
            (model.clone(), if bad { String::new() } else { format!("({:?}, {:?})", p.input, p.output) })
        })
        .collect();
    if let Some((model, _)) = values.iter().find(|(_, v)| v.is_empty()) {
        return Err(ConfigError {
            file: file.to_owned(),
            path: model.clone(),
            message: "prices must be finite and at least 0".into(),
        });
    }
    for (model, value) in &values {
        map.entry(model.as_str(), value);
    }
    let mut out = String::new();
    let _ = writeln!(out, "pub static PRICES: ::phf::Map<&'static str, (f64, f64)> = {};", map.build());
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_compile_and_bad_ones_fail() {
        let code = emit("p.yaml", "gpt-4o: { input: 0.0000025, output: 0.00001 }\n").unwrap_or_default();
        assert!(code.contains("2.5e-6") && code.contains("PRICES"), "{code}");
        assert!(emit("p.yaml", "m: { input: -1, output: 0 }\n").is_err());
        assert!(emit("p.yaml", "m: { input: 1 }\n").is_err());
    }
}
