//! How the command benchmarks time `warden`: a process from spawn to exit, and its peak memory.

use std::process::Command;
use std::time::{Duration, Instant};

const WARDEN: &str = env!("CARGO_BIN_EXE_warden");

/// The median wall time of `runs` runs of `warden` with the arguments `args(run)` gives, each
/// of which must exit with one of `statuses`. Each run starts after `sync`: the files the last
/// one wrote are flushed before, not during, this one (on the virtual disks benchmarks run on,
/// that flush alone doubled a run's system time).
pub fn median(args: impl Fn(usize) -> Vec<String>, runs: usize, statuses: &[i32]) -> Duration {
    let mut times = Vec::new();
    for run in 0..runs {
        let _ = Command::new("sync").status();
        let start = Instant::now();
        let done = Command::new(WARDEN)
            .args(args(run))
            .output()
            .expect("warden runs");
        times.push(start.elapsed());
        assert!(
            done.status.code().is_some_and(|c| statuses.contains(&c)),
            "{}",
            String::from_utf8_lossy(&done.stderr)
        );
    }
    times.sort();
    times[times.len() / 2]
}

/// The peak resident memory of one run, where `/usr/bin/time` is there to say it.
pub fn peak(args: &[String]) -> String {
    Command::new("/usr/bin/time")
        .args(["-f", "%M"])
        .arg(WARDEN)
        .args(args)
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stderr)
                .lines()
                .last()
                .and_then(|l| l.trim().parse::<u64>().ok())
        })
        .map_or("n/a".to_string(), |kb| format!("{} MiB", kb / 1024))
}
