//! Disk faults through the real binary on real redb files: a read-only world directory, a full
//! disk (a small tmpfs), a truncated `world.redb`, a truncated bundle. Each is one clear line
//! naming the file and a non-zero exit; nothing acknowledged is lost; the world recovers once
//! the fault is gone (or, for a damaged store, the user is told which file). Errors are pinned
//! by insta with paths and OS error texts redacted.
//!
//! The mounts (read-only bind mounts, tmpfs) need root and a `mount` that works; where the
//! machine refuses to mount, the case is skipped with a printed reason (also under CI: a
//! container may lack the privilege). A mount that works but does not fault is a failure
//! under `CI=true` (`tests/src/skip.rs`).
//! Every mount is undone by a guard on drop, so a failing test leaves none behind.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
#[path = "../../tests/src/mount.rs"]
mod mount;
#[path = "../../tests/src/skip.rs"]
mod skip;

use common::{fails, ok, world};
use mount::{Mount, fill, unprivileged};

use std::path::{Path, PathBuf};

fn redacted(dir: &Path, f: impl FnOnce()) {
    common::redacted_with(
        dir,
        &[
            (r"pid \d+", "pid [PID]"),
            (r"\d+ bytes", "[N] bytes"),
            (r"the \d+ its header", "the [N] its header"),
            (r"bundle byte \d+", "bundle byte [N]"),
        ],
        f,
    );
}

/// A counter world in `dir` with `events` events sent (a Start, then Ticks).
fn counter(dir: &Path, events: usize) {
    let d = dir.to_str().unwrap();
    ok(&[
        "new",
        d,
        "--air",
        "worlds/counter",
        "--snapshot-every",
        "16",
    ]);
    for i in 0..events {
        ok(&["send", d, "demo/CounterEvent@1", event(i)]);
    }
}

fn event(i: usize) -> &'static str {
    if i.is_multiple_of(8) {
        r#"{"Start": {"target": 1000000}}"#
    } else {
        r#""Tick""#
    }
}

/// Every record of the world as `world log --json` prints it, one per line.
fn log(dir: &str) -> Vec<String> {
    let mut all = Vec::new();
    loop {
        let from = all.len().to_string();
        let page = ok(&["log", dir, "--json", "--from", &from, "--limit", "1000"]);
        let before = all.len();
        all.extend(page.lines().map(str::to_owned));
        if all.len() == before {
            return all;
        }
    }
}

/// How many external domain events the journal holds.
fn external_events(dir: &str) -> usize {
    log(dir)
        .iter()
        .filter(|line| {
            let record: serde_json::Value = serde_json::from_str(line).unwrap();
            record["kind"] == "domain_event" && record["body"]["origin"]["kind"] == "external"
        })
        .count()
}

fn set_writable(path: &Path, writable: bool) {
    for entry in std::fs::read_dir(path).unwrap() {
        let entry = entry.unwrap().path();
        let mut perms = std::fs::metadata(&entry).unwrap().permissions();
        #[allow(clippy::permissions_set_readonly_false)] // undoing our own chmod, in a temp dir
        perms.set_readonly(!writable);
        std::fs::set_permissions(&entry, perms).unwrap();
    }
    let mut perms = std::fs::metadata(path).unwrap().permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    perms.set_readonly(!writable);
    std::fs::set_permissions(path, perms).unwrap();
}

/// True if a file can be created in `dir` (permission bits do not stop root).
fn can_write_in(dir: &Path) -> bool {
    let probe = dir.join(".probe");
    let wrote = std::fs::write(&probe, b"x").is_ok();
    let _ = std::fs::remove_file(&probe);
    wrote
}

/// `.world` read-only, first by permission bits (`chmod a-w`), and where they do not stop
/// writes (root) by a read-only bind mount; `None` (after skip_or_fail) if neither works.
enum ReadOnly {
    Chmod(PathBuf),
    /// Held for its guard: dropping it unmounts.
    Mounted(#[allow(dead_code)] Mount),
}

impl ReadOnly {
    fn make(world_dir: &Path, test: &str) -> Option<ReadOnly> {
        set_writable(world_dir, false);
        if !can_write_in(world_dir) {
            return Some(ReadOnly::Chmod(world_dir.to_path_buf()));
        }
        set_writable(world_dir, true);
        match Mount::read_only(world_dir) {
            Ok(mount) if !can_write_in(world_dir) => Some(ReadOnly::Mounted(mount)),
            Ok(_) => {
                skip::skip_or_fail(test, "a read-only bind mount still takes writes");
                None
            }
            Err(reason) => {
                unprivileged(
                    test,
                    &format!("permission bits do not stop this user and {reason}"),
                );
                None
            }
        }
    }
}

impl Drop for ReadOnly {
    fn drop(&mut self) {
        if let ReadOnly::Chmod(dir) = self {
            set_writable(dir, true);
        }
    }
}

#[test]
fn a_read_only_world_refuses_writes_with_one_line_and_keeps_everything() {
    let test = "a_read_only_world_refuses_writes_with_one_line_and_keeps_everything";
    let scratch = tempfile::tempdir().unwrap();
    let dir = scratch.path().join("w");
    let d = dir.to_str().unwrap();
    counter(&dir, 5);
    let before = log(d);
    let state = ok(&["state", d, "demo/CounterSM@1"]);
    let Some(read_only) = ReadOnly::make(&dir.join(".world"), test) else {
        return;
    };
    let mut out = String::new();
    for args in [
        vec!["send", d, "demo/CounterEvent@1", r#""Tick""#],
        vec!["run", d],
        vec!["state", d, "demo/CounterSM@1"],
        vec!["log", d],
        vec!["verify", d],
        vec!["replay", d],
    ] {
        let line = fails(&args);
        assert!(line.contains(".world/"), "names no file: {line}");
        out.push_str(&format!("$ world {}\n{line}", args[0]));
    }
    drop(read_only);
    redacted(scratch.path(), || {
        let mut settings = insta::Settings::clone_current();
        // EACCES under chmod, EROFS under a read-only mount: the same line otherwise.
        settings.add_filter(
            r"(Permission denied|Read-only file system) \(os error \d+\)",
            "[READ-ONLY]",
        );
        settings.bind(|| insta::assert_snapshot!("read_only", out));
    });
    // Writable again: everything acknowledged is there, the journal is exactly as it was.
    assert_eq!(log(d), before);
    assert_eq!(ok(&["state", d, "demo/CounterSM@1"]), state);
    ok(&["replay", d]);
    ok(&["verify", d]);
    ok(&["send", d, "demo/CounterEvent@1", r#""Tick""#]);
    ok(&["replay", d]);
}

/// The size of everything under `dir`, in bytes.
fn tree_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| {
            let path = entry.unwrap().path();
            if path.is_dir() {
                tree_bytes(&path)
            } else {
                std::fs::metadata(&path).unwrap().len()
            }
        })
        .sum()
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let target = to.join(path.file_name().unwrap());
        if path.is_dir() {
            copy_tree(&path, &target);
        } else {
            std::fs::copy(&path, &target).unwrap();
        }
    }
}

/// Most sends tried before the disk must have filled. One-event commits leave their index keys
/// for a later commit, so the store grows little until the commit that writes them (after
/// about 500 sends here).
const SENDS_MAX: usize = 2000;

#[test]
fn a_full_disk_fails_one_send_cleanly_and_loses_nothing_acknowledged() {
    let test = "a_full_disk_fails_one_send_cleanly_and_loses_nothing_acknowledged";
    let scratch = tempfile::tempdir().unwrap();
    let made = scratch.path().join("made");
    counter(&made, 1);
    let point = scratch.path().join("disk");
    let size = (tree_bytes(&made.join(".world")) + (1 << 20)) / 1024;
    let disk = match Mount::tmpfs(&point, &format!("{size}k")) {
        Ok(disk) => disk,
        Err(reason) => return unprivileged(test, &reason),
    };
    let dir = point.join("w");
    copy_tree(&made, &dir);
    let d = dir.to_str().unwrap();
    // Before each send, take whatever space is free (redb gives space back when it shrinks its
    // file): the world has only the free pages inside its store, and the next growth hits the
    // wall.
    let mut acknowledged = 1;
    let filler = loop {
        assert!(acknowledged < SENDS_MAX, "the disk never filled");
        let filler = fill(&point);
        let (code, _, stderr) = world(&["send", d, "demo/CounterEvent@1", event(acknowledged)]);
        if code == 0 {
            acknowledged += 1;
            continue;
        }
        assert_eq!(code, 1, "{stderr}");
        break (filler, stderr);
    };
    let (filler, line) = filler;
    assert_eq!(line.lines().count(), 1, "{line}");
    assert!(!line.contains("panicked"), "{line}");
    assert!(line.contains(d), "names no file: {line}");
    assert!(
        line.contains("os error 28") || line.contains("No space"),
        "{line}"
    );
    redacted(scratch.path(), || {
        insta::assert_snapshot!("disk_full", line)
    });
    // Reading still works on the full disk, and every acknowledged event is there.
    assert_eq!(external_events(d), acknowledged);
    // More space: nothing lost, the lineage holds, sending works again.
    disk.remount(&format!("size={}k", size * 4)).unwrap();
    assert_eq!(external_events(d), acknowledged);
    ok(&["replay", d]);
    ok(&["verify", d]);
    ok(&["send", d, "demo/CounterEvent@1", r#""Tick""#]);
    assert_eq!(external_events(d), acknowledged + 1);
    std::fs::remove_file(&filler).unwrap();
    ok(&["send", d, "demo/CounterEvent@1", r#""Tick""#]);
    ok(&["replay", d]);
}

#[test]
fn export_to_a_full_disk_removes_the_partial_bundle() {
    let test = "export_to_a_full_disk_removes_the_partial_bundle";
    let scratch = tempfile::tempdir().unwrap();
    let dir = scratch.path().join("w");
    let d = dir.to_str().unwrap();
    counter(&dir, 3);
    // Checkpoint the head first (export would), so the world's journal is fixed from here on.
    ok(&[
        "export",
        d,
        scratch.path().join("first.bundle").to_str().unwrap(),
    ]);
    let before = log(d);
    let point = scratch.path().join("disk");
    let _disk = match Mount::tmpfs(&point, "64k") {
        Ok(disk) => disk,
        Err(reason) => return unprivileged(test, &reason),
    };
    let bundle = point.join("w.bundle");
    let line = fails(&["export", d, bundle.to_str().unwrap()]);
    assert!(line.contains("w.bundle"), "names no file: {line}");
    redacted(scratch.path(), || {
        insta::assert_snapshot!("export_full", line)
    });
    assert!(!bundle.exists(), "the partial bundle was left behind");
    assert_eq!(log(d), before, "the world changed");
    ok(&["verify", d]);
}

#[test]
fn import_onto_a_full_disk_leaves_nothing_behind() {
    let test = "import_onto_a_full_disk_leaves_nothing_behind";
    let scratch = tempfile::tempdir().unwrap();
    let dir = scratch.path().join("w");
    let d = dir.to_str().unwrap();
    counter(&dir, 3);
    let bundle = scratch.path().join("w.bundle");
    ok(&["export", d, bundle.to_str().unwrap()]);
    let point = scratch.path().join("disk");
    let _disk = match Mount::tmpfs(&point, "64k") {
        Ok(disk) => disk,
        Err(reason) => return unprivileged(test, &reason),
    };
    let target = point.join("b");
    let line = fails(&["import", bundle.to_str().unwrap(), target.to_str().unwrap()]);
    assert!(
        line.contains(point.to_str().unwrap()),
        "names no file: {line}"
    );
    redacted(scratch.path(), || {
        insta::assert_snapshot!("import_full", line)
    });
    assert!(!target.join(".world").exists() && !target.join(".world-import").exists());
}

#[test]
fn a_truncated_store_is_one_line_naming_the_file_and_is_not_made_worse() {
    let scratch = tempfile::tempdir().unwrap();
    let made = scratch.path().join("made");
    counter(&made, 6);
    let size = std::fs::metadata(made.join(".world/world.redb"))
        .unwrap()
        .len();
    let mut out = String::new();
    for (name, len) in [
        ("half", size / 2),
        ("last page gone", size - 4096),
        ("one byte", 1),
        ("empty", 0),
    ] {
        let dir = scratch.path().join(name.replace(' ', "-"));
        copy_tree(&made, &dir);
        let d = dir.to_str().unwrap();
        let store = dir.join(".world/world.redb");
        std::fs::OpenOptions::new()
            .write(true)
            .open(&store)
            .unwrap()
            .set_len(len)
            .unwrap();
        let damaged = std::fs::read(&store).unwrap();
        out.push_str(&format!("# {name}\n"));
        for args in [
            vec!["state", d, "demo/CounterSM@1"],
            vec!["send", d, "demo/CounterEvent@1", r#""Tick""#],
            vec!["verify", d],
            vec!["replay", d],
        ] {
            let line = fails(&args);
            assert!(line.contains("world.redb"), "names no file: {line}");
            out.push_str(&format!("$ world {}\n{line}", args[0]));
        }
        assert_eq!(
            std::fs::read(&store).unwrap(),
            damaged,
            "{name}: a refused command changed the damaged store"
        );
    }
    redacted(scratch.path(), || {
        insta::assert_snapshot!("truncated_store", out)
    });
}

/// The kernel tests cut a small bundle at every length (`tests/tests/lineage/bundles.rs`);
/// here the binary at a few: the header alone, half, one byte short.
#[test]
fn a_truncated_bundle_is_refused_by_verify_and_import() {
    let scratch = tempfile::tempdir().unwrap();
    let dir = scratch.path().join("w");
    let d = dir.to_str().unwrap();
    counter(&dir, 3);
    let bundle = scratch.path().join("w.bundle");
    ok(&["export", d, bundle.to_str().unwrap()]);
    let bytes = std::fs::read(&bundle).unwrap();
    let mut out = String::new();
    for (name, len) in [
        ("magic only", 8),
        ("half", bytes.len() / 2),
        ("one byte short", bytes.len() - 1),
    ] {
        let cut = scratch
            .path()
            .join(format!("{}.bundle", name.replace(' ', "-")));
        std::fs::write(&cut, &bytes[..len]).unwrap();
        let target = scratch.path().join(name.replace(' ', "-"));
        out.push_str(&format!("# {name}\n"));
        for args in [
            vec!["verify", cut.to_str().unwrap()],
            vec!["import", cut.to_str().unwrap(), target.to_str().unwrap()],
        ] {
            let line = fails(&args);
            assert!(line.contains(".bundle"), "names no file: {line}");
            out.push_str(&format!("$ world {}\n{line}", args[0]));
        }
        assert!(!target.join(".world").exists() && !target.join(".world-import").exists());
    }
    redacted(scratch.path(), || {
        insta::assert_snapshot!("truncated_bundle", out)
    });
}
