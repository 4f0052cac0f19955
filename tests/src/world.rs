//! Reading a world the way every end-to-end test does.

use std::path::PathBuf;

use worldline_kernel::World;
use worldline_kernel::record::Record;

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Every record of a (test-sized) world, from genesis, without hashes.
pub fn records(world: &World) -> Vec<Record> {
    let count = usize::try_from(world.head().seq + 1).unwrap();
    let mut out = Vec::with_capacity(count);
    while out.len() < count {
        let page = world.records(out.len() as u64, count - out.len()).unwrap();
        assert!(!page.is_empty(), "the journal ends before its head");
        out.extend(page.into_iter().map(|(r, _)| r));
    }
    out
}
