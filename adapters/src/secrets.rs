//! Resolving secrets at dispatch: a `sys/SecretRef@1` in an admitted intent's params names a
//! `defsecret` (`"{alias}@{version}"`, see `worldline_kernel::effects::secrets`), whose
//! `binding_id` says where this node keeps the value.
//!
//! Rules:
//!
//! - **Bindings.** A binding id listed in the node-local map ([`SecretConfig::bindings`], the
//!   CLI's `--secret BINDING_ID=SOURCE`) resolves through its mapped source; any other binding id
//!   must itself be a source. A source is `env:NAME` (the environment variable `NAME`, as bytes)
//!   or `file:PATH` (the file's bytes with one trailing line break, `\n` or `\r\n`, removed).
//! - **Digest.** When the `defsecret` has `expected_digest`, the SHA-256 of the value must equal
//!   it.
//! - **Secrecy.** Values live in [`SecretValue`], whose `Debug` prints `<redacted>` and whose
//!   memory is zeroed on drop. A [`SecretError`] names the secret and its binding, never the
//!   value (nor the value's digest).
//! - The kernel only checks a secret's ACLs at admission; it never sees a value. Resolution
//!   happens here, when the intent is dispatched, so the value never reaches the journal.

use std::collections::BTreeMap;
use std::os::unix::ffi::OsStringExt;
use std::path::PathBuf;

use worldline_air::nodes::DefSecret;
use worldline_air::{ControlPlane, Hash};
use worldline_kernel::effects::secrets::SecretRef;
use zeroize::Zeroizing;

/// A secret's plaintext. Never printed; zeroed when dropped.
#[derive(Clone)]
pub struct SecretValue(Zeroizing<Vec<u8>>);

impl SecretValue {
    /// Wraps `bytes`.
    pub fn new(bytes: Vec<u8>) -> SecretValue {
        SecretValue(Zeroizing::new(bytes))
    }

    /// The plaintext, for the one place that sends it.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

/// The node-local secret settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SecretConfig {
    /// Binding id → source (`env:NAME` or `file:PATH`), for logical binding ids such as
    /// `openai-prod`. Binding ids that are themselves sources need no entry.
    pub bindings: BTreeMap<String, String>,
}

/// Why a secret could not be resolved: names the secret and its binding, never the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("secret `{secret}` (binding `{binding}`): {reason}")]
pub struct SecretError {
    /// The `defsecret` name (`alias@version`).
    pub secret: String,
    /// Its binding id (empty when the secret itself is unknown).
    pub binding: String,
    /// What went wrong.
    pub reason: String,
}

/// Where a value comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Source {
    Env(String),
    File(PathBuf),
}

impl Source {
    fn parse(text: &str) -> Option<Source> {
        if let Some(name) = text.strip_prefix("env:") {
            return (!name.is_empty() && !name.contains(['=', '\0']))
                .then(|| Source::Env(name.to_owned()));
        }
        let path = text.strip_prefix("file:")?;
        (!path.is_empty()).then(|| Source::File(PathBuf::from(path)))
    }

    fn read(&self) -> Result<SecretValue, String> {
        match self {
            Source::Env(name) => std::env::var_os(name)
                .map(|value| SecretValue::new(value.into_vec()))
                .ok_or_else(|| format!("environment variable {name} is not set")),
            Source::File(path) => {
                let mut bytes = Zeroizing::new(
                    std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?,
                );
                if bytes.ends_with(b"\n") {
                    bytes.pop();
                    if bytes.ends_with(b"\r") {
                        bytes.pop();
                    }
                }
                Ok(SecretValue(bytes))
            }
        }
    }
}

/// Resolves `defsecret` bindings to values on this node.
#[derive(Debug, Clone, Default)]
pub struct SecretResolver {
    bindings: BTreeMap<String, Source>,
}

impl SecretResolver {
    /// A resolver with the node-local map of `config`; `Err` names the first entry whose source
    /// is neither `env:NAME` nor `file:PATH`.
    pub fn new(config: &SecretConfig) -> Result<SecretResolver, String> {
        let mut bindings = BTreeMap::new();
        for (binding, source) in &config.bindings {
            let parsed = Source::parse(source).ok_or_else(|| {
                format!("secret binding `{binding}`: {source:?} is not env:NAME or file:PATH")
            })?;
            bindings.insert(binding.clone(), parsed);
        }
        Ok(SecretResolver { bindings })
    }

    /// The value of the secret `secret_ref` names in `plane`.
    pub fn resolve(
        &self,
        plane: &ControlPlane,
        secret_ref: &SecretRef,
    ) -> Result<SecretValue, SecretError> {
        let secret = secret_ref.resolve(plane).ok_or_else(|| SecretError {
            secret: secret_ref.def_name(),
            binding: String::new(),
            reason: "no such defsecret is listed in the manifest".to_owned(),
        })?;
        self.resolve_def(secret)
    }

    /// The value of `secret`, checked against its `expected_digest`.
    pub fn resolve_def(&self, secret: &DefSecret) -> Result<SecretValue, SecretError> {
        let error = |reason: String| SecretError {
            secret: secret.name.to_string(),
            binding: secret.binding_id.clone(),
            reason,
        };
        // Only the node's own map: a binding id in AIR never names an environment variable or
        // file by itself, so an approved patch cannot make the node read arbitrary values.
        let source = self.bindings.get(&secret.binding_id).cloned().ok_or_else(|| {
            error(
                "this node has no source for the binding (map it with --secret BINDING_ID=env:NAME|file:PATH)"
                    .to_owned(),
            )
        })?;
        let value = source.read().map_err(error)?;
        if let Some(expected) = secret.expected_digest
            && Hash::of(value.expose()) != expected
        {
            return Err(error(format!(
                "the value does not match expected_digest {expected}"
            )));
        }
        Ok(value)
    }
}
