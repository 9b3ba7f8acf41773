//! Work spread over the machine's cores: reading and parsing files, lowering, checking and writing
//! documents.
//!
//! Results keep the order of the inputs, so the output is the same whatever the number of cores
//! or the order in which threads finish. Small inputs stay on the calling thread, where starting
//! threads would cost more than it saves (`warden check` on a small program takes milliseconds).

use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Fewer items than this per thread are not worth a thread.
const MIN_PER_THREAD: usize = 32;

/// Blocks per thread: items differ in cost (one bundle file against one seccomp profile, a
/// namespace of ten policies against one of two), so threads draw blocks in turn and one that
/// drew cheap ones draws more; fixed halves left a core idle while the other finished. More
/// blocks balance better and cost an atomic step and a vector each.
const BLOCKS_PER_THREAD: usize = 16;

const STACK: usize = 8 << 20;

/// `f` applied to every item, in order, on up to as many threads as the machine has cores.
pub fn map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    in_blocks(
        items,
        MIN_PER_THREAD,
        |threads| items.len() / (threads * BLOCKS_PER_THREAD),
        f,
    )
}

/// `map` for items whose costs differ by orders of magnitude, such as output files (a bundle of
/// megabytes among thousands of seccomp profiles): each item is a block of its own, so the
/// large ones do not end up in one thread's block.
pub fn map_each<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    in_blocks(items, MIN_PER_THREAD, |_| 1, f)
}

/// `map` for a few items each worth a thread, such as the halves of one pass over every flow.
pub fn map_apart<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    in_blocks(items, 1, |_| 1, f)
}

/// `f` applied to every item, in order, on threads of at least `min_per_thread` items each,
/// drawing blocks of `block(threads)` items.
fn in_blocks<T: Sync, R: Send>(
    items: &[T],
    min_per_thread: usize,
    block: impl Fn(usize) -> usize,
    f: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    let cores = std::thread::available_parallelism().map_or(1, NonZeroUsize::get);
    let threads = cores.min(items.len() / min_per_thread).max(1);
    if threads == 1 {
        return items.iter().map(f).collect();
    }
    let block = block(threads).max(1);
    let next = AtomicUsize::new(0);
    // The blocks one thread drew, each with the index of its first item.
    let draw = || {
        let mut drawn: Vec<(usize, Vec<R>)> = Vec::new();
        loop {
            let start = next.fetch_add(block, Ordering::Relaxed);
            match items.get(start..) {
                Some(rest) if !rest.is_empty() => {
                    drawn.push((start, rest.iter().take(block).map(&f).collect()));
                }
                _ => return drawn,
            }
        }
    };
    std::thread::scope(|scope| {
        // The main thread's stack size: a worker must survive the same nesting as the main
        // thread (a spawned thread gets 2 MiB by default, the main one 8 MiB). A thread that
        // cannot be started draws nothing: the others draw until no block is left.
        let workers: Vec<_> = (1..threads)
            .filter_map(|_| {
                std::thread::Builder::new()
                    .stack_size(STACK)
                    .spawn_scoped(scope, draw)
                    .ok()
            })
            .collect();
        let mut blocks = draw();
        for worker in workers {
            match worker.join() {
                Ok(drawn) => blocks.extend(drawn),
                // A panic in a worker is a panic of the caller, as if it had run here.
                Err(payload) => std::panic::resume_unwind(payload),
            }
        }
        blocks.sort_unstable_by_key(|&(start, _)| start);
        let mut out = Vec::with_capacity(items.len());
        for (_, results) in blocks {
            out.extend(results);
        }
        out
    })
}

#[cfg(test)]
mod tests {
    use super::{map, map_apart, map_each};

    /// Every seventh item costs two thousand times the others, so threads draw unevenly.
    fn uneven(i: u64) -> u64 {
        let steps = if i.is_multiple_of(7) { 20_000 } else { 10 };
        (0..steps).fold(i, |acc, k| acc.wrapping_mul(31).wrapping_add(k))
    }

    /// Results come back in the items' order whatever the number of items, the size of the last
    /// block, or which thread drew what.
    #[test]
    fn results_keep_the_items_order() {
        for n in [0, 1, 31, 64, 65, 97, 1000, 1001, 4099] {
            let items: Vec<u64> = (0..n).collect();
            let want: Vec<u64> = items.iter().map(|&i| uneven(i)).collect();
            assert_eq!(map(&items, |&i| uneven(i)), want, "{n} items");
            assert_eq!(map_each(&items, |&i| uneven(i)), want, "{n} items, each");
            assert_eq!(map_apart(&items, |&i| uneven(i)), want, "{n} items, apart");
        }
    }

    #[test]
    fn a_panic_in_any_item_is_the_caller_s() {
        let items: Vec<u32> = (0..1000).collect();
        let caught = std::panic::catch_unwind(|| {
            map(&items, |&i| {
                assert!(i != 500, "item 500");
                i
            })
        });
        assert!(caught.is_err());
    }
}
