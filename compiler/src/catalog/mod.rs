//! The data catalogs compiled into warden: system call tables per architecture, syscall groups,
//! and the Pod Security Standards (`pod_security`).
//!
//! The data lives in `compiler/catalog/` as plain files with their sources named in their headers;
//! this module only reads them. They are parsed once, on first use.

pub mod controls;
pub mod node_apis;
pub mod pod_security;
pub mod pod_spec;
pub mod seccomp;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

/// The architectures a seccomp profile is generated for, in output order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Arch {
    Aarch64,
    X86_64,
}

impl Arch {
    pub const ALL: [Arch; 2] = [Arch::Aarch64, Arch::X86_64];

    pub fn name(self) -> &'static str {
        match self {
            Arch::Aarch64 => "aarch64",
            Arch::X86_64 => "x86_64",
        }
    }

    /// The libseccomp name used in a profile's `architectures`.
    pub fn scmp(self) -> &'static str {
        match self {
            Arch::Aarch64 => "SCMP_ARCH_AARCH64",
            Arch::X86_64 => "SCMP_ARCH_X86_64",
        }
    }

    fn table_text(self) -> &'static str {
        match self {
            Arch::Aarch64 => include_str!("../../catalog/syscalls/aarch64.tbl"),
            Arch::X86_64 => include_str!("../../catalog/syscalls/x86_64.tbl"),
        }
    }
}

/// The 32-bit companions runtimes list beside x86_64 and aarch64 (`archMap`'s
/// `subArchitectures`): libseccomp's name and the table.
pub const COMPANIONS: [(&str, &str); 3] = [
    ("x86", include_str!("../../catalog/syscalls/x86.tbl")),
    ("x32", include_str!("../../catalog/syscalls/x32.tbl")),
    ("arm", include_str!("../../catalog/syscalls/arm.tbl")),
];

pub struct Catalog {
    tables: BTreeMap<Arch, BTreeMap<String, u32>>,
    companions: BTreeMap<&'static str, BTreeMap<String, u32>>,
    groups: BTreeMap<String, BTreeSet<String>>,
}

#[derive(serde::Deserialize)]
struct GroupsFile {
    groups: BTreeMap<String, Vec<String>>,
}

/// The catalog. The files are part of the binary, so a failure to parse them is a build defect
/// that the catalog tests catch; at run time it degrades to an empty catalog rather than panic.
pub fn get() -> &'static Catalog {
    static CATALOG: OnceLock<Catalog> = OnceLock::new();
    CATALOG.get_or_init(|| {
        let tables = Arch::ALL
            .iter()
            .map(|&arch| (arch, parse_table(arch.table_text())))
            .collect();
        let groups =
            serde_yaml::from_str::<GroupsFile>(include_str!("../../catalog/syscall-groups.yaml"))
                .map(|g| {
                    g.groups
                        .into_iter()
                        .map(|(k, v)| (k, v.into_iter().collect()))
                        .collect()
                })
                .unwrap_or_default();
        let companions = COMPANIONS
            .iter()
            .map(|(arch, text)| (*arch, parse_table(text)))
            .collect();
        Catalog {
            tables,
            companions,
            groups,
        }
    })
}

fn parse_table(text: &str) -> BTreeMap<String, u32> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            let mut parts = l.split_whitespace();
            let number = parts.next()?.parse().ok()?;
            Some((parts.next()?.to_string(), number))
        })
        .collect()
}

impl Catalog {
    /// The architectures on which `name` is a system call.
    pub fn arches_of(&self, name: &str) -> Vec<Arch> {
        self.tables
            .iter()
            .filter(|(_, t)| t.contains_key(name))
            .map(|(a, _)| *a)
            .collect()
    }

    /// The 32-bit companions on which `name` is a system call.
    pub fn companions_of(&self, name: &str) -> Vec<&'static str> {
        self.companions
            .iter()
            .filter(|(_, t)| t.contains_key(name))
            .map(|(a, _)| *a)
            .collect()
    }

    pub fn companion_table(&self, arch: &str) -> Option<&BTreeMap<String, u32>> {
        self.companions.get(arch)
    }

    pub fn table(&self, arch: Arch) -> Option<&BTreeMap<String, u32>> {
        self.tables.get(&arch)
    }

    /// Every system call name of every architecture.
    pub fn all_names(&self) -> BTreeSet<&str> {
        self.tables
            .values()
            .flat_map(|t| t.keys().map(String::as_str))
            .collect()
    }

    /// A group's name as the catalog holds it, and its members.
    pub fn group(&self, name: &str) -> Option<(&str, &BTreeSet<String>)> {
        self.groups
            .get_key_value(name)
            .map(|(k, members)| (k.as_str(), members))
    }

    /// `name` as the catalog holds it, if it is a system call of some architecture: a program's
    /// profiles hold the catalog's names rather than a copy per service.
    pub fn syscall(&self, name: &str) -> Option<&str> {
        self.tables
            .values()
            .find_map(|t| t.get_key_value(name))
            .map(|(k, _)| k.as_str())
    }

    pub fn group_names(&self) -> impl Iterator<Item = &str> {
        self.groups.keys().map(String::as_str)
    }
}
