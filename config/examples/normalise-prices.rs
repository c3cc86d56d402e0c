//! `normalise-prices COST_MAP.json SOURCE`: writes `config/model_prices.jsonl`'s text to
//! stdout from LiteLLM's cost map ([`model_router_config::prices::normalise`]); SOURCE says
//! where the file came from (`litellm==1.110.2`). Run by `scripts/refresh-prices`.

use std::io::Write as _;
use std::process::ExitCode;
use std::{env, fs, io};

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    let [path, source] = args.as_slice() else {
        let _ = writeln!(io::stderr(), "usage: normalise-prices COST_MAP.json SOURCE");
        return ExitCode::FAILURE;
    };
    let normalised = fs::read_to_string(path)
        .map_err(|e| format!("{path}: {e}"))
        .and_then(|json| model_router_config::prices::normalise(&json, source));
    match normalised.map(|text| io::stdout().write_all(text.as_bytes()).map_err(|e| e.to_string())) {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(e)) | Err(e) => {
            let _ = writeln!(io::stderr(), "normalise-prices: {e}");
            ExitCode::FAILURE
        }
    }
}
