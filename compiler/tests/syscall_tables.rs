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
