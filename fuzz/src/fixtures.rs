//! The fixed world data the targets check inputs against: the counter and hello-timer control
//! planes (their AIR compiled in), a fixed adapter key and one open `timer.set` intent.

use std::sync::OnceLock;

use worldline_air::load::{SourceFile, load_sources};
use worldline_air::plane::BuildOptions;
use worldline_air::{ControlPlane, Hash, Name, Value};
use worldline_kernel::effects::{EffectsState, OpenIntent};
use worldline_kernel::identity::WorldKey;
use worldline_kernel::record::{EffectIntentBody, Origin, OriginKind};

/// The counter world's AIR files, as `(name, text)`.
pub const COUNTER_AIR: [(&str, &str); 3] = [
    (
        "manifest.air.json",
        include_str!("../../worlds/counter/air/manifest.air.json"),
    ),
    (
        "module.air.json",
        include_str!("../../worlds/counter/air/module.air.json"),
    ),
    (
        "schemas.air.json",
        include_str!("../../worlds/counter/air/schemas.air.json"),
    ),
];

/// The hello-timer world's AIR files (a reducer emitting `timer.set`), as `(name, text)`.
pub const HELLO_TIMER_AIR: [(&str, &str); 4] = [
    (
        "manifest.air.json",
        include_str!("../../worlds/hello-timer/air/manifest.air.json"),
    ),
    (
        "module.air.json",
        include_str!("../../worlds/hello-timer/air/module.air.json"),
    ),
    (
        "policies.air.json",
        include_str!("../../worlds/hello-timer/air/policies.air.json"),
    ),
    (
        "schemas.air.json",
        include_str!("../../worlds/hello-timer/air/schemas.air.json"),
    ),
];

/// The adapter id the receipt target's open intent expects receipts from.
pub const ADAPTER_ID: &str = "timer";

/// The fixed seed of the receipt target's adapter key (not a secret: test data).
pub const ADAPTER_SEED: [u8; 32] = [7; 32];

/// The reducer that emitted the open intent.
pub const TIMER_REDUCER: &str = "demo/TimerSM@1";

/// Loads a control plane from `(name, text)` files.
pub fn load_plane(files: &[(&str, &str)]) -> Option<ControlPlane> {
    let sources: Vec<SourceFile> = files
        .iter()
        .map(|(name, text)| SourceFile {
            name: (*name).to_owned(),
            text: (*text).to_owned(),
        })
        .collect();
    load_sources(&sources, &BuildOptions::default()).ok()
}

/// The counter world's control plane (loaded once).
pub fn counter_plane() -> Option<&'static ControlPlane> {
    static PLANE: OnceLock<Option<ControlPlane>> = OnceLock::new();
    PLANE.get_or_init(|| load_plane(&COUNTER_AIR)).as_ref()
}

/// The hello-timer world's control plane (loaded once).
pub fn timer_plane() -> Option<&'static ControlPlane> {
    static PLANE: OnceLock<Option<ControlPlane>> = OnceLock::new();
    PLANE.get_or_init(|| load_plane(&HELLO_TIMER_AIR)).as_ref()
}

/// The adapter key that signs receipts in the receipt target.
pub fn adapter_key() -> WorldKey {
    WorldKey::from_seed(ADAPTER_SEED)
}

/// The open `timer.set` intent receipts are checked against.
pub fn open_intent() -> Option<OpenIntent> {
    let params = Value::record([
        ("deliver_at_ns", Value::Nat(1_900_000_000_000_000_000)),
        ("key", Value::Null),
    ])
    .to_cbor_body();
    Some(OpenIntent {
        seq: 5,
        intent: EffectIntentBody {
            intent_hash: Hash::of(b"worldline-fuzz open intent"),
            kind: "timer.set".to_owned(),
            params,
            cap: "timer_grant".to_owned(),
            idempotency_key: [0; 32],
            origin: Origin {
                kind: OriginKind::Reducer,
                name: Name::parse(TIMER_REDUCER).ok()?,
                key: None,
            },
        },
    })
}

/// Open work holding [`open_intent`] and the adapter key of [`ADAPTER_ID`].
pub fn effects_state() -> Option<EffectsState> {
    let mut state = EffectsState::default();
    state.insert(open_intent()?);
    state.set_adapter_key(ADAPTER_ID, adapter_key().public());
    Some(state)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn fixtures_load() {
        assert!(counter_plane().is_some(), "counter AIR loads");
        assert!(timer_plane().is_some(), "hello-timer AIR loads");
        assert_eq!(effects_state().unwrap().open_count(), 1);
    }
}
