//! `compiler/catalog/node-apis.yaml`: the system calls of Node.js built-in APIs beyond the
//! runtime's own, for `warden infer node`.

use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeApis {
    pub node: String,
    pub libc: String,
    pub runtime: Runtime,
    pub widen: Widen,
    /// What connecting to a name adds, and the members that may (`module.member`).
    pub resolving: Vec<String>,
    pub resolves: BTreeSet<String>,
    /// `process.binding('name')`: the module it stands for, `none` or `native`.
    pub bindings: BTreeMap<String, String>,
    pub modules: BTreeMap<String, Module>,
    /// Every name some module's `exports` holds: what a file's property reads are filtered by.
    #[serde(skip)]
    pub export_names: BTreeSet<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Runtime {
    pub groups: Vec<String>,
    pub errno_enosys: Vec<String>,
    pub errno_eperm: Vec<String>,
    pub threads_only_clone: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Widen {
    pub dynamic: String,
    pub unknown: String,
    pub native: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Module {
    pub source: String,
    pub calls: Vec<String>,
    /// Every name the module exports, where it makes calls of its own.
    #[serde(default)]
    pub exports: Vec<String>,
    #[serde(default)]
    pub members: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    pub probe: Option<String>,
}

impl NodeApis {
    /// The calls of `module` used through `member` (`None`: the module as a whole; a member not
    /// listed counts as the whole module), a client's with what resolving a name adds unless
    /// `by_address`. `None` for a module the catalog does not know.
    pub fn calls(
        &self,
        module: &str,
        member: Option<&str>,
        by_address: bool,
    ) -> Option<Vec<String>> {
        let m = self.modules.get(module)?;
        Some(
            match member.and_then(|name| Some((name, m.members.get(name)?))) {
                Some((name, calls)) => {
                    let mut calls = calls.clone();
                    if !by_address && self.resolves.contains(&format!("{module}.{name}")) {
                        calls.extend(
                            self.resolving
                                .iter()
                                .filter(|c| !calls.contains(c))
                                .cloned()
                                .collect::<Vec<_>>(),
                        );
                    }
                    calls
                }
                None => m.calls.clone(),
            },
        )
    }

    /// The calls of `module` leaving its file, where the code reads the exports in `read`: each
    /// export's own (the module's for one without a member entry). A module without an
    /// `exports` list counts as a whole.
    pub fn escaped(&self, module: &str, read: &BTreeSet<String>) -> Option<Vec<String>> {
        let m = self.modules.get(module)?;
        if m.exports.is_empty() {
            return Some(m.calls.clone());
        }
        let mut calls = BTreeSet::new();
        // `promises` holds the module's functions again, read by their own names.
        for name in m
            .exports
            .iter()
            .filter(|e| read.contains(*e) && *e != "promises")
        {
            let name = name.strip_suffix("Sync").unwrap_or(name);
            calls.extend(self.calls(module, Some(name), false).unwrap_or_default());
        }
        // Kept in the order of the module's list, as a member's are.
        Some(
            m.calls
                .iter()
                .filter(|c| calls.contains(*c))
                .cloned()
                .collect(),
        )
    }

    /// Whether `module` starts processes (the one kind a dynamic load is not widened to).
    pub fn starts_processes(module: &str) -> bool {
        matches!(module, "child_process" | "cluster")
    }
}

/// The catalog, parsed on first use; the error is a defect of the catalog, which a test parses.
pub fn node_apis() -> Result<&'static NodeApis, String> {
    static CATALOG: OnceLock<Result<NodeApis, String>> = OnceLock::new();
    CATALOG
        .get_or_init(|| {
            let mut apis: NodeApis =
                serde_yaml::from_str(include_str!("../../catalog/node-apis.yaml"))
                    .map_err(|e| format!("compiler/catalog/node-apis.yaml: {e}"))?;
            apis.export_names = apis
                .modules
                .values()
                .flat_map(|m| m.exports.iter().cloned())
                .collect();
            Ok(apis)
        })
        .as_ref()
        .map_err(Clone::clone)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_of_the_catalog_is_a_system_call_or_a_group() {
        let apis = node_apis().unwrap();
        let catalog = crate::catalog::get();
        let mut names: Vec<&String> = apis.runtime.errno_enosys.iter().collect();
        names.extend(&apis.runtime.errno_eperm);
        for m in apis.modules.values() {
            names.extend(&m.calls);
            names.extend(m.members.values().flatten());
        }
        assert!(names.len() > 100, "{}", names.len());
        for name in names {
            assert!(
                catalog.syscall(name).is_some(),
                "`{name}` is not a system call"
            );
        }
        for (binding, to) in &apis.bindings {
            assert!(
                to == "none" || to == "native" || apis.modules.contains_key(to),
                "binding {binding}: {to} is no module"
            );
        }
        for group in &apis.runtime.groups {
            assert!(catalog.group(group).is_some(), "no group `{group}`");
        }
        // A member's calls are the module's: a use of the whole module allows at least as much.
        for (name, m) in &apis.modules {
            // A module that makes calls of its own lists its exports, and its members are exports.
            assert_eq!(m.calls.is_empty(), m.exports.is_empty(), "{name}'s exports");
            for member in m.members.keys().filter(|_| !m.exports.is_empty()) {
                assert!(
                    m.exports.contains(member),
                    "{name}.{member} is not one of {name}'s exports"
                );
            }
            for member in apis
                .resolves
                .iter()
                .filter_map(|r| r.strip_prefix(&format!("{name}.")))
            {
                assert!(
                    m.members.contains_key(member),
                    "resolves: {name}.{member} is no member"
                );
                for call in &apis.resolving {
                    assert!(
                        m.calls.contains(call),
                        "{name}: resolving's {call} not in its calls"
                    );
                }
            }
            for (member, calls) in &m.members {
                for call in calls {
                    assert!(
                        m.calls.contains(call),
                        "{name}.{member}: {call} not in {name}'s calls"
                    );
                }
            }
        }
    }
}
