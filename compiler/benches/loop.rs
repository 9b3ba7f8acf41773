//! Benchmark: the commands of the edit loop on the realistic program of `bench-gen` at N services
//! (10,000 unless asked), in one run so that they compare: `warden check` of the program alone
//! (no output), `warden fmt --check` and `warden fmt` of a copy, and the language server's
//! diagnostics after a one-line edit.
//!
//! ```text
//! cargo bench --bench loop              # N = 10,000
//! cargo bench --bench loop -- 1000      # another N
//! ```
//!
//! Each command is a process timed from spawn to exit, median of 5. The server is started once on
//! the program's directory (its first diagnostics awaited), then sent 21 one-line edits of one file
//! (a port number changed, alternately valid and not, so each edit changes what is published);
//! each is timed from the moment the `didChange` is written to the moment the
//! `publishDiagnostics` for that file arrives, and the median and the slowest are reported.
#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "a benchmark harness: a failure is a failed benchmark"
)]

use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const WARDEN: &str = env!("CARGO_BIN_EXE_warden");

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn timed(args: &[&str], runs: usize) -> Duration {
    median(
        (0..runs)
            .map(|_| {
                let start = Instant::now();
                let out = Command::new(WARDEN)
                    .args(args)
                    .output()
                    .expect("warden runs");
                let took = start.elapsed();
                assert!(
                    out.status.code().is_some_and(|c| c <= 1),
                    "{args:?}: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
                took
            })
            .collect(),
    )
}

fn send(stdin: &mut impl Write, message: &Value) {
    let body = serde_json::to_vec(message).unwrap();
    write!(stdin, "Content-Length: {}\r\n\r\n", body.len()).unwrap();
    stdin.write_all(&body).unwrap();
    stdin.flush().unwrap();
}

fn receive(out: &mut impl BufRead) -> Value {
    let mut length = 0;
    loop {
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some(n) = line.strip_prefix("Content-Length: ") {
            length = n.parse().unwrap();
        }
    }
    let mut body = vec![0; length];
    out.read_exact(&mut body).unwrap();
    serde_json::from_slice(&body).unwrap()
}

/// Waits for the diagnostics of `uri`; returns them.
fn diagnostics_of(out: &mut impl BufRead, uri: &str) -> Vec<Value> {
    loop {
        let m = receive(out);
        if m["method"] == "textDocument/publishDiagnostics" && m["params"]["uri"] == uri {
            return m["params"]["diagnostics"]
                .as_array()
                .cloned()
                .unwrap_or_default();
        }
    }
}

fn lsp(dir: &Path) -> (Duration, Vec<Duration>) {
    let mut child = Command::new(WARDEN)
        .arg("lsp")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("warden lsp runs");
    let mut stdin = child.stdin.take().unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let root = format!("file://{}", dir.display());
    let start = Instant::now();
    send(
        &mut stdin,
        &json!({"jsonrpc": "2.0", "id": 1, "method": "initialize",
                "params": {"capabilities": {}, "rootUri": root}}),
    );
    while receive(&mut out)["id"] != 1 {}
    send(
        &mut stdin,
        &json!({"jsonrpc": "2.0", "method": "initialized", "params": {}}),
    );
    let file = dir.join("ns-500.warden");
    let uri = format!("file://{}", file.display());
    let text = std::fs::read_to_string(&file).unwrap();
    send(
        &mut stdin,
        &json!({"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {"textDocument":
            {"uri": uri, "languageId": "warden", "version": 1, "text": text}}}),
    );
    // Every file of the realistic program has warnings, so the first analysis publishes some.
    diagnostics_of(&mut out, &uri);
    let first = start.elapsed();
    // Each edit changes what is published: an error (a port out of range) comes and goes.
    let port = text.find("port ").expect("a port line");
    let line_end = port + text[port..].find('\n').unwrap();
    let line = &text[port..line_end];
    let number = line.split_whitespace().nth(2).unwrap().to_string();
    let broken = text.replacen(line, &line.replace(&number, "99999/tcp"), 1);
    let mut edits = Vec::new();
    for version in 2..23 {
        let broken_now = version % 2 == 0;
        let body = if broken_now { &broken } else { &text };
        let sent = Instant::now();
        send(
            &mut stdin,
            &json!({"jsonrpc": "2.0", "method": "textDocument/didChange", "params": {
                "textDocument": {"uri": uri, "version": version},
                "contentChanges": [{"text": body}]}}),
        );
        let found = diagnostics_of(&mut out, &uri);
        edits.push(sent.elapsed());
        let errors = found.iter().any(|d| d["severity"] == 1);
        assert_eq!(errors, broken_now, "{found:?}");
    }
    send(
        &mut stdin,
        &json!({"jsonrpc": "2.0", "id": 2, "method": "shutdown"}),
    );
    while receive(&mut out)["id"] != 2 {}
    send(&mut stdin, &json!({"jsonrpc": "2.0", "method": "exit"}));
    assert!(child.wait().unwrap().success());
    (first, edits)
}

fn main() {
    let n: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(10_000);
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("program");
    let status = Command::new(env!("CARGO_BIN_EXE_bench-gen"))
        .args(["realistic", &n.to_string()])
        .arg(&dir)
        .output()
        .expect("bench-gen runs");
    assert!(status.status.success());
    let copy = work.path().join("copy");
    std::fs::create_dir(&copy).unwrap();
    for e in std::fs::read_dir(&dir).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), copy.join(e.file_name())).unwrap();
    }
    let d = dir.to_str().unwrap();
    let c = copy.to_str().unwrap();
    println!(
        "realistic program, {n} services ({} files)",
        std::fs::read_dir(&dir).unwrap().count()
    );
    println!("{:<44} {:>9}", "command", "median ms");
    println!(
        "{:<44} {:>9.1}",
        "warden check PROGRAM (no output)",
        ms(timed(&["check", d], 5))
    );
    println!(
        "{:<44} {:>9.1}",
        "warden fmt --check PROGRAM",
        ms(timed(&["fmt", "--check", d], 5))
    );
    println!(
        "{:<44} {:>9.1}",
        "warden fmt COPY (already formatted)",
        ms(timed(&["fmt", c], 5))
    );
    let (first, edits) = lsp(&dir);
    let slowest = edits.iter().max().copied().unwrap_or_default();
    println!(
        "{:<44} {:>9.1}",
        "warden lsp: start to first diagnostics",
        ms(first)
    );
    println!(
        "{:<44} {:>9.1}   (slowest of {}: {:.1})",
        "warden lsp: one-line edit to its diagnostics",
        ms(median(edits.clone())),
        edits.len(),
        ms(slowest)
    );
}
