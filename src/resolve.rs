//! Requested model → what can serve it, in LiteLLM's order: exact model name, alias, the
//! longest matching wildcard (captures substituted into the deployment's model), a
//! deployment's own `provider/model` name. Pure; the request goes on to `pick`.

use crate::table::Table;

/// The lookups resolution needs; the compiled [`Table`] implements it with perfect-hash
/// maps, and tests with the config crate's normalised routes.
pub trait Index {
    /// The group a model name or alias names.
    fn group_named(&self, name: &str) -> Option<u16>;
    /// The deployment whose `provider/model` is `name`.
    fn deployment_named(&self, name: &str) -> Option<u16>;
    /// Wildcard patterns with their groups, longest first.
    fn wildcards(&self) -> impl Iterator<Item = (&str, u16)>;
}

impl Index for Table {
    fn group_named(&self, name: &str) -> Option<u16> {
        self.names.get(name).copied()
    }

    fn deployment_named(&self, name: &str) -> Option<u16> {
        self.deployment_names.get(name).copied()
    }

    fn wildcards(&self) -> impl Iterator<Item = (&str, u16)> {
        self.wildcards.iter().map(|w| (w.pattern, w.group))
    }
}

/// What serves a requested model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Any deployment of the group; `captures` are set when a wildcard matched.
    Group { group: u16, captures: Option<Vec<String>> },
    /// Exactly this deployment, named by its `provider/model`.
    Deployment(u16),
}

/// Why nothing serves a requested model; the two get LiteLLM's two different messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unresolved {
    /// No name matched and no wildcard is configured.
    InvalidModel,
    /// Wildcards are configured but none matched.
    NoDeployment,
}

/// Resolves `requested` against `index`.
pub fn resolve(index: &impl Index, requested: &str) -> Result<Target, Unresolved> {
    if let Some(group) = index.group_named(requested) {
        return Ok(Target::Group { group, captures: None });
    }
    let mut any_wildcard = false;
    for (pattern, group) in index.wildcards() {
        any_wildcard = true;
        if let Some(captures) = match_wildcard(pattern, requested) {
            let captures = captures.into_iter().map(str::to_owned).collect();
            return Ok(Target::Group { group, captures: Some(captures) });
        }
    }
    if let Some(deployment) = index.deployment_named(requested) {
        return Ok(Target::Deployment(deployment));
    }
    Err(if any_wildcard { Unresolved::NoDeployment } else { Unresolved::InvalidModel })
}

/// Matches `name` against a wildcard `pattern` the way LiteLLM's regex does: each `*` is a
/// greedy `(.*)` (no newlines), anchored at the start only. Returns the captures.
pub fn match_wildcard<'n>(pattern: &str, name: &'n str) -> Option<Vec<&'n str>> {
    let mut parts = pattern.split('*');
    let head = parts.next().unwrap_or_default();
    let rest = name.strip_prefix(head)?;
    let parts: Vec<&str> = parts.collect();
    let mut captures = Vec::with_capacity(parts.len());
    captures_from(&parts, rest, &mut captures).then_some(captures)
}

/// Fills `captures` for the `*`s before each of `parts`, trying the longest capture first.
fn captures_from<'n>(parts: &[&str], text: &'n str, captures: &mut Vec<&'n str>) -> bool {
    let Some((literal, later)) = parts.split_first() else { return true };
    let line = text.find('\n').map_or(text, |end| &text[..end]);
    if literal.is_empty() && later.is_empty() {
        captures.push(line);
        return true;
    }
    let mut ends: Vec<usize> = line.match_indices(literal).map(|(i, _)| i).collect();
    if literal.is_empty() {
        ends = (0..=line.len()).filter(|i| line.is_char_boundary(*i)).collect();
    }
    for end in ends.into_iter().rev() {
        captures.push(&text[..end]);
        if captures_from(later, &text[end + literal.len()..], captures) {
            return true;
        }
        captures.pop();
    }
    false
}

/// The model to send upstream for a deployment whose model (after the provider prefix) is
/// `upstream`: each `*` replaced, left to right, by a capture; `upstream` as is without
/// `*`; the whole `requested` name when there are more captures than `*`. A capture that
/// starts with the deployment's own `provider/` loses it (`openai/gpt-4o-mini` through
/// `*` → `openai/*` reaches OpenAI as `gpt-4o-mini`, where LiteLLM would send the prefix).
pub fn upstream_model(upstream: &str, provider: &str, captures: Option<&[String]>, requested: &str) -> String {
    let Some(captures) = captures else { return upstream.to_owned() };
    let stars = upstream.matches('*').count();
    if stars == 0 {
        return upstream.to_owned();
    }
    let strip = |capture: &str| -> String {
        capture.strip_prefix(provider).and_then(|rest| rest.strip_prefix('/')).unwrap_or(capture).to_owned()
    };
    if captures.len() > stars {
        return strip(requested);
    }
    let mut model = upstream.to_owned();
    for capture in captures {
        if let Some(at) = model.find('*') {
            model.replace_range(at..=at, &strip(capture));
        }
    }
    model
}

#[cfg(test)]
#[path = "resolve_tests.rs"]
mod tests;
