//! Work spread over the machine's cores: parsing files, lowering and checking documents.
//!
//! Results keep the order of the inputs, so the output is the same whatever the number of cores
//! or the order in which threads finish. Small inputs stay on the calling thread, where starting
//! threads would cost more than it saves (`warden check` on a small program takes milliseconds).

use std::num::NonZeroUsize;

/// Fewer items than this per thread are not worth a thread.
const MIN_PER_THREAD: usize = 32;

/// `f` applied to every item, in order, on up to as many threads as the machine has cores.
pub fn map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let cores = std::thread::available_parallelism().map_or(1, NonZeroUsize::get);
    let threads = cores.min(items.len() / MIN_PER_THREAD).max(1);
    if threads == 1 {
        return items.iter().map(f).collect();
    }
    let chunk = items.len().div_ceil(threads);
    let f = &f;
    std::thread::scope(|scope| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|part| scope.spawn(move || part.iter().map(f).collect::<Vec<R>>()))
            .collect();
        let mut out = Vec::with_capacity(items.len());
        for handle in handles {
            match handle.join() {
                Ok(part) => out.extend(part),
                // A panic in a worker is a panic of the caller, as if it had run here.
                Err(payload) => std::panic::resume_unwind(payload),
            }
        }
        out
    })
}
