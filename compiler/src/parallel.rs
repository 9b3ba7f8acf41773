//! Work spread over the machine's cores: reading and parsing files, lowering, checking and writing
//! documents.
//!
//! Results keep the order of the inputs, so the output is the same whatever the number of cores
//! or the order in which threads finish. Small inputs stay on the calling thread, where starting
//! threads would cost more than it saves (`warden check` on a small program takes milliseconds).

use std::num::NonZeroUsize;

/// Fewer items than this per thread are not worth a thread.
const MIN_PER_THREAD: usize = 32;

const STACK: usize = 8 << 20;

/// `f` applied to every item, in order, on up to as many threads as the machine has cores.
pub fn map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let cores = std::thread::available_parallelism().map_or(1, NonZeroUsize::get);
    let threads = cores.min(items.len() / MIN_PER_THREAD).max(1);
    if threads == 1 {
        return items.iter().map(f).collect();
    }
    let chunk = items.len().div_ceil(threads);
    let f = &f;
    let mut chunks = items.chunks(chunk);
    // The calling thread takes the last part: its allocator's heap is warm, a new thread's is
    // empty, and every page a fresh heap touches is a page fault.
    let own = chunks.next_back().unwrap_or_default();
    std::thread::scope(|scope| {
        let parts: Vec<_> = chunks
            .map(|part| {
                // The main thread's stack size: a worker must survive the same nesting as the
                // main thread (a spawned thread gets 2 MiB by default, the main one 8 MiB).
                let spawned = std::thread::Builder::new()
                    .stack_size(STACK)
                    .spawn_scoped(scope, move || part.iter().map(f).collect::<Vec<R>>());
                // A thread that cannot be started: the work is done here instead.
                spawned.map_err(|_| part)
            })
            .collect();
        let mine: Vec<R> = own.iter().map(f).collect();
        let mut out = Vec::with_capacity(items.len());
        for part in parts {
            match part {
                Ok(handle) => match handle.join() {
                    Ok(results) => out.extend(results),
                    // A panic in a worker is a panic of the caller, as if it had run here.
                    Err(payload) => std::panic::resume_unwind(payload),
                },
                Err(part) => out.extend(part.iter().map(f)),
            }
        }
        out.extend(mine);
        out
    })
}
