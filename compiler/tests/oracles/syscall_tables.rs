//! The syscall tables of `compiler/catalog/syscalls/` checked against libseccomp's own tables, the
//! ones runtimes resolve names with (`scmp_sys_resolver`, Debian package `seccomp`, which `.ci/test`
//! installs). Names libseccomp does not know yet must be newer than it: their numbers unclaimed.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "in tests a panic is a failed test"
)]

use std::process::Command;
use warden::catalog::{self, Arch};

fn resolve(arch: Arch, what: &str) -> String {
    let out = Command::new("scmp_sys_resolver")
        .args(["-a", arch.name(), what])
        .output()
        .unwrap_or_else(|e| panic!("scmp_sys_resolver cannot run ({e}): install Debian's `seccomp` package (`.ci/test` does)"));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn every_name_and_number_agrees_with_libseccomp() {
    for arch in Arch::ALL {
        let table = catalog::get().table(arch).unwrap();
        let mut newer = Vec::new();
        for (name, number) in table {
            let theirs: i64 = resolve(arch, name).parse().unwrap();
            if theirs < 0 {
                assert_eq!(
                    resolve(arch, &number.to_string()),
                    "UNKNOWN",
                    "{}: {name} = {number} is another call's number",
                    arch.name()
                );
                newer.push(name.clone());
            } else {
                assert_eq!(theirs, i64::from(*number), "{}: {name}", arch.name());
            }
        }
        assert!(
            newer.len() < 25,
            "{}: libseccomp does not know {newer:?}",
            arch.name()
        );
        // And the other way round: every call libseccomp numbers up to our highest is in the table.
        let max = table.values().max().copied().unwrap();
        let mut missing = Vec::new();
        for n in 0..=max {
            let name = resolve(arch, &n.to_string());
            if name != "UNKNOWN" && table.get(&name) != Some(&n) {
                missing.push(format!("{n} {name}"));
            }
        }
        assert!(
            missing.is_empty(),
            "{}: missing from the table: {missing:?}",
            arch.name()
        );
    }
}

/// The 32-bit companions' tables (x86, x32, arm) agree with libseccomp's name by name.
#[test]
fn every_companion_name_agrees_with_libseccomp() {
    let cat = catalog::get();
    for (arch, _) in catalog::COMPANIONS {
        let table = cat.companion_table(arch).unwrap();
        assert!(table.len() > 300, "{arch}: {} names", table.len());
        let mut unknown = Vec::new();
        let mut multiplexed = 0;
        for (name, number) in table {
            let out = Command::new("scmp_sys_resolver")
                .args(["-a", arch, name])
                .output()
                .expect("scmp_sys_resolver (Debian's `seccomp`, installed by `.ci/test`)");
            let theirs: i64 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
            if theirs == -1 {
                unknown.push(name.clone());
            } else if theirs < 0 {
                // libseccomp 2.5 numbers x86's socket and IPC calls as pseudo-calls multiplexed
                // through socketcall/ipc (-101 and below); the kernel has had them as calls of
                // their own since 4.3, with the table's numbers.
                multiplexed += 1;
            } else {
                assert_eq!(theirs, i64::from(*number), "{arch}: {name}");
            }
        }
        assert!(
            unknown.len() < 10,
            "{arch}: libseccomp does not know {unknown:?}"
        );
        assert!(multiplexed <= 30, "{arch}: {multiplexed} pseudo-calls");
    }
}
