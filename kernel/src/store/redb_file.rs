//! The store file's header, checked before redb opens it: redb 3.1 would panic on a short file,
//! or re-initialise an empty one, so a damaged file is refused with a message instead.

use std::path::Path;

use super::redb_store::on_file;
use crate::error::{KernelError, Result};

/// redb 3's file header (pinned at `=3.1.3`, see `tree_store/page_store/header.rs` there): a
/// magic number, then little-endian u32s at fixed offsets giving the file's region layout.
const REDB_MAGIC: [u8; 9] = [b'r', b'e', b'd', b'b', 0x1A, 0x0A, 0xA9, 0x0D, 0x0A];
const REDB_HEADER_BYTES: usize = 320;
const REDB_PAGE_SIZE_AT: usize = 12;

/// Refuses a store file that cannot be a whole redb database: shorter than its header, a wrong
/// magic number, or shorter than the layout its header describes (a truncated file).
pub(super) fn check_file(path: &Path) -> Result<()> {
    use std::io::Read;
    let damaged = |reason: String| on_file(path, format!("damaged store: {reason}"));
    let mut file = std::fs::File::open(path).map_err(|e| KernelError::io(path, e))?;
    let len = file.metadata().map_err(|e| KernelError::io(path, e))?.len();
    let mut header = Vec::with_capacity(REDB_HEADER_BYTES);
    file.by_ref()
        .take(REDB_HEADER_BYTES as u64)
        .read_to_end(&mut header)
        .map_err(|e| KernelError::io(path, e))?;
    if header.len() < REDB_HEADER_BYTES {
        return Err(damaged(format!(
            "{len} bytes, shorter than the {REDB_HEADER_BYTES}-byte header (truncated)"
        )));
    }
    if header[..REDB_MAGIC.len()] != REDB_MAGIC {
        return Err(damaged("not a redb database (wrong magic number)".into()));
    }
    let u32_at = |at: usize| {
        let mut bytes = [0u8; 4];
        bytes.copy_from_slice(&header[at..at + 4]);
        u64::from(u32::from_le_bytes(bytes))
    };
    let page = u32_at(REDB_PAGE_SIZE_AT);
    let (region_header_pages, region_data_pages) = (u32_at(16), u32_at(20));
    let (full_regions, trailing_pages) = (u32_at(24), u32_at(28));
    let region = |pages: u64| region_header_pages.checked_add(pages)?.checked_mul(page);
    let expected = (|| {
        let trailing = if trailing_pages > 0 {
            region(trailing_pages)?
        } else {
            0
        };
        page.checked_add(full_regions.checked_mul(region(region_data_pages)?)?)?
            .checked_add(trailing)
    })();
    match expected {
        Some(expected) if page > 0 && (full_regions > 0 || trailing_pages > 0) => {
            if len < expected {
                return Err(damaged(format!(
                    "{len} bytes of the {expected} its header describes (truncated)"
                )));
            }
            Ok(())
        }
        _ => Err(damaged("its header describes no valid layout".into())),
    }
}
