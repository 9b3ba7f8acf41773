//! The data behind the compiler: diagnostic codes and their explanations, syscall tables and
//! groups, and the schema check that stands between a template and the disk.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "in tests a panic is a failed test"
)]

use std::collections::BTreeSet;
use warden::catalog::{self, Arch};
use warden::diag::codes::CODES;

#[test]
fn every_code_used_in_the_source_is_registered_once_and_explained() {
    let registered: Vec<&str> = CODES.iter().map(|(c, _)| *c).collect();
    let unique: BTreeSet<&str> = registered.iter().copied().collect();
    assert_eq!(unique.len(), registered.len(), "a code is registered twice");
    for (code, text) in CODES {
        assert!(
            text.starts_with(&format!("# {code}: ")),
            "{code}: explanation must start with its title"
        );
        assert!(text.lines().count() >= 3, "{code}: explanation too short");
    }
    let mut used = BTreeSet::new();
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("compiler/src");
    let mut stack = vec![src];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir)
            .expect("ls")
            .map(|e| e.expect("e").path())
        {
            if e.is_dir() {
                stack.push(e);
            } else if e.extension().is_some_and(|x| x == "rs") && !e.ends_with("codes.rs") {
                let text = std::fs::read_to_string(&e).expect("read");
                // A code in the source is a string literal: a quote, E or W, four digits, a quote.
                for (i, _) in text.match_indices('"') {
                    let Some(code) = text.get(i + 1..i + 7) else {
                        continue;
                    };
                    let is_code =
                        (code.starts_with('E') || code.starts_with('W') || code.starts_with('N'))
                            && code[1..5].chars().all(|c| c.is_ascii_digit())
                            && code.ends_with('"');
                    if is_code {
                        used.insert(code[..5].to_string());
                    }
                }
            }
        }
    }
    assert!(used.len() >= 30, "found only {used:?}");
    for code in &used {
        assert!(
            unique.contains(code.as_str()),
            "{code} is used but not registered"
        );
    }
    for code in &unique {
        assert!(used.contains(*code), "{code} is registered but never used");
    }
}

#[test]
fn syscall_tables_hold_the_known_calls_of_each_architecture() {
    let cat = catalog::get();
    let x86 = cat.table(Arch::X86_64).expect("x86_64");
    let arm = cat.table(Arch::Aarch64).expect("aarch64");
    assert_eq!(x86.get("read"), Some(&0));
    assert_eq!(x86.get("clone3"), Some(&435));
    assert_eq!(arm.get("openat"), Some(&56));
    assert_eq!(arm.get("clone3"), Some(&435));
    assert!(!arm.contains_key("open"), "aarch64 has no open(2)");
    assert!(
        x86.len() > 350 && arm.len() > 300,
        "{} {}",
        x86.len(),
        arm.len()
    );
}

#[test]
fn every_group_member_is_a_system_call() {
    let cat = catalog::get();
    let groups: Vec<&str> = cat.group_names().collect();
    assert!(groups.len() >= 10, "{groups:?}");
    for g in groups {
        for name in cat.group(g).expect("group").1 {
            assert!(
                !cat.arches_of(name).is_empty(),
                "group {g}: `{name}` is not a system call"
            );
        }
    }
}

#[test]
fn the_schema_check_rejects_a_broken_document() {
    // What would happen if a template were wrong: a misspelled field, a second document, a
    // wrong kind. Each must be caught before anything is written.
    let good = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: x\nspec:\n  podSelector: {}\n";
    let doc = |text: &str| warden::document::Document {
        path: "netpol/x/x.yaml".to_string(),
        text: text.to_string(),
        schema: warden::document::Schema::NetworkPolicy,
        sources: Vec::new(),
        origin: None,
    };
    assert!(warden::validate::validate(&doc(good)).is_ok());
    for bad in [
        good.replace("podSelector", "podSelectr"),
        format!("{good}---\n{good}"),
        good.replace("kind: NetworkPolicy", "kind: Secret"),
        good.replace("podSelector: {}", "podSelector: []"),
    ] {
        assert!(
            warden::validate::validate(&doc(&bad)).is_err(),
            "accepted:\n{bad}"
        );
    }
}
