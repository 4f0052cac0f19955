//! One process holds a world: an exclusive lock on `.world/lock` that names its pid.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

use crate::error::{KernelError, Result};

/// Held for as long as the world is open; the OS releases it if the process dies.
#[derive(Debug)]
pub struct WorldLock {
    _file: File,
}

impl WorldLock {
    /// Takes the lock or reports who holds it.
    pub fn acquire(path: &Path) -> Result<WorldLock> {
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|e| KernelError::io(path, e))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut pid = String::new();
                let _ = file.read_to_string(&mut pid);
                let pid = pid.trim();
                return Err(KernelError::InUse {
                    pid: if pid.is_empty() {
                        "unknown".to_owned()
                    } else {
                        pid.to_owned()
                    },
                    lock: path.display().to_string(),
                });
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(KernelError::io(path, e)),
        }
        let pid = std::process::id().to_string();
        let written = file
            .set_len(0)
            .and_then(|()| file.seek(SeekFrom::Start(0)))
            .and_then(|_| file.write_all(pid.as_bytes()))
            .and_then(|()| file.flush());
        written.map_err(|e| KernelError::io(path, e))?;
        Ok(WorldLock { _file: file })
    }
}
