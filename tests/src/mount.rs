//! Mounts for tests that need a file system to fail (a full tmpfs, a read-only bind mount):
//! made by `mount`, which needs root; a test whose mount is refused skips with a printed reason
//! ([`unprivileged`]). Every mount is undone by a guard on drop. Included by path from the
//! disk-fault tests of the CLI and the pipelined-submit tests of the kernel.

#![allow(dead_code)] // included by path; each includer uses what it needs

use std::path::{Path, PathBuf};
use std::process::Command;

/// Skips `test` when the machine refuses the mount it needs. Unlike missing data, which fails
/// under CI, a container without the privilege to mount cannot run these cases at all: the
/// reason is printed so a CI log shows the case did not run.
pub fn unprivileged(test: &str, reason: &str) {
    eprintln!("skipping {test}: {reason} (these disk-fault cases need permission to mount)");
}

/// A mount made by a test, undone (lazily, so a busy mount cannot keep it) when dropped.
pub struct Mount {
    point: PathBuf,
}

impl Mount {
    fn run(args: &[&str], point: &Path) -> Result<Mount, String> {
        let output = Command::new("mount")
            .args(args)
            .arg(point)
            .output()
            .map_err(|e| format!("mount: {e}"))?;
        if !output.status.success() {
            return Err(format!(
                "mount {args:?} failed: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            ));
        }
        Ok(Mount {
            point: point.to_path_buf(),
        })
    }

    /// A tmpfs of `size` (as `mount -o size=` takes it) on `point`.
    pub fn tmpfs(point: &Path, size: &str) -> Result<Mount, String> {
        std::fs::create_dir_all(point).unwrap();
        Mount::run(
            &["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"],
            point,
        )
    }

    /// `point` bind-mounted onto itself, read-only.
    pub fn read_only(point: &Path) -> Result<Mount, String> {
        let bind = Mount::run(&["--bind", point.to_str().unwrap()], point)?;
        bind.remount("bind,ro")?;
        Ok(bind)
    }

    pub fn remount(&self, options: &str) -> Result<(), String> {
        let output = Command::new("mount")
            .args(["-o", &format!("remount,{options}")])
            .arg(&self.point)
            .output()
            .map_err(|e| format!("mount: {e}"))?;
        if output.status.success() {
            Ok(())
        } else {
            Err(format!(
                "remount {options} failed: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            ))
        }
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.point).status();
    }
}

/// Fills the file system holding `dir` (appending to its filler file) until a write fails for
/// lack of space.
pub fn fill(dir: &Path) -> PathBuf {
    use std::io::Write;
    let path = dir.join("filler");
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .unwrap();
    let chunk = vec![0xa5u8; 4096];
    loop {
        match file.write(&chunk) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) if e.raw_os_error() == Some(28) => break,
            Err(e) => panic!("filling {}: {e}", path.display()),
        }
    }
    path
}
