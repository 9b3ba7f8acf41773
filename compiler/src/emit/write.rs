//! `warden build`: the new tree written beside the output, made durable, and swapped in.

use super::existing::{foreign, foreign_error, scan};
use super::{Content, error};
use crate::diag::Diagnostic;
use std::collections::BTreeSet;
use std::fs;
use std::io::{self};
use std::path::{Path, PathBuf};

/// Runs before each file is written, on any thread (a test injects a failure half way with it).
pub type BeforeWrite<'a> = dyn Fn(&str) -> io::Result<()> + Sync + 'a;

/// Writes the tree. `before_write` runs before each file is written; a failure leaves the
/// previous output as it was.
pub fn build(
    out: &Path,
    files: &[(String, Content)],
    before_write: &BeforeWrite<'_>,
) -> Result<(), Vec<Diagnostic>> {
    let _lock = super::lock::take(out, true, super::lock::wait())?;
    let existing = scan(out)?;
    if let Some(existing) = &existing {
        let foreign = foreign(existing);
        if !foreign.is_empty() {
            return Err(foreign_error(out, &foreign));
        }
    }
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let base = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".to_string());
    let staging = parent.join(format!(".{base}.warden-staging-{}", std::process::id()));
    let fail = |e: io::Error, what: &str| {
        vec![
            error(
                "E0804",
                format!("cannot write `{}`: {what}: {e}", out.display()),
            )
            .note("the previous output is left as it was"),
        ]
    };
    remove_abandoned_staging(&parent, &base);
    let _ = fs::remove_dir_all(&staging);
    let previous = existing.is_some().then_some(out);
    let written = write_tree(&staging, files, previous, before_write);
    if let Err(e) = written {
        let _ = fs::remove_dir_all(&staging);
        return Err(fail(e, "writing the new tree"));
    }
    let swapped = if existing.is_some() {
        swap(&staging, out).map(|()| true)
    } else {
        fs::rename(&staging, out).map(|()| false)
    };
    match swapped {
        Ok(had_old) => {
            // After the exchange the staging path holds the previous tree.
            if had_old {
                remove_tree(&staging);
            }
            sync_dir(&parent);
            Ok(())
        }
        Err(e) => {
            let _ = fs::remove_dir_all(&staging);
            Err(fail(e, "replacing the output directory"))
        }
    }
}

/// A build killed half way leaves its staging directory beside the output; the next build removes
/// it, unless the process that made it is still running (a concurrent build).
fn remove_abandoned_staging(parent: &Path, base: &str) {
    let prefix = format!(".{base}.warden-staging-");
    let Ok(entries) = fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(rest) = name.strip_prefix(&prefix) else {
            continue;
        };
        let pid = rest.split('.').next().unwrap_or("");
        let alive = !pid.is_empty() && Path::new("/proc").join(pid).exists();
        if !alive && entry.file_type().is_ok_and(|t| t.is_dir()) {
            let _ = fs::remove_dir_all(entry.path());
        }
    }
}

/// Writes the new tree under `root`. A file of the `previous` output that already holds exactly
/// what it should is linked into the new tree rather than written again (see `reuse`).
fn write_tree(
    root: &Path,
    files: &[(String, Content)],
    previous: Option<&Path>,
    before_write: &BeforeWrite<'_>,
) -> io::Result<()> {
    use std::os::unix::fs::MetadataExt;
    fs::create_dir_all(root)?;
    let dirs: BTreeSet<&Path> = files
        .iter()
        .filter_map(|(rel, _)| Path::new(rel).parent())
        .collect();
    for dir in &dirs {
        fs::create_dir_all(root.join(dir))?;
    }
    // A new file is created with the directory's permissions less execute, both under the umask.
    let made = fs::metadata(root)?;
    let fresh = Fresh {
        uid: made.uid(),
        mode: made.mode() & 0o666,
    };
    // Every file of the new tree is durable before the swap. A tree of a few files syncs them and
    // its directories; a larger one syncs the whole file system once, one flush instead of an
    // fsync per file. syncfs also waits for whatever other programs left unwritten on that file
    // system, which for a tree of three files beside a busy writer costs more than it saves.
    let each = files.len() <= SYNC_EACH_MAX;
    let write = |(rel, content): &(String, Content)| {
        before_write(rel)?;
        let path = root.join(rel);
        if previous.is_some_and(|old| reuse(&old.join(rel), content, &path, fresh)) {
            return Ok(None);
        }
        let file = fs::File::create(path)?;
        content.write_to(&file)?;
        // Kept open to be synced only in a small tree: a large one has more files than a process
        // may hold open.
        Ok(each.then_some(file))
    };
    let written = crate::parallel::map_apart(&units(files), |unit| {
        unit.iter().map(write).collect::<io::Result<Vec<_>>>()
    });
    let written: Vec<Option<fs::File>> = written
        .into_iter()
        .collect::<io::Result<Vec<_>>>()?
        .into_iter()
        .flatten()
        .collect();
    if each {
        // A linked file's data was durable already; its new name is in a directory synced here.
        let mut parents = BTreeSet::from([Path::new("")]);
        for dir in dirs {
            parents.extend(dir.ancestors());
        }
        let parents: Vec<fs::File> = parents
            .into_iter()
            .filter_map(|d| fs::File::open(root.join(d)).ok())
            .collect();
        let written: Vec<fs::File> = written.into_iter().flatten().collect();
        sync_all(&written, &parents)
    } else {
        rustix::fs::syncfs(&fs::File::open(root)?)?;
        Ok(())
    }
}

/// A file this large is a unit of writing of its own (see `units`).
const LARGE: u64 = 1 << 20;

/// Small files in at most this many blocks, of at least `SMALL_BLOCK_MIN` files each: fewer are
/// not worth a thread (see `units`).
const SMALL_BLOCKS: usize = 64;
const SMALL_BLOCK_MIN: usize = 32;

/// The files as units of work for the writing threads, which draw them in turn: each file of
/// `LARGE` bytes or more alone, largest first, then the others in blocks of neighbours.
///
/// Largest first: in path order a bundle layout's files of megabytes (`cilium.yaml` to
/// `netpol.yaml`) fell into the first block, and one thread wrote them all while the other wrote
/// seccomp profiles and waited. Small files in blocks of neighbours, not one at a time: creating a
/// file waits on the file system's journal, not on the processor, so two creations at a time
/// finish sooner, but two threads creating files in the same directory at once contend for it.
fn units(files: &[(String, Content)]) -> Vec<&[(String, Content)]> {
    let is_large = |(_, content): &(String, Content)| content.len() >= LARGE;
    let mut large: Vec<&[(String, Content)]> = files
        .iter()
        .filter(|f| is_large(f))
        .map(std::slice::from_ref)
        .collect();
    large.sort_by_key(|unit| {
        std::cmp::Reverse(unit.first().map_or(0, |(_, content)| content.len()))
    });
    let small = files.len() - large.len();
    let block = small.div_ceil(SMALL_BLOCKS).max(SMALL_BLOCK_MIN);
    let mut units = large;
    for run in files.split(is_large) {
        units.extend(run.chunks(block));
    }
    units
}

/// The most files a build syncs one by one (see `write_tree`).
const SYNC_EACH_MAX: usize = 16;

/// Syncs `files` and, where the file system can, `dirs` (see `sync_dir`), all at once: the journal
/// commits concurrent syncs together, where one after the other each waits for a commit of its own.
fn sync_all(files: &[fs::File], dirs: &[fs::File]) -> io::Result<()> {
    let all = files.iter().map(|f| (f, true));
    let all = all.chain(dirs.iter().map(|d| (d, false)));
    std::thread::scope(|scope| {
        let started: Vec<_> = all
            .map(|(file, required)| {
                let sync = move || match file.sync_all() {
                    Err(e) if required => Err(e),
                    _ => Ok(()),
                };
                std::thread::Builder::new()
                    .spawn_scoped(scope, sync)
                    .map_err(|_| sync)
            })
            .collect();
        // The scope joins every thread, also those after a failure.
        started.into_iter().try_for_each(|s| match s {
            Ok(handle) => handle
                .join()
                .unwrap_or_else(|_| Err(io::Error::other("a sync thread panicked"))),
            // No thread to be had: synced here instead.
            Err(sync) => sync(),
        })
    })
}

/// The owner and permissions a file created now would have.
#[derive(Clone, Copy)]
struct Fresh {
    uid: u32,
    mode: u32,
}

/// Links the previous output's file at `old` to `new` if it holds exactly `content` and looks as a
/// file created now would (a regular file, owner, permissions, no other link); says whether it
/// did. Creating a file costs the file system a new inode, linking one does not, so a rebuild
/// that changes a few of thousands of seccomp profiles creates only those. The link is made from the very file that was compared, through its
/// descriptor, so a file swapped in between is never linked. An unchanged file keeps its
/// modification time.
fn reuse(old: &Path, content: &Content, new: &Path, fresh: Fresh) -> bool {
    use rustix::fs::{AtFlags, CWD, Mode, OFlags};
    use std::os::unix::fs::MetadataExt;
    // No following a symlink, and no waiting on a FIFO put there.
    let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
    let Ok(fd) = rustix::fs::open(old, flags, Mode::empty()) else {
        return false;
    };
    let descriptor = format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&fd));
    let file = fs::File::from(fd);
    let Ok(meta) = file.metadata() else {
        return false;
    };
    if !meta.is_file()
        || meta.nlink() != 1
        || meta.uid() != fresh.uid
        || meta.mode() & 0o7777 != fresh.mode
        || meta.len() != content.len()
    {
        return false;
    }
    if !content.same_as(&file).unwrap_or(false) {
        return false;
    }
    rustix::fs::linkat(CWD, descriptor.as_str(), CWD, new, AtFlags::SYMLINK_FOLLOW).is_ok()
}

/// Removes a tree warden wrote (a staging directory, or the previous output after the exchange),
/// the entries two levels down on all cores: unlinking, like creating, waits on the journal.
fn remove_tree(root: &Path) {
    let children = |dir: &Path| -> Vec<(PathBuf, bool)> {
        fs::read_dir(dir)
            .map(|entries| {
                entries
                    .flatten()
                    .map(|e| (e.path(), e.file_type().is_ok_and(|t| t.is_dir())))
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut entries = Vec::new();
    for (path, is_dir) in children(root) {
        if is_dir {
            entries.extend(children(&path));
        } else {
            entries.push((path, false));
        }
    }
    crate::parallel::map(&entries, |(path, is_dir)| {
        let _ = if *is_dir {
            fs::remove_dir_all(path)
        } else {
            fs::remove_file(path)
        };
    });
    let _ = fs::remove_dir_all(root);
}

fn sync_dir(dir: &Path) {
    // Best effort: not every file system lets a directory be opened and synced.
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

/// Exchanges two directories atomically; where the file system cannot, falls back to two renames
/// (a crash between them leaves the old tree beside the output, under a `.warden-old` name).
fn swap(staging: &Path, out: &Path) -> io::Result<()> {
    use rustix::fs::{CWD, RenameFlags, renameat_with};
    match renameat_with(CWD, staging, CWD, out, RenameFlags::EXCHANGE) {
        Ok(()) => Ok(()),
        Err(e) if e == rustix::io::Errno::INVAL || e == rustix::io::Errno::NOSYS => {
            let old = staging.with_extension("old");
            fs::rename(out, &old)?;
            if let Err(e) = fs::rename(staging, out) {
                let _ = fs::rename(&old, out);
                return Err(e);
            }
            fs::rename(&old, staging)
        }
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::Content;
    use std::io::Read;

    /// A reader that hands out at most `step` bytes a call, so blocks end inside pieces.
    struct Trickle<'a> {
        bytes: &'a [u8],
        step: usize,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = self.step.min(buf.len()).min(self.bytes.len());
            let (now, rest) = self.bytes.split_at(n);
            buf.get_mut(..n).unwrap_or_default().copy_from_slice(now);
            self.bytes = rest;
            Ok(n)
        }
    }

    /// The files of megabytes come first, largest first, each alone; the others follow in their
    /// order, in blocks of neighbours; every file is in exactly one unit.
    #[test]
    fn large_files_are_written_first_and_alone() {
        let file = |name: String, len: usize| (name, Content::one("x".repeat(len)));
        let mut files = vec![
            file("a.yaml".into(), 2 << 20),
            file("b.yaml".into(), 3 << 20),
            file("k.yaml".into(), 10),
        ];
        files.extend((0..100).map(|i| file(format!("seccomp/ns/s{i:03}.json"), 100)));
        files.push(file("v.yaml".into(), 5 << 20));
        let units = super::units(&files);
        let names = |unit: &[(String, Content)]| -> Vec<String> {
            unit.iter().map(|(name, _)| name.clone()).collect()
        };
        let large: Vec<Vec<String>> = units.iter().take(3).map(|u| names(u)).collect();
        assert_eq!(large, [["v.yaml"], ["b.yaml"], ["a.yaml"]]);
        let small: Vec<&[(String, Content)]> = units.iter().skip(3).copied().collect();
        assert!(
            small.iter().all(|u| !u.is_empty() && u.len() <= 32),
            "{small:?}"
        );
        let want: Vec<String> = files
            .iter()
            .filter(|(_, c)| c.len() < super::LARGE)
            .map(|(name, _)| name.clone())
            .collect();
        let got: Vec<String> = small.iter().flat_map(|u| names(u)).collect();
        assert_eq!(got, want);
        // A small program is one unit: no thread is started for it.
        assert_eq!(super::units(files.get(2..30).unwrap_or_default()).len(), 1);
    }

    #[test]
    fn a_file_is_the_content_only_byte_for_byte() {
        let bundle = Content {
            parts: vec!["a: 1\n".into(), String::new(), "b: 2\n".into()],
            bundle: true,
        };
        let exact = bundle.to_bytes();
        let mut changed = exact.clone();
        if let Some(last) = changed.last_mut() {
            *last = b'x';
        }
        let mut longer = exact.clone();
        longer.push(b'\n');
        let shorter = exact.get(..exact.len() - 1).unwrap_or_default().to_vec();
        for step in [1, 3, 7, 1 << 20] {
            let same = |bytes: &[u8]| bundle.same_as(Trickle { bytes, step }).unwrap_or(false);
            assert!(same(&exact), "step {step}");
            assert!(!same(&changed), "step {step}");
            assert!(!same(&longer), "step {step}");
            assert!(!same(&shorter), "step {step}");
            assert!(!same(b""), "step {step}");
        }
        let empty = Content::one(String::new());
        assert!(
            empty
                .same_as(Trickle {
                    bytes: b"",
                    step: 1
                })
                .unwrap_or(false)
        );
        assert!(
            !empty
                .same_as(Trickle {
                    bytes: b"-",
                    step: 1
                })
                .unwrap_or(true)
        );
    }
}
