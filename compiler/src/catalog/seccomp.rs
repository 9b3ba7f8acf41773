//! Seccomp data beside the system call tables: errno names, named constants for argument
//! conditions, and Docker's default profile for `base docker-default`.

use std::collections::BTreeMap;
use std::sync::OnceLock;

fn table(text: &str) -> BTreeMap<String, u64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            let mut parts = l.split_whitespace();
            let name = parts.next()?.to_string();
            let value = parts.next()?;
            let value = match value.strip_prefix("0x") {
                Some(hex) => u64::from_str_radix(hex, 16).ok()?,
                None => value.parse().ok()?,
            };
            Some((name, value))
        })
        .collect()
}

/// Errno names and numbers (`compiler/catalog/errno.tbl`).
pub fn errnos() -> &'static BTreeMap<String, u64> {
    static T: OnceLock<BTreeMap<String, u64>> = OnceLock::new();
    T.get_or_init(|| table(include_str!("../../catalog/errno.tbl")))
}

/// Constants an argument condition may name (`compiler/catalog/seccomp-constants.tbl`).
pub fn constants() -> &'static BTreeMap<String, u64> {
    static T: OnceLock<BTreeMap<String, u64>> = OnceLock::new();
    T.get_or_init(|| table(include_str!("../../catalog/seccomp-constants.tbl")))
}

/// Docker's default profile, as Docker's JSON (`compiler/catalog/seccomp/docker-default.json`).
/// It is part of the binary and checked by the suite; at run time an unreadable copy would be
/// `Null`, which lowering refuses rather than emit a profile without its base.
pub fn docker_default() -> &'static serde_json::Value {
    static T: OnceLock<serde_json::Value> = OnceLock::new();
    T.get_or_init(|| {
        serde_json::from_str(include_str!("../../catalog/seccomp/docker-default.json"))
            .unwrap_or(serde_json::Value::Null)
    })
}

/// Every system call some rule of Docker's default profile names: what `base docker-default`
/// may decide. Computed once.
pub fn docker_names() -> &'static std::collections::BTreeSet<&'static str> {
    static T: OnceLock<std::collections::BTreeSet<&'static str>> = OnceLock::new();
    T.get_or_init(|| {
        docker_default()["syscalls"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|r| r["names"].as_array().into_iter().flatten())
            .filter_map(|n| n.as_str())
            .collect()
    })
}
