//! The budget gauges of `/metrics` under LiteLLM's names: each key's and team's remaining
//! budget this period and its max budget (`litellm_remaining_api_key_budget_metric`,
//! `litellm_api_key_max_budget_metric`, `litellm_remaining_team_budget_metric`,
//! `litellm_team_max_budget_metric`), for keys and teams with a `max_budget`. Labels come from
//! the compiled table only, so the lines are bounded by the config.

use std::fmt::Write as _;

use super::Keys;

/// The gauges' lines, `# HELP`/`# TYPE` included; empty without budgets.
pub fn render(keys: &Keys) -> String {
    let table = keys.table;
    let mut remaining_keys = Vec::new();
    let mut max_keys = Vec::new();
    for (i, key) in (0u16..).zip(table.keys) {
        let (Some(usage), Some(max)) = (keys.usage(i).first().copied(), key.limits.max_budget) else { continue };
        let labels = format!("api_key_alias=\"{}\",hashed_api_key=\"{}\"", escape(key.alias), keys.label_hash(i));
        remaining_keys.push(format!("{{{labels}}} {}", usage.remaining_budget().unwrap_or(max)));
        max_keys.push(format!("{{{labels}}} {max}"));
    }
    let mut remaining_teams = Vec::new();
    let mut max_teams = Vec::new();
    for team in table.teams {
        let Some(max) = team.limits.max_budget else { continue };
        let member =
            (0u16..).zip(table.keys).find(|(_, k)| k.team.is_some_and(|t| table.teams[usize::from(t)].id == team.id));
        let spent = member.and_then(|(i, _)| keys.usage(i).get(1).copied()).map_or(0.0, |u| u.spend);
        let labels = format!("team=\"{}\",team_alias=\"{}\"", escape(team.id), escape(team.alias.unwrap_or("None")));
        remaining_teams.push(format!("{{{labels}}} {}", max - spent));
        max_teams.push(format!("{{{labels}}} {max}"));
    }
    let mut out = String::new();
    let families = [
        ("litellm_remaining_api_key_budget_metric", "Budget the key has left this period, USD.", remaining_keys),
        ("litellm_api_key_max_budget_metric", "The key's max budget per period, USD.", max_keys),
        ("litellm_remaining_team_budget_metric", "Budget the team has left this period, USD.", remaining_teams),
        ("litellm_team_max_budget_metric", "The team's max budget per period, USD.", max_teams),
    ];
    for (name, help, lines) in families.into_iter().filter(|(_, _, lines)| !lines.is_empty()) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
        for line in lines {
            let _ = writeln!(out, "{name}{line}");
        }
    }
    out
}

fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}
