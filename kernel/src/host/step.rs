//! One step: a fresh instance, the ABI call sequence, and every way it can fail.

use wasmtime::{Caller, Engine, Linker, Memory, Store, StoreLimits, StoreLimitsBuilder, Trap};

use super::{CallForm, LoadedModule, OUTPUT_BYTES_MAX};
use crate::error::{KernelError, Result};

/// Largest `worldline.fail` message kept.
const FAIL_MESSAGE_BYTES_MAX: usize = 1024;
/// Most debug text a step may log.
const LOG_BYTES_MAX: usize = 64 << 10;

/// Why a step failed: a machine-readable code and a reason for people.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {reason}")]
pub struct StepError {
    /// `out_of_fuel`, `stack_overflow`, `memory_limit`, `trap`, `failed`, `bad_output`,
    /// `output_too_large`, `module_missing`.
    pub code: &'static str,
    /// Details.
    pub reason: String,
}

impl StepError {
    /// A step error.
    pub fn new(code: &'static str, reason: impl Into<String>) -> StepError {
        StepError {
            code,
            reason: reason.into(),
        }
    }
}

/// Per-step host state.
pub struct StepData {
    limits: StoreLimits,
    failure: Option<String>,
    logged_bytes: usize,
}

/// The error a host function returns to stop the guest after `worldline.fail`.
#[derive(Debug)]
struct FailCalled;

impl std::fmt::Display for FailCalled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the module called worldline.fail")
    }
}

impl std::error::Error for FailCalled {}

fn guest_text(caller: &mut Caller<'_, StepData>, ptr: i32, len: i32, max: usize) -> String {
    let Some(memory) = caller.get_export("memory").and_then(|e| e.into_memory()) else {
        return "(no memory)".to_owned();
    };
    let (Ok(start), Ok(len)) = (usize::try_from(ptr), usize::try_from(len)) else {
        return "(invalid pointer)".to_owned();
    };
    let data = memory.data(&*caller);
    match start
        .checked_add(len.min(max))
        .and_then(|end| data.get(start..end))
    {
        Some(bytes) => String::from_utf8_lossy(bytes).into_owned(),
        None => "(out of bounds)".to_owned(),
    }
}

/// The `worldline` host module.
pub(super) fn linker(engine: &Engine) -> Result<Linker<StepData>> {
    let mut linker = Linker::new(engine);
    let wrap = |e: wasmtime::Error| KernelError::Storage(format!("wasm linker: {e:#}"));
    linker
        .func_wrap(
            "worldline",
            "log",
            |mut caller: Caller<'_, StepData>, ptr: i32, len: i32| {
                // Debug text never affects state; it is bounded and otherwise dropped.
                let budget = LOG_BYTES_MAX.saturating_sub(caller.data().logged_bytes);
                let text = guest_text(&mut caller, ptr, len, budget.min(4096));
                caller.data_mut().logged_bytes += text.len();
            },
        )
        .map_err(wrap)?;
    linker
        .func_wrap(
            "worldline",
            "fail",
            |mut caller: Caller<'_, StepData>, ptr: i32, len: i32| -> wasmtime::Result<()> {
                let message = guest_text(&mut caller, ptr, len, FAIL_MESSAGE_BYTES_MAX);
                caller.data_mut().failure = Some(message);
                Err(wasmtime::Error::new(FailCalled))
            },
        )
        .map_err(wrap)?;
    Ok(linker)
}

/// Maps a wasmtime error to the reason the step failed.
fn classify(error: wasmtime::Error, data: &StepData) -> StepError {
    if let Some(message) = &data.failure {
        return StepError::new("failed", message.clone());
    }
    match error.downcast_ref::<Trap>() {
        Some(Trap::OutOfFuel) => StepError::new("out_of_fuel", "ran out of fuel"),
        Some(Trap::StackOverflow) => StepError::new("stack_overflow", "the wasm stack overflowed"),
        Some(trap) => StepError::new("trap", trap.to_string()),
        None => {
            let text = format!("{error:#}");
            if text.contains("memory") && (text.contains("limit") || text.contains("grow")) {
                StepError::new("memory_limit", "linear memory would grow past the limit")
            } else {
                StepError::new("trap", text)
            }
        }
    }
}

fn read(
    memory: &Memory,
    store: &Store<StepData>,
    ptr: i32,
    len: i32,
) -> std::result::Result<Vec<u8>, StepError> {
    let (Ok(start), Ok(len)) = (usize::try_from(ptr), usize::try_from(len)) else {
        return Err(StepError::new(
            "bad_output",
            format!("output pointer {ptr} / length {len} are negative"),
        ));
    };
    if len > OUTPUT_BYTES_MAX {
        return Err(StepError::new(
            "output_too_large",
            format!("{len} bytes of output; the limit is {OUTPUT_BYTES_MAX}"),
        ));
    }
    start
        .checked_add(len)
        .and_then(|end| memory.data(store).get(start..end))
        .map(<[u8]>::to_vec)
        .ok_or_else(|| {
            StepError::new(
                "bad_output",
                format!("output {start}+{len} lies outside linear memory"),
            )
        })
}

/// Instantiates the module afresh and runs its entry on `input`.
pub(super) fn run(
    engine: &Engine,
    module: &LoadedModule,
    input: &[u8],
    fuel: u64,
    memory_bytes_max: u64,
) -> std::result::Result<Vec<u8>, StepError> {
    let limits = StoreLimitsBuilder::new()
        .memory_size(usize::try_from(memory_bytes_max).unwrap_or(usize::MAX))
        .instances(1)
        .trap_on_grow_failure(true)
        .build();
    let mut store = Store::new(
        engine,
        StepData {
            limits,
            failure: None,
            logged_bytes: 0,
        },
    );
    store.limiter(|data| &mut data.limits);
    store
        .set_fuel(fuel)
        .map_err(|e| StepError::new("trap", format!("{e:#}")))?;
    let instance = match module.pre.instantiate(&mut store) {
        Ok(instance) => instance,
        Err(e) => return Err(classify(e, store.data())),
    };
    let missing =
        |what: &str| StepError::new("bad_output", format!("the instance has no `{what}`"));
    let memory = instance
        .get_memory(&mut store, "memory")
        .ok_or_else(|| missing("memory"))?;
    let alloc = instance
        .get_typed_func::<i32, i32>(&mut store, "alloc")
        .map_err(|_| missing("alloc"))?;
    let input_len =
        i32::try_from(input.len()).map_err(|_| StepError::new("bad_output", "input too large"))?;

    let ptr = match alloc.call(&mut store, input_len) {
        Ok(ptr) => ptr,
        Err(e) => return Err(classify(e, store.data())),
    };
    let start = usize::try_from(ptr)
        .map_err(|_| StepError::new("bad_output", "alloc returned a negative pointer"))?;
    memory.write(&mut store, start, input).map_err(|_| {
        StepError::new(
            "bad_output",
            "alloc returned memory the input does not fit in",
        )
    })?;

    let (out_ptr, out_len) = match module.form {
        CallForm::MultiValue => {
            let entry = instance
                .get_typed_func::<(i32, i32), (i32, i32)>(&mut store, module.entry)
                .map_err(|_| missing(module.entry))?;
            match entry.call(&mut store, (ptr, input_len)) {
                Ok(pair) => pair,
                Err(e) => return Err(classify(e, store.data())),
            }
        }
        CallForm::ReturnSlot => {
            let slot = match alloc.call(&mut store, 8) {
                Ok(slot) => slot,
                Err(e) => return Err(classify(e, store.data())),
            };
            let entry = instance
                .get_typed_func::<(i32, i32, i32), ()>(&mut store, module.entry)
                .map_err(|_| missing(module.entry))?;
            if let Err(e) = entry.call(&mut store, (slot, ptr, input_len)) {
                return Err(classify(e, store.data()));
            }
            let words = read(&memory, &store, slot, 8)?;
            let word =
                |i: usize| i32::from_le_bytes([words[i], words[i + 1], words[i + 2], words[i + 3]]);
            (word(0), word(4))
        }
    };
    if let Some(message) = &store.data().failure {
        return Err(StepError::new("failed", message.clone()));
    }
    read(&memory, &store, out_ptr, out_len)
}
