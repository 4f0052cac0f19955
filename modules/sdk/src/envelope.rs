//! The raw step envelopes of `spec/abi.md` (ABI version 1), below the typed layer.
//!
//! [`run_step`](crate::run_step) uses these to read the host's input and write the output;
//! tests use them to build inputs and to look inside outputs. Decoding is lenient about form
//! (self-describe tag optional, any key order, definite or indefinite lengths, unknown keys
//! skipped); encoding is canonical (`spec/encoding.md`: shortest heads, keys sorted, absent
//! optional keys left out) and, like the host's, without the self-describe tag: an envelope is
//! a message, not a hashed value.

use minicbor::Decoder;
use minicbor::data::{Tag, Type};

use crate::ReduceError;
use crate::codec::{describe_cbor_error, head};

/// The self-describe tag, accepted (and skipped) in front of an envelope.
const SELF_DESCRIBE_TAG: u64 = 55799;

/// The envelope version this SDK speaks (`"version": 1`).
pub const ABI_VERSION: u64 = 1;

/// An event: the input's `event` entry and each entry of the output's `domain_events`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EventEntry {
    /// The event's schema name, `ns/Name@N`.
    pub schema: String,
    /// The event value's CBOR (no self-describe tag).
    pub value: Vec<u8>,
    /// The cell key's CBOR, for keyed reducers (input) or keyed routing (output).
    pub key: Option<Vec<u8>>,
}

/// An entry of the output's `effects`: one effect intent.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EffectEntry {
    /// The effect kind (`timer.set`, `blob.put`, `blob.get`).
    pub kind: String,
    /// The params value's CBOR (its schema is the effect's `params_schema`).
    pub params_cbor: Vec<u8>,
    /// The module cap slot the effect goes through.
    pub cap_slot: Option<String>,
    /// An idempotency key (32 bytes; the host defaults it to zeros).
    pub idempotency_key: Option<Vec<u8>>,
}

/// The reducer input envelope `{ctx?, event, state, version: 1}`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StepInput {
    /// `sys/ReducerContext@1` as CBOR, when the module declares a context.
    pub ctx: Option<Vec<u8>>,
    /// The event being handled.
    pub event: EventEntry,
    /// The state's CBOR; `None` for a new cell or the first step.
    pub state: Option<Vec<u8>>,
}

/// The reducer output envelope `{state, domain_events?, effects?, ann?}`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StepOutput {
    /// The new state's CBOR; `None` deletes the cell (keyed reducers).
    pub state: Option<Vec<u8>>,
    /// Domain events to append (left out of the encoding when empty).
    pub domain_events: Vec<EventEntry>,
    /// Effect intents (left out of the encoding when empty).
    pub effects: Vec<EffectEntry>,
    /// Annotations' CBOR.
    pub ann: Option<Vec<u8>>,
}

impl StepInput {
    /// The canonical encoding, exactly as the host writes it.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::top();
        w.map(3 + usize::from(self.ctx.is_some()));
        if let Some(ctx) = &self.ctx {
            w.text("ctx").bytes(ctx);
        }
        w.text("event");
        w.event(&self.event);
        w.text("state").opt_bytes(self.state.as_deref());
        w.text("version").uint(ABI_VERSION);
        w.out
    }

    /// Reads an input envelope leniently. `version` must be 1 and `event` must carry `schema`
    /// and `value`; `state` may be null or absent.
    pub fn decode(bytes: &[u8]) -> Result<Self, ReduceError> {
        let mut d = start(bytes);
        let (mut ctx, mut event, mut state, mut version) = (None, None, None, None);
        entries(&mut d, "input envelope", |d, key| match key {
            "ctx" => once(&mut ctx, "ctx", opt_bytes(d, "ctx")?),
            "event" => once(&mut event, "event", read_event(d, "event")?),
            "state" => once(&mut state, "state", opt_bytes(d, "state")?),
            "version" => once(
                &mut version,
                "version",
                d.u64()
                    .map_err(|e| bad("version", "an unsigned integer", e))?,
            ),
            _ => d.skip().map_err(|e| bad(key, "a CBOR item", e)),
        })?;
        finish(&d, bytes.len(), "input envelope")?;
        match version {
            Some(ABI_VERSION) => {}
            Some(v) => {
                return Err(ReduceError::new(format!(
                    "unsupported envelope version {v}"
                )));
            }
            None => return Err(ReduceError::new("input envelope: missing `version`")),
        }
        Ok(StepInput {
            ctx: ctx.flatten(),
            event: event.ok_or_else(|| ReduceError::new("input envelope: missing `event`"))?,
            state: state.flatten(),
        })
    }
}

impl StepOutput {
    /// The canonical encoding (what the SDK returns to the host).
    pub fn encode(&self) -> Vec<u8> {
        let events = !self.domain_events.is_empty();
        let effects = !self.effects.is_empty();
        let mut w = Writer::top();
        w.map(1 + usize::from(self.ann.is_some()) + usize::from(events) + usize::from(effects));
        if let Some(ann) = &self.ann {
            w.text("ann").bytes(ann);
        }
        w.text("state").opt_bytes(self.state.as_deref());
        if effects {
            w.text("effects").array(self.effects.len());
            for fx in &self.effects {
                let n = 2
                    + usize::from(fx.cap_slot.is_some())
                    + usize::from(fx.idempotency_key.is_some());
                w.map(n).text("kind").text(&fx.kind);
                if let Some(slot) = &fx.cap_slot {
                    w.text("cap_slot").text(slot);
                }
                w.text("params_cbor").bytes(&fx.params_cbor);
                if let Some(key) = &fx.idempotency_key {
                    w.text("idempotency_key").bytes(key);
                }
            }
        }
        if events {
            w.text("domain_events").array(self.domain_events.len());
            for ev in &self.domain_events {
                w.event(ev);
            }
        }
        w.out
    }

    /// Reads an output envelope leniently (as the host does).
    pub fn decode(bytes: &[u8]) -> Result<Self, ReduceError> {
        let mut d = start(bytes);
        let (mut state, mut events, mut effects, mut ann) = (None, None, None, None);
        entries(&mut d, "output envelope", |d, key| match key {
            "state" => once(&mut state, "state", opt_bytes(d, "state")?),
            "domain_events" => {
                let list = items(d, "domain_events", |d| read_event(d, "domain_events[]"))?;
                once(&mut events, "domain_events", list)
            }
            "effects" => once(&mut effects, "effects", items(d, "effects", read_effect)?),
            "ann" => once(&mut ann, "ann", opt_bytes(d, "ann")?),
            _ => d.skip().map_err(|e| bad(key, "a CBOR item", e)),
        })?;
        finish(&d, bytes.len(), "output envelope")?;
        Ok(StepOutput {
            state: state.ok_or_else(|| ReduceError::new("output envelope: missing `state`"))?,
            domain_events: events.unwrap_or_default(),
            effects: effects.unwrap_or_default(),
            ann: ann.flatten(),
        })
    }
}

// ---- canonical writer ------------------------------------------------------------------------

struct Writer {
    out: Vec<u8>,
}

impl Writer {
    fn top() -> Self {
        Writer { out: Vec::new() }
    }

    fn head(&mut self, major: u8, n: u64) -> &mut Self {
        head(&mut self.out, major, n);
        self
    }

    fn uint(&mut self, n: u64) -> &mut Self {
        self.head(0, n)
    }

    fn bytes(&mut self, b: &[u8]) -> &mut Self {
        self.head(2, b.len() as u64);
        self.out.extend_from_slice(b);
        self
    }

    fn text(&mut self, s: &str) -> &mut Self {
        self.head(3, s.len() as u64);
        self.out.extend_from_slice(s.as_bytes());
        self
    }

    fn array(&mut self, n: usize) -> &mut Self {
        self.head(4, n as u64)
    }

    fn map(&mut self, n: usize) -> &mut Self {
        self.head(5, n as u64)
    }

    fn opt_bytes(&mut self, b: Option<&[u8]>) -> &mut Self {
        match b {
            Some(b) => self.bytes(b),
            None => {
                self.out.push(0xf6);
                self
            }
        }
    }

    /// `{key?, value, schema}`: canonical key order is `key`, `value`, `schema`.
    fn event(&mut self, ev: &EventEntry) {
        self.map(2 + usize::from(ev.key.is_some()));
        if let Some(key) = &ev.key {
            self.text("key").bytes(key);
        }
        self.text("value").bytes(&ev.value);
        self.text("schema").text(&ev.schema);
    }
}

// ---- lenient reader --------------------------------------------------------------------------

fn bad(what: &str, expected: &str, e: minicbor::decode::Error) -> ReduceError {
    ReduceError::new(format!(
        "malformed `{what}`: {}",
        describe_cbor_error(&e, expected)
    ))
}

/// A decoder past the optional self-describe tag.
fn start(bytes: &[u8]) -> Decoder<'_> {
    let mut d = Decoder::new(bytes);
    if let Ok(Type::Tag) = d.datatype()
        && d.probe()
            .tag()
            .is_ok_and(|t| t == Tag::new(SELF_DESCRIBE_TAG))
    {
        let _ = d.tag();
    }
    d
}

fn finish(d: &Decoder<'_>, len: usize, what: &str) -> Result<(), ReduceError> {
    if d.position() == len {
        Ok(())
    } else {
        Err(ReduceError::new(format!(
            "{what}: {} trailing bytes",
            len - d.position()
        )))
    }
}

/// Sets a field read once; a repeated key is an error.
fn once<T>(slot: &mut Option<T>, key: &str, value: T) -> Result<(), ReduceError> {
    if slot.replace(value).is_some() {
        return Err(ReduceError::new(format!("duplicate key `{key}`")));
    }
    Ok(())
}

/// Whether an indefinite container ends here (consuming the break byte if so).
fn at_break(d: &mut Decoder<'_>, what: &str) -> Result<bool, ReduceError> {
    if d.datatype().map_err(|e| bad(what, "a CBOR item", e))? == Type::Break {
        d.set_position(d.position() + 1);
        return Ok(true);
    }
    Ok(false)
}

/// Calls `f` on every entry of a text-keyed map (definite or indefinite).
fn entries<'b>(
    d: &mut Decoder<'b>,
    what: &str,
    mut f: impl FnMut(&mut Decoder<'b>, &str) -> Result<(), ReduceError>,
) -> Result<(), ReduceError> {
    let len = d.map().map_err(|e| bad(what, "a map", e))?;
    let mut i = 0u64;
    loop {
        match len {
            Some(n) if i == n => return Ok(()),
            None if at_break(d, what)? => return Ok(()),
            _ => {}
        }
        let key = text(d, what)?;
        f(d, &key)?;
        i += 1;
    }
}

/// Reads every element of an array (definite or indefinite) with `f`.
fn items<'b, T>(
    d: &mut Decoder<'b>,
    what: &str,
    mut f: impl FnMut(&mut Decoder<'b>) -> Result<T, ReduceError>,
) -> Result<Vec<T>, ReduceError> {
    let len = d.array().map_err(|e| bad(what, "an array", e))?;
    let mut out = Vec::new();
    loop {
        match len {
            Some(n) if out.len() as u64 == n => return Ok(out),
            None if at_break(d, what)? => return Ok(out),
            _ => out.push(f(d)?),
        }
    }
}

fn text(d: &mut Decoder<'_>, what: &str) -> Result<String, ReduceError> {
    if d.datatype().map_err(|e| bad(what, "a CBOR item", e))? == Type::StringIndef {
        let mut s = String::new();
        for chunk in d.str_iter().map_err(|e| bad(what, "text", e))? {
            s.push_str(chunk.map_err(|e| bad(what, "text", e))?);
        }
        return Ok(s);
    }
    Ok(d.str().map_err(|e| bad(what, "text", e))?.to_owned())
}

fn bytes(d: &mut Decoder<'_>, what: &str) -> Result<Vec<u8>, ReduceError> {
    if d.datatype().map_err(|e| bad(what, "a CBOR item", e))? == Type::BytesIndef {
        let mut b = Vec::new();
        for chunk in d.bytes_iter().map_err(|e| bad(what, "a byte string", e))? {
            b.extend_from_slice(chunk.map_err(|e| bad(what, "a byte string", e))?);
        }
        return Ok(b);
    }
    Ok(d.bytes()
        .map_err(|e| bad(what, "a byte string", e))?
        .to_vec())
}

fn opt_bytes(d: &mut Decoder<'_>, what: &str) -> Result<Option<Vec<u8>>, ReduceError> {
    if d.datatype().map_err(|e| bad(what, "a CBOR item", e))? == Type::Null {
        d.set_position(d.position() + 1);
        return Ok(None);
    }
    bytes(d, what).map(Some)
}

fn read_event(d: &mut Decoder<'_>, what: &str) -> Result<EventEntry, ReduceError> {
    let (mut schema, mut value, mut key) = (None, None, None);
    entries(d, what, |d, k| match k {
        "schema" => once(&mut schema, "schema", text(d, "schema")?),
        "value" => once(&mut value, "value", bytes(d, "value")?),
        "key" => once(&mut key, "key", opt_bytes(d, "key")?),
        _ => d.skip().map_err(|e| bad(k, "a CBOR item", e)),
    })?;
    Ok(EventEntry {
        schema: schema.ok_or_else(|| ReduceError::new(format!("`{what}`: missing `schema`")))?,
        value: value.ok_or_else(|| ReduceError::new(format!("`{what}`: missing `value`")))?,
        key: key.flatten(),
    })
}

fn read_effect(d: &mut Decoder<'_>) -> Result<EffectEntry, ReduceError> {
    let what = "effects[]";
    let (mut kind, mut params, mut slot, mut idem) = (None, None, None, None);
    entries(d, what, |d, k| match k {
        "kind" => once(&mut kind, "kind", text(d, "kind")?),
        "params_cbor" => once(&mut params, "params_cbor", bytes(d, "params_cbor")?),
        "cap_slot" => {
            let v = if d.datatype().map_err(|e| bad(k, "a CBOR item", e))? == Type::Null {
                d.set_position(d.position() + 1);
                None
            } else {
                Some(text(d, "cap_slot")?)
            };
            once(&mut slot, "cap_slot", v)
        }
        "idempotency_key" => once(&mut idem, "idempotency_key", opt_bytes(d, k)?),
        _ => d.skip().map_err(|e| bad(k, "a CBOR item", e)),
    })?;
    Ok(EffectEntry {
        kind: kind.ok_or_else(|| ReduceError::new("`effects[]`: missing `kind`"))?,
        params_cbor: params
            .ok_or_else(|| ReduceError::new("`effects[]`: missing `params_cbor`"))?,
        cap_slot: slot.flatten(),
        idempotency_key: idem.flatten(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::test_hex::hex;

    /// The canonical input of spec/abi.md: {ctx, event: {key, value, schema}, state, version}.
    const FULL_INPUT: &str = "a4 \
        63 637478 41 aa \
        65 6576656e74 a3 63 6b6579 42 6161 65 76616c7565 41 bb 66 736368656d61 66 642f45406131 \
        65 7374617465 41 cc \
        67 76657273696f6e 01";

    fn full_input() -> StepInput {
        StepInput {
            ctx: Some(vec![0xaa]),
            event: EventEntry {
                schema: "d/E@a1".into(),
                value: vec![0xbb],
                key: Some(b"aa".to_vec()),
            },
            state: Some(vec![0xcc]),
        }
    }

    #[test]
    fn input_encodes_canonically_and_round_trips() {
        assert_eq!(full_input().encode(), hex(FULL_INPUT));
        assert_eq!(StepInput::decode(&hex(FULL_INPUT)).unwrap(), full_input());
        let first = StepInput {
            ctx: None,
            event: EventEntry {
                schema: "d/E@1".into(),
                value: vec![0xf6],
                key: None,
            },
            state: None,
        };
        let bytes = first.encode();
        assert_eq!(
            bytes,
            hex(
                "a3 65 6576656e74 a2 65 76616c7565 41 f6 66 736368656d61 65 642f454031 \
                 65 7374617465 f6 67 76657273696f6e 01"
            )
        );
        assert_eq!(StepInput::decode(&bytes).unwrap(), first);
    }

    #[test]
    fn input_decoding_is_lenient_about_form() {
        // A self-describe tag, an indefinite map, keys out of order, an unknown key, no `state`, a chunked
        // schema text, a long head for the version.
        let bytes = hex("d9d9f7 bf 67 76657273696f6e 1801 \
            65 6578747261 82 01 02 \
            65 6576656e74 a2 66 736368656d61 7f 63 642f45 63 406131 ff 65 76616c7565 41 bb \
            ff");
        let input = StepInput::decode(&bytes).unwrap();
        assert_eq!(input.event.schema, "d/E@a1");
        assert_eq!(input.event.value, vec![0xbb]);
        assert_eq!(
            (input.ctx, input.state, input.event.key),
            (None, None, None)
        );
    }

    #[test]
    fn input_decoding_errors_name_the_problem() {
        let cases = [
            ("a0", "input envelope: missing `version`"),
            ("a1 67 76657273696f6e 02", "unsupported envelope version 2"),
            ("a1 67 76657273696f6e 01", "input envelope: missing `event`"),
            (
                "a2 65 6576656e74 a1 65 76616c7565 40 67 76657273696f6e 01",
                "`event`: missing `schema`",
            ),
            (
                "a2 67 76657273696f6e 01 67 76657273696f6e 01",
                "duplicate key `version`",
            ),
            (
                "a1 67 76657273696f6e 01 00",
                "input envelope: 1 trailing bytes",
            ),
            ("80", "malformed `input envelope`: expected a map at byte 0"),
            (
                "a1 65 7374617465 01",
                "malformed `state`: expected a byte string at byte 7",
            ),
            (
                "a1 65 7374617465",
                "malformed `state`: unexpected end of input, expected a CBOR item",
            ),
        ];
        for (input, message) in cases {
            let err = StepInput::decode(&hex(input)).unwrap_err();
            assert_eq!(err.message(), message, "{input}");
        }
    }

    #[test]
    fn output_encodes_canonically_and_round_trips() {
        let out = StepOutput {
            state: Some(vec![0x01]),
            domain_events: vec![
                EventEntry {
                    schema: "d/A@1".into(),
                    value: vec![0x02],
                    key: None,
                },
                EventEntry {
                    schema: "d/B@1".into(),
                    value: vec![0x03],
                    key: Some(vec![0x60]),
                },
            ],
            effects: vec![EffectEntry {
                kind: "timer.set".into(),
                params_cbor: vec![0x04],
                cap_slot: Some("t".into()),
                idempotency_key: Some(vec![0; 2]),
            }],
            ann: Some(vec![0x05]),
        };
        let expected = hex("a4 \
            63 616e6e 41 05 \
            65 7374617465 41 01 \
            67 65666665637473 81 a4 64 6b696e64 69 74696d65722e736574 \
                68 6361705f736c6f74 61 74 6b 706172616d735f63626f72 41 04 \
                6f 6964656d706f74656e63795f6b6579 42 0000 \
            6d 646f6d61696e5f6576656e7473 82 \
                a2 65 76616c7565 41 02 66 736368656d61 65 642f414031 \
                a3 63 6b6579 41 60 65 76616c7565 41 03 66 736368656d61 65 642f424031");
        assert_eq!(out.encode(), expected);
        assert_eq!(StepOutput::decode(&expected).unwrap(), out);
    }

    #[test]
    fn a_deleted_cell_is_a_null_state() {
        let out = StepOutput {
            state: None,
            ..StepOutput::default()
        };
        assert_eq!(out.encode(), hex("a1 65 7374617465 f6"));
        // The self-describe tag is optional on input.
        let tagged = hex("d9d9f7 a1 65 7374617465 f6");
        assert_eq!(StepOutput::decode(&tagged).unwrap(), out);
        let err = StepOutput::decode(&hex("a0")).unwrap_err();
        assert_eq!(err.message(), "output envelope: missing `state`");
    }
}
