//! Property: for seeded random `syscalls` blocks (calls allowed, answered with one errno or
//! another, left to the default, allowed only for some argument values), the kernel's verdict
//! for each call equals warden's own reading of the block (`SyscallPolicy::action`). The kernel
//! is asked through runc: a static probe, compiled here, makes each call with harmless arguments
//! under the generated profile and prints the errno it got back.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "in tests a panic is a failed test"
)]

use crate::common::Rng;
use crate::common::seccomp::{CAPS, native, runtime_spec, tool};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::process::Command;
use warden::document::Target;
use warden::ir::SeccompAction;

/// The probe: for each argument `NR:ARG0`, calls syscall NR with ARG0 and zeros, and prints
/// `NR ARG0 ERRNO` (0 when the call succeeded).
const PROBE: &str = r#"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/syscall.h>
int main(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    char *colon;
    long nr = strtol(argv[i], &colon, 10);
    unsigned long arg0 = strtoul(colon + 1, NULL, 0);
    errno = 0;
    long r = syscall(nr, arg0, 0L, 0L, 0L, 0L, 0L);
    printf("%ld %lu %d\n", nr, arg0, r == -1 ? errno : 0);
  }
  fflush(stdout);
  return 0;
}
"#;

/// Calls that are harmless with these arguments (a bad descriptor, a null pointer, a query), on
/// both architectures, with the first arguments probed; none is one runc itself needs after
/// loading the filter (group `runc-init`), which the rules here could take from it.
const POOL: [(&str, &[u64]); 25] = [
    ("getppid", &[0]),
    ("getuid", &[0]),
    ("geteuid", &[0]),
    ("getgid", &[0]),
    ("getegid", &[0]),
    ("umask", &[0o22]),
    ("times", &[0]),
    ("getpriority", &[0, 1, 2]),
    ("sysinfo", &[0]),
    ("getrusage", &[0, 1]),
    ("getitimer", &[0]),
    ("getsid", &[0]),
    ("getpgid", &[0]),
    ("sched_getscheduler", &[0]),
    ("capget", &[0]),
    ("getgroups", &[0]),
    ("personality", &[0xffff_ffff, 0]),
    ("clock_getres", &[0, 1]),
    ("dup", &[0xffff_ffff]),
    ("fsync", &[0xffff_ffff]),
    ("fchdir", &[0xffff_ffff]),
    ("flock", &[0xffff_ffff]),
    ("fdatasync", &[0xffff_ffff]),
    ("alarm", &[0]),
    ("getcwd", &[0]),
];

/// What the probe itself and runc need after the filter is loaded: always allowed.
const BASE: &str = "allow group runc-init\n    allow arch_prctl, brk, execve, exit_group, getrandom, mprotect, newfstatat, prlimit64, readlink, rseq, set_robust_list, set_tid_address, write";

/// Errnos no call above returns by itself, so a probe can tell which rule answered.
const ERRNOS: [(&str, i32); 3] = [
    ("ENOTRECOVERABLE", 131),
    ("ERFKILL", 132),
    ("EHWPOISON", 133),
];

fn random_block(rng: &mut Rng) -> String {
    let mut lines = vec![
        BASE.to_string(),
        "default errno ENOTRECOVERABLE".to_string(),
    ];
    for (name, probes) in POOL {
        match rng.below(6) {
            0 | 1 => lines.push(format!("allow {name}")),
            2 => lines.push(format!("errno ERFKILL {name}")),
            3 => lines.push(format!("errno EHWPOISON {name}")),
            4 if probes.len() > 1 => {
                let v = probes[rng.below(probes.len())];
                let verb = if rng.chance(50) {
                    "allow".to_string()
                } else {
                    "errno ERFKILL".to_string()
                };
                let op = if rng.chance(50) { "==" } else { "!=" };
                lines.push(format!("{verb} {name} if arg0 {op} {v:#x}"));
            }
            _ => {}
        }
    }
    lines.join("\n    ")
}

#[test]
fn the_kernel_agrees_with_warden_on_random_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("rootfs");
    std::fs::create_dir_all(root.join("bin")).unwrap();
    std::fs::write(dir.path().join("probe.c"), PROBE).unwrap();
    let cc = Command::new("gcc")
        .args(["-static", "-O1", "-o"])
        .arg(root.join("bin/probe"))
        .arg(dir.path().join("probe.c"))
        .output()
        .expect("gcc (and libc6-dev for the static libc) build the probe");
    assert!(
        cc.status.success(),
        "the probe does not build: {}",
        String::from_utf8_lossy(&cc.stderr)
    );
    let status = Command::new(tool("runc"))
        .args(["spec", "--bundle"])
        .arg(dir.path())
        .status()
        .unwrap();
    assert!(status.success());
    let base_config: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("config.json")).unwrap())
            .unwrap();
    let arch = match native() {
        "SCMP_ARCH_X86_64" => warden::catalog::Arch::X86_64,
        _ => warden::catalog::Arch::Aarch64,
    };
    let table = warden::catalog::get().table(arch).unwrap();
    let mut rng = Rng(0x5ecc_0bb1_2026_1126);
    let (mut programs, mut verdicts, mut denied) = (0, 0, 0);
    for round in 0..40 {
        let block = random_block(&mut rng);
        let text = format!(
            "namespace t {{ }}\nservice probe in t {{\n  pods app = \"probe\"\n  syscalls {{\n    {block}\n  }}\n}}\n"
        );
        let mut sources = warden::span::SourceMap::new();
        sources.add("p.warden".to_string(), text.clone());
        let c = warden::compile(sources, &[Target::Seccomp]);
        let program = c.program.as_ref().unwrap_or_else(|| {
            panic!(
                "{}",
                warden::diag::render::human(&c.sources, &c.diagnostics)
            )
        });
        let policy = program
            .services
            .values()
            .next()
            .unwrap()
            .syscalls
            .clone()
            .unwrap();
        let doc = c
            .documents
            .as_ref()
            .unwrap()
            .iter()
            .find(|d| d.path == "seccomp/t/probe.json")
            .unwrap();
        let profile: Value = serde_json::from_str(&doc.text).unwrap();
        let mut args = Vec::new();
        let mut expected: BTreeMap<(u32, u64), (String, i32)> = BTreeMap::new();
        for (name, probes) in POOL {
            let Some(nr) = table.get(name) else { continue };
            for a0 in probes {
                args.push(format!("{nr}:{a0:#x}"));
                let want = match policy.action(name, &[*a0, 0, 0, 0, 0, 0]).unwrap() {
                    SeccompAction::Allow | SeccompAction::Log => -1,
                    SeccompAction::Errno(n) => i32::from(n),
                    other => panic!("the generator makes no {other:?}"),
                };
                expected.insert((*nr, *a0), (name.to_string(), want));
            }
        }
        let mut config = base_config.clone();
        config["process"]["terminal"] = json!(false);
        let mut argv = vec!["/bin/probe".to_string()];
        argv.extend(args);
        config["process"]["args"] = json!(argv);
        config["linux"]["seccomp"] = runtime_spec(&profile, native(), &CAPS, (6, 1));
        std::fs::write(dir.path().join("config.json"), config.to_string()).unwrap();
        let id = format!("warden-prop-{}-{round}", std::process::id());
        let out = Command::new(tool("runc"))
            .args(["run", "--bundle"])
            .arg(dir.path())
            .arg(&id)
            .output()
            .unwrap();
        let _ = Command::new(tool("runc"))
            .args(["delete", "-f", &id])
            .output();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "round {round}: the probe did not run ({}): {}\n{text}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        let mut seen = 0;
        for line in stdout.lines() {
            let f: Vec<&str> = line.split_whitespace().collect();
            let (nr, a0, errno): (u32, u64, i32) = (
                f[0].parse().unwrap(),
                f[1].parse().unwrap(),
                f[2].parse().unwrap(),
            );
            let (name, want) = &expected[&(nr, a0)];
            let got = if ERRNOS.iter().any(|(_, e)| *e == errno) {
                errno
            } else {
                -1
            };
            assert_eq!(
                got, *want,
                "round {round}: {name}(arg0 {a0:#x}) → errno {errno}\n{text}"
            );
            verdicts += 1;
            denied += usize::from(got != -1);
            seen += 1;
        }
        assert_eq!(
            seen,
            expected.len(),
            "round {round}: the probe answered {seen} of {}",
            expected.len()
        );
        programs += 1;
    }
    println!(
        "{programs} random blocks, {verdicts} calls: the kernel agrees with warden on every one ({denied} denied)"
    );
    assert!(
        denied > verdicts / 5 && denied < verdicts * 4 / 5,
        "the cases should mix: {denied}/{verdicts}"
    );
}
