//! Writes the keys and teams of [`KeysSpec`] as statics of `src/table.rs`'s types: a
//! perfect-hash map from each key hash (lower-case hex SHA-256) to its key, and the keys and
//! teams as slices. Sorted as configured; no secret is ever written (only hashes and the
//! names of the variables that hold secrets).

use std::fmt::Write as _;

use crate::vkeys::{KeysSpec, LimitSpec};

/// `static KEY_HASHES: phf::Map<&str, u16>`.
pub(crate) fn hashes(out: &mut String, spec: &KeysSpec) {
    let mut map = phf_codegen::Map::<&str>::new();
    for (i, key) in spec.keys.iter().enumerate() {
        for hash in &key.hashes {
            map.entry(hash.as_str(), &i.to_string());
        }
    }
    let _ = writeln!(out, "static KEY_HASHES: ::phf::Map<&'static str, u16> = {};", map.build());
}

/// The `keys:`, `key_hashes:` and `teams:` fields of the table.
pub(crate) fn tables(out: &mut String, spec: &KeysSpec) {
    out.push_str("    keys: &[\n");
    for k in &spec.keys {
        let _ = writeln!(
            out,
            "        crate::table::VirtualKey {{ alias: {:?}, hashes: &{:?}, env: {:?}, team: {:?}, models: &{:?}, limits: {}, expires: {:?}, metadata_json: {:?} }},",
            k.alias,
            k.hashes,
            k.env,
            k.team,
            k.models,
            limits(&k.limits),
            k.expires,
            k.metadata_json
        );
    }
    out.push_str("    ],\n    key_hashes: &KEY_HASHES,\n    teams: &[\n");
    for t in &spec.teams {
        let _ = writeln!(
            out,
            "        crate::table::Team {{ id: {:?}, alias: {:?}, models: &{:?}, limits: {} }},",
            t.id,
            t.alias,
            t.models,
            limits(&t.limits)
        );
    }
    out.push_str("    ],\n");
}

fn limits(l: &LimitSpec) -> String {
    format!(
        "crate::table::KeyLimits {{ rpm: {:?}, tpm: {:?}, max_parallel: {:?}, max_budget: {:?}, budget_duration_s: {:?} }}",
        l.rpm, l.tpm, l.max_parallel, l.max_budget, l.budget_duration_s
    )
}
