//! One writer at a time: a build holds an exclusive lock on its output directory, and `check` a
//! shared one, so that two builds into one directory wait for each other instead of racing to
//! swap it, and a check never reads a tree half swapped. The lock is `flock` on a file beside the
//! directory, `.NAME.warden-lock` (beside, not in it: the directory itself is swapped), which holds
//! the pid of the build holding it, for the message of one that gives up waiting.
//!
//! ```text
//! warden build policy/ --out out &  warden build policy/ --out out   # the second waits
//! ```

use super::error;
use crate::diag::Diagnostic;
use rustix::fs::{FlockOperation, flock};
use std::fs;
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How long a run waits for another to finish with the directory before it gives up, unless
/// `WARDEN_LOCK_WAIT` (seconds) says otherwise.
const WAIT: Duration = Duration::from_secs(120);

/// The wait: `WARDEN_LOCK_WAIT` seconds, or two minutes.
pub fn wait() -> Duration {
    std::env::var("WARDEN_LOCK_WAIT")
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .map_or(WAIT, Duration::from_secs)
}

/// A held lock, released when dropped (closing the file releases a `flock`).
pub struct Lock {
    _file: fs::File,
}

/// The lock file of the output directory `out`.
fn path_of(out: &Path) -> (PathBuf, PathBuf) {
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let base = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".to_string());
    let file = parent.join(format!(".{base}.warden-lock"));
    (parent, file)
}

/// Takes the lock of `out`, exclusive for a build, shared for a check, waiting up to `wait` for
/// whoever holds it. A check of a directory whose parent does not exist needs no lock: there is
/// nothing to read.
pub fn take(out: &Path, exclusive: bool, wait: Duration) -> Result<Option<Lock>, Vec<Diagnostic>> {
    let (parent, path) = path_of(out);
    if exclusive {
        fs::create_dir_all(&parent).map_err(|e| {
            vec![error(
                "E0804",
                format!("cannot create `{}`: {e}", parent.display()),
            )]
        })?;
    } else if !parent.is_dir() {
        return Ok(None);
    }
    let mut file = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| {
            vec![error(
                "E0804",
                format!("cannot open the lock `{}`: {e}", path.display()),
            )]
        })?;
    let operation = if exclusive {
        FlockOperation::NonBlockingLockExclusive
    } else {
        FlockOperation::NonBlockingLockShared
    };
    let started = Instant::now();
    loop {
        match flock(&file, operation) {
            Ok(()) => break,
            Err(e) if e == rustix::io::Errno::WOULDBLOCK && started.elapsed() < wait => {
                std::thread::sleep(Duration::from_millis(25));
            }
            Err(e) if e == rustix::io::Errno::WOULDBLOCK => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let who = match holder.trim() {
                    "" => "another warden".to_string(),
                    pid => format!("another warden (pid {pid})"),
                };
                return Err(vec![
                    error(
                        "E0804",
                        format!(
                            "{who} is writing `{}`: waited {} s for it",
                            out.display(),
                            wait.as_secs()
                        ),
                    )
                    .note(format!(
                        "one build writes an output directory at a time; the lock is `{}`",
                        path.display()
                    ))
                    .help("run again when it is done, or build into another directory"),
                ]);
            }
            Err(e) => {
                return Err(vec![error(
                    "E0804",
                    format!("cannot lock `{}`: {e}", path.display()),
                )]);
            }
        }
    }
    if exclusive {
        // Who holds it, for a run that gives up waiting; best effort.
        let _ = file.set_len(0);
        let _ = file.rewind();
        let _ = writeln!(file, "{}", std::process::id());
    }
    Ok(Some(Lock { _file: file }))
}
