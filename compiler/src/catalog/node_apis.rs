//! `compiler/catalog/node-apis.yaml`: the system calls of Node.js built-in APIs beyond the
//! runtime's own, for `warden infer node`.

use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::OnceLock;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeApis {
    pub node: String,
    pub libc: String,
    pub runtime: Runtime,
    pub widen: Widen,
    pub modules: BTreeMap<String, Module>,
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
    pub native: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Module {
    pub source: String,
    pub calls: Vec<String>,
    #[serde(default)]
    pub members: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    pub probe: Option<String>,
}

impl NodeApis {
    /// The calls of `module` used through `member` (`None`: the module as a whole; a member not
    /// listed counts as the whole module). `None` for a module the catalog does not know.
    pub fn calls(&self, module: &str, member: Option<&str>) -> Option<&[String]> {
        let m = self.modules.get(module)?;
        Some(match member.and_then(|name| m.members.get(name)) {
            Some(calls) => calls,
            None => &m.calls,
        })
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
            serde_yaml::from_str(include_str!("../../catalog/node-apis.yaml"))
                .map_err(|e| format!("compiler/catalog/node-apis.yaml: {e}"))
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
        for group in &apis.runtime.groups {
            assert!(catalog.group(group).is_some(), "no group `{group}`");
        }
        // A member's calls are the module's: a use of the whole module allows at least as much.
        for (name, m) in &apis.modules {
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
