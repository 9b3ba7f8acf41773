//! How the command benchmarks time `warden`: a process from spawn to exit, and its peak memory.

use std::process::Command;
use std::time::{Duration, Instant};

const WARDEN: &str = env!("CARGO_BIN_EXE_warden");

/// The median wall time of `runs` runs of `warden ARGS`, each of which must succeed.
pub fn median(args: &[&str], runs: usize) -> Duration {
    let mut times = Vec::new();
    for _ in 0..runs {
        let start = Instant::now();
        let run = Command::new(WARDEN)
            .args(args)
            .output()
            .expect("warden runs");
        times.push(start.elapsed());
        assert!(
            run.status.success(),
            "{}",
            String::from_utf8_lossy(&run.stderr)
        );
    }
    times.sort();
    times[times.len() / 2]
}

/// The peak resident memory of one run, where `/usr/bin/time` is there to say it.
pub fn peak(args: &[&str]) -> String {
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
