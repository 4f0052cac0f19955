//! Reading AIR files from disk for the library, which does no I/O itself.

use std::path::{Path, PathBuf};

use worldline_air::load::SourceFile;

use crate::failure::Failure;

/// Largest AIR file read (8 MiB): AIR is configuration, not data.
pub const AIR_FILE_SIZE_BYTES_MAX: u64 = 8 << 20;

/// The directory holding a world's `*.air.json` files: `dir` itself, or `dir/air` when `dir`
/// has none at the top (so both a world directory and its `air/` folder work).
pub fn air_dir(dir: &Path) -> Result<PathBuf, Failure> {
    if !dir.is_dir() {
        return Err(Failure::message(format!(
            "{}: not a directory",
            dir.display()
        )));
    }
    if list_air_files(dir)?.is_empty() && dir.join("air").is_dir() {
        return Ok(dir.join("air"));
    }
    Ok(dir.to_path_buf())
}

fn list_air_files(dir: &Path) -> Result<Vec<PathBuf>, Failure> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| Failure::message(format!("{}: {e}", dir.display())))?;
    let mut files = Vec::new();
    for entry in entries {
        let path = entry
            .map_err(|e| Failure::message(format!("{}: {e}", dir.display())))?
            .path();
        if path.is_file()
            && path
                .file_name()
                .is_some_and(|n| n.to_string_lossy().ends_with(".air.json"))
        {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// Reads every `*.air.json` file of `dir` (sorted by name), each named by its path.
pub fn read_air_dir(dir: &Path) -> Result<Vec<SourceFile>, Failure> {
    let files = list_air_files(dir)?;
    if files.is_empty() {
        return Err(Failure::message(format!(
            "{}: no *.air.json files",
            dir.display()
        )));
    }
    files
        .iter()
        .map(|path| {
            read_text(path).map(|text| SourceFile {
                name: path.display().to_string(),
                text,
            })
        })
        .collect()
}

/// Reads a text file with the AIR size limit.
pub fn read_text(path: &Path) -> Result<String, Failure> {
    let size = std::fs::metadata(path)
        .map_err(|e| Failure::message(format!("{}: {e}", path.display())))?
        .len();
    if size > AIR_FILE_SIZE_BYTES_MAX {
        return Err(Failure::message(format!(
            "{}: {size} bytes is over the {AIR_FILE_SIZE_BYTES_MAX}-byte limit for AIR files",
            path.display()
        )));
    }
    std::fs::read_to_string(path).map_err(|e| Failure::message(format!("{}: {e}", path.display())))
}
