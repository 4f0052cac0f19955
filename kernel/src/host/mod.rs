//! The reducer host: wasmtime configured for determinism, modules checked at load, and a fresh
//! instance for every step (ABI.md).
//!
//! Instances come from the pooling allocator through an `InstancePre`, so a fresh instance per
//! step is cheap, and no state can hide in guest memory between steps. Every failure of a step
//! (trap, fuel, memory, a malformed or oversized output, `worldline.fail`) is a [`StepError`]
//! with a code; the world journals it and goes on.

pub mod envelope;
mod step;

use std::collections::BTreeMap;

use wasmtime::{
    Config, Engine, ExternType, InstanceAllocationStrategy, InstancePre, Linker, Module,
    PoolingAllocationConfig, ValType,
};
use worldline_air::{Hash, Name};

use step::StepData;
pub use step::StepError;

use crate::config::WorldConfig;
use crate::error::{KernelError, Result};

/// Largest output a step may return.
pub const OUTPUT_BYTES_MAX: usize = 1 << 20;
/// Wasm stack available to a step.
pub const WASM_STACK_BYTES_MAX: usize = 512 << 10;
/// Largest module binary accepted.
pub const MODULE_BYTES_MAX: usize = 32 << 20;
/// Linear memory kept resident between instances (reset by memset rather than madvise).
const MEMORY_KEEP_RESIDENT_BYTES: usize = 4 << 20;
/// Table memory kept resident between instances.
const TABLE_KEEP_RESIDENT_BYTES: usize = 64 << 10;
/// Instances that may exist at once (one step runs at a time; a few spare).
const POOL_INSTANCES_MAX: u32 = 8;

/// Domain tag of the key under which a compiled artifact is cached.
const ARTIFACT_TAG: &[u8] = b"worldline/module-artifact/v1";

/// How a module's `step` (or `run`) returns its output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallForm {
    /// `(ptr, len) -> (ptr, len)`.
    MultiValue,
    /// `(ret, ptr, len) -> ()`, output pointer and length written at `ret`.
    ReturnSlot,
}

/// A module ready to step.
pub struct LoadedModule {
    pre: InstancePre<StepData>,
    form: CallForm,
    entry: &'static str,
}

/// The engine, its linker and the loaded modules, keyed by wasm hash.
pub struct ReducerHost {
    engine: Engine,
    linker: Linker<StepData>,
    modules: BTreeMap<Hash, LoadedModule>,
    fuel_per_step: u64,
    memory_bytes_max: u64,
}

impl ReducerHost {
    /// An engine set up for deterministic execution under the world's limits.
    pub fn new(config: &WorldConfig) -> Result<ReducerHost> {
        let memory_bytes_max = usize::try_from(config.memory_bytes_max).map_err(|_| {
            KernelError::Rejected("memory_bytes_max does not fit this platform".into())
        })?;
        let mut pool = PoolingAllocationConfig::default();
        // A fresh instance per step must cost microseconds: keep the pages a step touched
        // resident and reset them with memset, instead of madvise + page faults every time.
        pool.total_core_instances(POOL_INSTANCES_MAX)
            .total_memories(POOL_INSTANCES_MAX)
            .total_tables(POOL_INSTANCES_MAX)
            .max_memory_size(memory_bytes_max)
            .linear_memory_keep_resident(MEMORY_KEEP_RESIDENT_BYTES)
            .table_keep_resident(TABLE_KEEP_RESIDENT_BYTES);
        // Threads are not compiled into this wasmtime (no `threads` feature), so a module that
        // declares shared memory or atomics fails validation at load.
        let mut wasm = Config::new();
        wasm.consume_fuel(true)
            .cranelift_nan_canonicalization(true)
            .relaxed_simd_deterministic(true)
            .max_wasm_stack(WASM_STACK_BYTES_MAX)
            .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        let engine =
            Engine::new(&wasm).map_err(|e| KernelError::Storage(format!("wasm engine: {e:#}")))?;
        let linker = step::linker(&engine)?;
        Ok(ReducerHost {
            engine,
            linker,
            modules: BTreeMap::new(),
            fuel_per_step: config.fuel_per_step,
            memory_bytes_max: config.memory_bytes_max,
        })
    }

    /// The CAS key of a module's compiled artifact for this engine (wasmtime version and
    /// settings included, so an artifact is never reused across incompatible engines).
    pub fn artifact_key(&self, wasm_hash: &Hash) -> Hash {
        use std::hash::{Hash as _, Hasher};
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        self.engine
            .precompile_compatibility_hash()
            .hash(&mut hasher);
        let fingerprint = hasher.finish().to_le_bytes();
        Hash::of_parts(&[ARTIFACT_TAG, wasm_hash.as_bytes(), &fingerprint])
    }

    /// True if the module is loaded.
    pub fn is_loaded(&self, wasm_hash: &Hash) -> bool {
        self.modules.contains_key(wasm_hash)
    }

    /// Compiles a module from its binary, checks its imports and exports, and loads it.
    /// Returns the compiled artifact for the caller to cache.
    pub fn compile(
        &mut self,
        name: &Name,
        wasm_hash: Hash,
        wasm: &[u8],
        entry: &'static str,
    ) -> Result<Vec<u8>> {
        let module_error = |reason: String| KernelError::Module {
            module: name.clone(),
            reason,
        };
        if wasm.len() > MODULE_BYTES_MAX {
            return Err(module_error(format!(
                "{} bytes is over the {MODULE_BYTES_MAX}-byte limit",
                wasm.len()
            )));
        }
        let module = Module::from_binary(&self.engine, wasm)
            .map_err(|e| module_error(format!("not a valid wasm module: {e:#}")))?;
        let artifact = module
            .serialize()
            .map_err(|e| module_error(format!("cannot serialize the compiled module: {e:#}")))?;
        self.install(name, wasm_hash, module, entry)?;
        Ok(artifact)
    }

    /// Loads a module from an artifact this engine compiled earlier (read back from the CAS,
    /// its content hash already verified by the caller). Returns false if the artifact does not
    /// fit this engine, in which case the caller compiles from the binary instead.
    #[allow(unsafe_code)]
    pub fn load_artifact(
        &mut self,
        name: &Name,
        wasm_hash: Hash,
        artifact: &[u8],
        entry: &'static str,
    ) -> Result<bool> {
        // SAFETY: wasmtime requires that deserialized bytes were produced by `Module::serialize`
        // of a compatible engine. Artifacts are only ever written by `compile` above, stored in
        // this world's CAS under a key that includes the engine's compatibility hash, and their
        // content hash is checked by the caller before they reach here, so the bytes are exactly
        // what this engine produced; wasmtime also refuses an incompatible header itself.
        let module = match unsafe { Module::deserialize(&self.engine, artifact) } {
            Ok(module) => module,
            Err(_) => return Ok(false),
        };
        self.install(name, wasm_hash, module, entry)?;
        Ok(true)
    }

    fn install(
        &mut self,
        name: &Name,
        wasm_hash: Hash,
        module: Module,
        entry: &'static str,
    ) -> Result<()> {
        let module_error = |reason: String| KernelError::Module {
            module: name.clone(),
            reason,
        };
        check_imports(&module).map_err(module_error)?;
        let form = check_exports(&module, entry).map_err(module_error)?;
        let pre = self
            .linker
            .instantiate_pre(&module)
            .map_err(|e| module_error(format!("{e:#}")))?;
        self.modules
            .insert(wasm_hash, LoadedModule { pre, form, entry });
        Ok(())
    }

    /// Runs one step of a loaded module on `input`; the output envelope's bytes, or why not.
    pub fn step(&self, wasm_hash: &Hash, input: &[u8]) -> std::result::Result<Vec<u8>, StepError> {
        let module = self.modules.get(wasm_hash).ok_or_else(|| {
            StepError::new(
                "module_missing",
                format!("module {wasm_hash} is not loaded"),
            )
        })?;
        step::run(
            &self.engine,
            module,
            input,
            self.fuel_per_step,
            self.memory_bytes_max,
        )
    }
}

/// Only `worldline.log` and `worldline.fail`, each `(i32, i32) -> ()`, may be imported.
fn check_imports(module: &Module) -> std::result::Result<(), String> {
    for import in module.imports() {
        let allowed = import.module() == "worldline" && matches!(import.name(), "log" | "fail");
        let typed_ok = match import.ty() {
            ExternType::Func(f) => {
                f.params()
                    .map(|p| matches!(p, ValType::I32))
                    .eq([true, true])
                    && f.results().len() == 0
            }
            _ => false,
        };
        if !allowed {
            return Err(format!(
                "imports `{}.{}`, which Worldline does not provide (only worldline.log and worldline.fail)",
                import.module(),
                import.name()
            ));
        }
        if !typed_ok {
            return Err(format!(
                "imports `{}.{}` with the wrong type; it is (i32, i32) -> ()",
                import.module(),
                import.name()
            ));
        }
    }
    Ok(())
}

/// `memory`, `alloc: (i32) -> i32`, and the entry in one of the two forms.
fn check_exports(module: &Module, entry: &str) -> std::result::Result<CallForm, String> {
    let i32s = |types: &mut dyn Iterator<Item = ValType>, n: usize| {
        let list: Vec<ValType> = types.collect();
        list.len() == n && list.iter().all(|t| matches!(t, ValType::I32))
    };
    match module.get_export("memory") {
        Some(ExternType::Memory(_)) => {}
        _ => return Err("does not export `memory`".into()),
    }
    match module.get_export("alloc") {
        Some(ExternType::Func(f)) if i32s(&mut f.params(), 1) && i32s(&mut f.results(), 1) => {}
        Some(_) => return Err("exports `alloc` with the wrong type; it is (i32) -> i32".into()),
        None => return Err("does not export `alloc`".into()),
    }
    match module.get_export(entry) {
        Some(ExternType::Func(f)) if i32s(&mut f.params(), 2) && i32s(&mut f.results(), 2) => {
            Ok(CallForm::MultiValue)
        }
        Some(ExternType::Func(f)) if i32s(&mut f.params(), 3) && i32s(&mut f.results(), 0) => {
            Ok(CallForm::ReturnSlot)
        }
        Some(_) => Err(format!(
            "exports `{entry}` with the wrong type; it is (i32, i32) -> (i32, i32) or (i32, i32, i32) -> ()"
        )),
        None => Err(format!("does not export `{entry}`")),
    }
}
