//! Response ids that name the deployment that issued them, so a follow-up (a create with
//! `previous_response_id`, a retrieve, delete, input-items listing or cancel) reaches that
//! deployment with no server state, however many its group has.
//!
//! The format: `resp_mr1_<tag>_<upstream id>`, `tag` being 16 hex digits of the SHA-256
//! of the deployment's stable id (`model_info.id`, else LiteLLM's hash of its params), the
//! upstream id kept as the provider gave it. Neither keys nor base URLs are in it; a tag
//! no configured deployment has is a response that cannot be reached (OpenAI's own "not
//! found"). Ids without the prefix were not issued here and travel unchanged. Item ids
//! (`msg_…`, `fc_…`, `rs_…`) are the provider's, unchanged.

use sha2::{Digest, Sha256};

use crate::error::Error;
use crate::parse::CallRequest;
use crate::resolve::Target;
use crate::table::{Deployment, Table};

/// What every issued id starts with: OpenAI's prefix, then this format's version.
const PREFIX: &str = "resp_mr1_";
/// Hex digits of the deployment tag.
const TAG_LEN: usize = 16;
/// Keeps the tag a hash for this use only.
const TAG_DOMAIN: &[u8] = b"model-router response affinity\0";

/// The id the client sees for `upstream`, issued by deployment `d`.
pub fn encode(d: &Deployment, upstream: &str) -> String {
    format!("{}{upstream}", prefix(d))
}

/// What the ids deployment `d` issues start with.
pub fn prefix(d: &Deployment) -> String {
    format!("{PREFIX}{}_", tag(d))
}

/// `d`'s tag.
fn tag(d: &Deployment) -> String {
    let digest = Sha256::new().chain_update(TAG_DOMAIN).chain_update(d.id.as_bytes()).finalize();
    let mut hex = crate::table::hex(&digest);
    hex.truncate(TAG_LEN);
    hex
}

/// What an id the client sent says.
#[derive(Debug, PartialEq, Eq)]
enum Decoded<'a> {
    /// Issued here by this deployment, for this upstream id.
    Issued(u16, &'a str),
    /// Issued here, by a deployment no longer configured.
    Gone,
    /// Not one of ours: passed on unchanged.
    Foreign,
}

fn decode<'a>(table: &Table, id: &'a str) -> Decoded<'a> {
    let Some(rest) = id.strip_prefix(PREFIX) else { return Decoded::Foreign };
    let (Some(tag_text), Some(upstream)) = (rest.get(..TAG_LEN), rest.get(TAG_LEN + 1..)) else {
        return Decoded::Foreign;
    };
    if rest.as_bytes().get(TAG_LEN) != Some(&b'_') || !tag_text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Decoded::Foreign;
    }
    if upstream.is_empty() {
        return Decoded::Foreign;
    }
    match table.deployments.iter().position(|d| tag(d) == tag_text).and_then(|i| u16::try_from(i).ok()) {
        Some(index) => Decoded::Issued(index, upstream),
        None => Decoded::Gone,
    }
}

/// The group deployment `index` belongs to.
fn group_of(table: &Table, index: u16) -> Option<u16> {
    let at = table.groups.iter().position(|g| g.deployments.contains(&index))?;
    u16::try_from(at).ok()
}

/// Decodes the response a Responses API request names and pins the request to its
/// deployment (the upstream id put back in its place). The target is `Some` when the
/// request has no model to resolve: an operation on a response, whose model is its
/// deployment's group, the `model` query parameter, or else the one group whose
/// deployments speak the Responses API; a 400 says to pass `model` when there are several.
pub fn target(table: &Table, request: &mut CallRequest) -> Result<Option<Target>, Error> {
    let Some(parts) = request.responses.as_deref_mut() else { return Ok(None) };
    if parts.op.has_body() {
        let Some(previous) = parts.previous_response_id.as_deref() else { return Ok(None) };
        let (index, upstream) = match decode(table, previous) {
            Decoded::Foreign => return Ok(None),
            Decoded::Gone => return Err(Error::ResponseNotFound { id: previous.to_owned(), previous: true }),
            Decoded::Issued(index, upstream) => (index, upstream.to_owned()),
        };
        let raw = serde_json::value::to_raw_value(&upstream).map_err(|e| Error::BadJson(e.to_string()))?;
        request.fields.insert("previous_response_id", raw);
        parts.pinned = Some(index);
        return Ok(None);
    }
    let id = parts.id.clone().unwrap_or_default();
    match decode(table, &id) {
        Decoded::Gone => Err(Error::ResponseNotFound { id, previous: false }),
        Decoded::Issued(index, upstream) => {
            parts.id = Some(upstream.to_owned());
            parts.pinned = Some(index);
            let group = group_of(table, index).unwrap_or_default();
            if request.model.is_empty() {
                table.group(group).name.clone_into(&mut request.model);
            }
            Ok(Some(Target::Group { group, captures: None }))
        }
        Decoded::Foreign if !request.model.is_empty() => Ok(None),
        Decoded::Foreign => {
            let group = only_group(table).ok_or(Error::BadParam {
                route: parts.op.route(),
                param: "model",
                reason: "this response id was not issued by model-router and several model groups serve the \
                         Responses API: name the group with ?model=<group>"
                    .into(),
            })?;
            table.group(group).name.clone_into(&mut request.model);
            Ok(Some(Target::Group { group, captures: None }))
        }
    }
}

/// The one group with a deployment that speaks the Responses API, if only one has.
fn only_group(table: &Table) -> Option<u16> {
    let speaks = |g: &&crate::table::Group| g.deployments.iter().any(|i| table.deployment(*i).responses_api);
    let mut groups = table.groups.iter().enumerate().filter(|(_, g)| speaks(g));
    let (first, _) = groups.next()?;
    if groups.next().is_some() {
        return None;
    }
    u16::try_from(first).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_carry_a_tag_and_the_upstream_id() {
        let d = crate::table::test_deployment();
        let id = encode(&d, "resp_abc");
        assert!(id.starts_with("resp_mr1_") && id.ends_with("_resp_abc"), "{id}");
        assert_eq!(id.len(), PREFIX.len() + TAG_LEN + 1 + "resp_abc".len());
        assert!(!id.contains(d.id), "the tag is a hash, not the id");
    }
}
