//! Reading a directory of `*.air.json` files the way the CLI does, for tests that call the
//! library directly.

use std::path::Path;

use worldline_air::load::SourceFile;

/// The `*.air.json` files of `dir`, sorted by name, with names relative to `dir`.
pub fn air_sources(dir: &Path) -> Vec<SourceFile> {
    let mut files: Vec<SourceFile> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.to_string_lossy().ends_with(".air.json"))
        .map(|path| SourceFile {
            name: path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            text: std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("reading {}: {e}", path.display())),
        })
        .collect();
    files.sort_by(|a, b| a.name.cmp(&b.name));
    files
}
