//! The native enforcer of `sys/governance@1` (`sys/CapEnforceGovernance@1`), for the
//! `governance.propose/shadow/approve/apply` effects a plan emits.
//!
//! The grant's params are `{ops?, def_kinds?, name_prefixes?, manifest_sections?}`; as for every
//! enforcer, an absent or empty set leaves that aspect unrestricted. Checked in this order:
//!
//! 1. `op_not_allowed`: the effect's operation (`propose`, `shadow`, `approve`, `apply`) is not
//!    in `ops`.
//! 2. The patch the operation concerns: for `propose` the one in the params, for the others
//!    the patch of the proposal named by `proposal_id` (so a plan allowed to approve only plan
//!    changes cannot approve a proposal that widens a grant, whoever proposed it).
//!    - `def_kind_not_allowed`: a definition it adds, replaces, removes or (un)lists is of a
//!      kind not in `def_kinds` (words such as `defplan`).
//!    - `name_not_allowed`: such a definition's name starts with none of `name_prefixes`.
//!    - `manifest_section_not_allowed`: it rewrites a manifest section (`defaults`, `routing`,
//!      `triggers`, `module_bindings`, `secrets`) not in `manifest_sections`.
//!
//!    When the grant restricts any of these and the patch cannot be read here, the intent is
//!    denied: `patch_not_inline` for a `propose` whose patch is a CAS reference (`hash`,
//!    `patch_blob_ref`: an enforcer reads no store), `patch_invalid` for one that does not
//!    parse, `proposal_unknown` for an id with no proposal. An unrestricted grant admits them;
//!    the operation itself then refuses what is wrong, in its receipt.

use std::collections::BTreeSet;

use worldline_air::Value;
use worldline_air::patch::{PatchDoc, PatchScope};

use super::enforce::{Denial, text_set};
use crate::governance::GovState;

/// Checks a governance intent (`kind` such as `governance.propose`) against a grant.
pub fn check_governance(
    grant: &Value,
    kind: &str,
    params: &Value,
    proposals: &GovState,
) -> Result<(), Denial> {
    let op = kind.strip_prefix("governance.").unwrap_or(kind);
    let ops = words(grant, "ops")?;
    if !ops.is_empty() && !ops.contains(op) {
        return Err(denial(
            "op_not_allowed",
            format!(
                "the grant does not allow governance.{op} (ops: {})",
                list(&ops)
            ),
        ));
    }
    let limits = ScopeLimits {
        def_kinds: words(grant, "def_kinds")?,
        name_prefixes: words(grant, "name_prefixes")?,
        sections: words(grant, "manifest_sections")?,
    };
    if limits.is_open() {
        return Ok(());
    }
    let scope = match op {
        "propose" => inline_patch_scope(params)?,
        _ => proposal_scope(params, proposals)?,
    };
    limits.check(&scope)
}

struct ScopeLimits {
    def_kinds: BTreeSet<String>,
    name_prefixes: BTreeSet<String>,
    sections: BTreeSet<String>,
}

impl ScopeLimits {
    fn is_open(&self) -> bool {
        self.def_kinds.is_empty() && self.name_prefixes.is_empty() && self.sections.is_empty()
    }

    fn check(&self, scope: &PatchScope) -> Result<(), Denial> {
        for (kind, name) in &scope.defs {
            if !self.def_kinds.is_empty() && !self.def_kinds.contains(kind.word()) {
                return Err(denial(
                    "def_kind_not_allowed",
                    format!(
                        "the patch touches {} {name}; the grant allows only {}",
                        kind.word(),
                        list(&self.def_kinds)
                    ),
                ));
            }
            let prefixed = self
                .name_prefixes
                .iter()
                .any(|p| name.starts_with(p.as_str()));
            if !self.name_prefixes.is_empty() && !prefixed {
                return Err(denial(
                    "name_not_allowed",
                    format!(
                        "the patch touches {} {name}, under none of the grant's name prefixes ({})",
                        kind.word(),
                        list(&self.name_prefixes)
                    ),
                ));
            }
        }
        for section in &scope.sections {
            if !self.sections.is_empty() && !self.sections.contains(*section) {
                return Err(denial(
                    "manifest_section_not_allowed",
                    format!(
                        "the patch rewrites the manifest's {section}; the grant allows only {}",
                        list(&self.sections)
                    ),
                ));
            }
        }
        // A restricted grant with no section list still admits no section rewrite: the
        // sections a grant does not name are exactly what a narrow grant is meant to keep out.
        if self.sections.is_empty() && !scope.sections.is_empty() {
            let rewritten: Vec<&str> = scope.sections.iter().copied().collect();
            return Err(denial(
                "manifest_section_not_allowed",
                format!(
                    "the patch rewrites the manifest's {}; the grant lists no manifest_sections",
                    rewritten.join(", ")
                ),
            ));
        }
        Ok(())
    }
}

/// The scope of the patch a `propose` carries in its params (`sys/GovPatchInput@1`).
fn inline_patch_scope(params: &Value) -> Result<PatchScope, Denial> {
    let Some(Value::Variant { tag, value }) = params.field("patch") else {
        return Err(denial("patch_invalid", "the params hold no patch"));
    };
    let doc = match (tag.as_str(), value.as_deref()) {
        ("patch_doc_json", Some(Value::Bytes(text))) => serde_json::from_slice(text)
            .map_err(|e| e.to_string())
            .and_then(|json| PatchDoc::from_json(&json).map_err(|e| e.to_string())),
        ("patch_cbor", Some(Value::Bytes(bytes))) => {
            PatchDoc::from_cbor_bytes(bytes).map_err(|e| e.to_string())
        }
        (other, _) => {
            return Err(denial(
                "patch_not_inline",
                format!(
                    "the patch is given as `{other}`, a reference an enforcer cannot read; a restricted grant needs `patch_doc_json` or `patch_cbor`"
                ),
            ));
        }
    };
    doc.map(|doc| doc.scope())
        .map_err(|reason| denial("patch_invalid", format!("the patch: {reason}")))
}

/// The scope of the proposal a `shadow`, `approve` or `apply` names.
fn proposal_scope(params: &Value, proposals: &GovState) -> Result<PatchScope, Denial> {
    let Some(Value::Nat(id)) = params.field("proposal_id") else {
        return Err(denial("proposal_unknown", "the params name no proposal_id"));
    };
    let proposal = proposals
        .get(*id)
        .ok_or_else(|| denial("proposal_unknown", format!("proposal {id} does not exist")))?;
    proposal.scope.clone().ok_or_else(|| {
        denial(
            "proposal_unknown",
            format!("proposal {id} predates patch scopes; a restricted grant cannot judge it"),
        )
    })
}

/// A set-of-text field of the grant (absent, none or empty: no restriction); a field of
/// another shape fails closed, as in every native enforcer.
fn words(grant: &Value, field: &str) -> Result<BTreeSet<String>, Denial> {
    let set = text_set(grant, field)?.unwrap_or_default();
    Ok(set.into_iter().map(str::to_owned).collect())
}

fn list(set: &BTreeSet<String>) -> String {
    set.iter().cloned().collect::<Vec<_>>().join(", ")
}

fn denial(code: &'static str, message: impl Into<String>) -> Denial {
    Denial::new(code, message)
}

#[cfg(test)]
#[path = "enforce_gov_tests.rs"]
mod tests;
