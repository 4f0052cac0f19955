//! Per-world settings fixed at genesis (they decide outcomes, so replay must use the same).

use crate::error::Result;
use crate::record::codec::{MapBuilder, MapReader};

/// Default fuel for one reducer step.
pub const FUEL_PER_STEP_DEFAULT: u64 = 20_000_000;
/// Default linear memory cap of a module instance.
pub const MEMORY_BYTES_MAX_DEFAULT: u64 = 64 << 20;
/// Default number of records between snapshots.
pub const SNAPSHOT_EVERY_DEFAULT: u64 = 2_000;
/// Most records one input may cause (events cascading through reducers): a guard against loops.
pub const CASCADE_RECORDS_MAX: usize = 10_000;

/// Settings that are part of a world's identity: written in genesis, read on every open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorldConfig {
    /// Fuel budget of one reducer step.
    pub fuel_per_step: u64,
    /// Linear memory cap of a module instance, in bytes.
    pub memory_bytes_max: u64,
    /// Records between snapshots.
    pub snapshot_every: u64,
}

impl Default for WorldConfig {
    fn default() -> WorldConfig {
        WorldConfig {
            fuel_per_step: FUEL_PER_STEP_DEFAULT,
            memory_bytes_max: MEMORY_BYTES_MAX_DEFAULT,
            snapshot_every: SNAPSHOT_EVERY_DEFAULT,
        }
    }
}

impl WorldConfig {
    pub(crate) fn write(&self, map: &mut MapBuilder) {
        map.uint("fuel_per_step", self.fuel_per_step);
        map.uint("memory_bytes_max", self.memory_bytes_max);
        map.uint("snapshot_every", self.snapshot_every);
    }

    pub(crate) fn read(map: &MapReader<'_>) -> Result<WorldConfig> {
        Ok(WorldConfig {
            fuel_per_step: map.uint("fuel_per_step")?,
            memory_bytes_max: map.uint("memory_bytes_max")?,
            snapshot_every: map.uint("snapshot_every")?,
        })
    }
}
