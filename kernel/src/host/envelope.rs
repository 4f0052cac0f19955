//! The ABI envelopes (spec/abi.md): the input the host writes, the output it reads.

use worldline_air::cbor::{self, Cbor};

use super::step::StepError;
use crate::record::codec::MapBuilder;

/// Most domain events one step may emit.
pub const DOMAIN_EVENTS_PER_STEP_MAX: usize = 256;
/// Most effects one output envelope may carry (reducers: AIR v1 allows one micro-effect).
pub const EFFECTS_PER_STEP_MAX: usize = 64;

/// The input of one reducer step; bytes inside are canonical CBOR without the self-describe tag.
pub struct ReducerInput<'a> {
    /// The event's schema name.
    pub schema: &'a str,
    /// The event value.
    pub value: &'a [u8],
    /// The cell key, for keyed reducers.
    pub key: Option<&'a [u8]>,
    /// The current state; `None` for a new cell or the first step.
    pub state: Option<&'a [u8]>,
    /// `sys/ReducerContext@1`, if the module asks for it.
    pub ctx: Option<&'a [u8]>,
}

impl ReducerInput<'_> {
    /// The envelope's canonical bytes (no self-describe tag: it is a message, not a hashed value).
    pub fn encode(&self) -> Vec<u8> {
        let mut event = MapBuilder::new();
        event.opt_bytes("key", self.key);
        event.bytes("value", self.value);
        event.text("schema", self.schema);
        let mut envelope = MapBuilder::new();
        envelope.opt_bytes("ctx", self.ctx);
        envelope.map("event", event);
        match self.state {
            Some(state) => envelope.bytes("state", state),
            None => envelope.null("state"),
        }
        envelope.uint("version", 1);
        envelope.finish()
    }
}

/// The input of one pure-module run (`{version, input, ctx?}`).
pub struct PureInput<'a> {
    /// Canonical input value.
    pub input: &'a [u8],
    /// `sys/PureContext@1`, if the module asks for it.
    pub ctx: Option<&'a [u8]>,
}

impl PureInput<'_> {
    /// The envelope's canonical bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut envelope = MapBuilder::new();
        envelope.opt_bytes("ctx", self.ctx);
        envelope.bytes("input", self.input);
        envelope.uint("version", 1);
        envelope.finish()
    }
}

/// Reads a pure module's output envelope `{output: bytes}` (any key order, tag optional).
pub fn decode_pure_output(bytes: &[u8]) -> Result<Vec<u8>, StepError> {
    let item = cbor::decode(bytes).map_err(|e| bad(format!("the output is not CBOR: {e}")))?;
    match item.get("output") {
        Some(Cbor::Bytes(output)) => Ok(output.clone()),
        Some(other) => Err(bad(format!(
            "`output` must be bytes, found {}",
            other.kind_name()
        ))),
        None => Err(bad("the output envelope has no `output`")),
    }
}

/// A domain event a step emitted (not yet checked against its schema).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmittedEvent {
    /// Schema name as written by the module.
    pub schema: String,
    /// Value bytes as written.
    pub value: Vec<u8>,
    /// Cell key, if given.
    pub key: Option<Vec<u8>>,
}

/// An effect a step asked for (not yet admitted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmittedEffect {
    /// Effect kind.
    pub kind: String,
    /// Params bytes as written.
    pub params: Vec<u8>,
    /// Cap slot.
    pub cap_slot: Option<String>,
    /// Idempotency key.
    pub idempotency_key: Option<Vec<u8>>,
}

/// What a reducer step returned, read leniently, limits enforced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReducerOutput {
    /// The new state; `None` deletes the cell.
    pub state: Option<Vec<u8>>,
    /// Domain events to append.
    pub domain_events: Vec<EmittedEvent>,
    /// Effects to admit.
    pub effects: Vec<EmittedEffect>,
    /// Annotations.
    pub ann: Option<Vec<u8>>,
}

fn bad(reason: impl Into<String>) -> StepError {
    StepError::new("bad_output", reason)
}

fn bytes_field(item: Option<&Cbor>, what: &str) -> Result<Option<Vec<u8>>, StepError> {
    match item {
        None | Some(Cbor::Null) => Ok(None),
        Some(Cbor::Bytes(bytes)) => Ok(Some(bytes.clone())),
        Some(other) => Err(bad(format!(
            "`{what}` must be bytes or null, found {}",
            other.kind_name()
        ))),
    }
}

fn text_field(item: Option<&Cbor>, what: &str) -> Result<String, StepError> {
    match item {
        Some(Cbor::Text(text)) => Ok(text.clone()),
        _ => Err(bad(format!("`{what}` must be text"))),
    }
}

fn array<'a>(item: Option<&'a Cbor>, what: &str, max: usize) -> Result<&'a [Cbor], StepError> {
    match item {
        None | Some(Cbor::Null) => Ok(&[]),
        Some(Cbor::Array(items)) if items.len() <= max => Ok(items),
        Some(Cbor::Array(items)) => Err(StepError::new(
            "output_too_large",
            format!("{} entries in `{what}`; the limit is {max}", items.len()),
        )),
        Some(other) => Err(bad(format!(
            "`{what}` must be an array, found {}",
            other.kind_name()
        ))),
    }
}

impl ReducerOutput {
    /// Reads an output envelope: any key order, self-describe tag optional; every value checked
    /// for its CBOR type (schemas are checked by the caller).
    pub fn decode(bytes: &[u8]) -> Result<ReducerOutput, StepError> {
        let item = cbor::decode(bytes).map_err(|e| bad(format!("the output is not CBOR: {e}")))?;
        let Cbor::Map(entries) = &item else {
            return Err(bad(format!(
                "the output must be a map, found {}",
                item.kind_name()
            )));
        };
        for (key, _) in entries {
            let known = matches!(
                key.as_text(),
                Some("state" | "domain_events" | "effects" | "ann")
            );
            if !known {
                return Err(bad(format!("unknown output field {key:?}")));
            }
        }
        if item.get("state").is_none() {
            return Err(bad(
                "the output has no `state` (write null to delete a cell)",
            ));
        }
        let state = bytes_field(item.get("state"), "state")?;
        let mut domain_events = Vec::new();
        for (index, event) in array(
            item.get("domain_events"),
            "domain_events",
            DOMAIN_EVENTS_PER_STEP_MAX,
        )?
        .iter()
        .enumerate()
        {
            let what = format!("domain_events[{index}]");
            domain_events.push(EmittedEvent {
                schema: text_field(event.get("schema"), &format!("{what}.schema"))?,
                value: bytes_field(event.get("value"), &format!("{what}.value"))?
                    .ok_or_else(|| bad(format!("`{what}.value` is missing")))?,
                key: bytes_field(event.get("key"), &format!("{what}.key"))?,
            });
        }
        let mut effects = Vec::new();
        for (index, effect) in array(item.get("effects"), "effects", EFFECTS_PER_STEP_MAX)?
            .iter()
            .enumerate()
        {
            let what = format!("effects[{index}]");
            effects.push(EmittedEffect {
                kind: text_field(effect.get("kind"), &format!("{what}.kind"))?,
                params: bytes_field(effect.get("params_cbor"), &format!("{what}.params_cbor"))?
                    .ok_or_else(|| bad(format!("`{what}.params_cbor` is missing")))?,
                cap_slot: match effect.get("cap_slot") {
                    None | Some(Cbor::Null) => None,
                    other => Some(text_field(other, &format!("{what}.cap_slot"))?),
                },
                idempotency_key: bytes_field(
                    effect.get("idempotency_key"),
                    &format!("{what}.idempotency_key"),
                )?,
            });
        }
        let ann = bytes_field(item.get("ann"), "ann")?;
        Ok(ReducerOutput {
            state,
            domain_events,
            effects,
            ann,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_envelope_is_canonical_with_keys_in_order() {
        let input = ReducerInput {
            schema: "demo/E@1",
            value: &[0x01],
            key: Some(&[0x61, 0x6b]),
            state: None,
            ctx: None,
        };
        let bytes = input.encode();
        // a3 65"event" a3 63"key" … 65"value" … 66"schema" … 65"state" f6 67"version" 01
        assert_eq!(
            &bytes[..8],
            &[0xa3, 0x65, b'e', b'v', b'e', b'n', b't', 0xa3]
        );
        let item = cbor::decode(&bytes).unwrap();
        let mut reencoded = Vec::new();
        item.write_canonical(&mut reencoded).unwrap();
        assert_eq!(reencoded, bytes);
    }

    #[test]
    fn output_is_read_leniently_and_checked() {
        // {"state": h'01'} with the self-describe tag and an indefinite map.
        let output = ReducerOutput::decode(&[
            0xd9, 0xd9, 0xf7, 0xbf, 0x65, b's', b't', b'a', b't', b'e', 0x41, 0x01, 0xff,
        ])
        .unwrap();
        assert_eq!(output.state, Some(vec![0x01]));
        assert_eq!(
            ReducerOutput::decode(&[0xa0]).unwrap_err().code,
            "bad_output"
        );
        assert_eq!(
            ReducerOutput::decode(&[0x01]).unwrap_err().code,
            "bad_output"
        );
        let unknown = [
            0xa2, 0x65, b's', b't', b'a', b't', b'e', 0xf6, 0x61, b'x', 0x01,
        ];
        assert!(
            ReducerOutput::decode(&unknown)
                .unwrap_err()
                .reason
                .contains("unknown output field")
        );
    }
}
