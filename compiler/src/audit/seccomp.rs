//! The seccomp part of an audit: per service, how many x86_64 system calls its profile lets run
//! against Docker's default profile, the dangerous ones it allows and why, its default action.

use super::{GeneratedRef, Places};
use crate::catalog::{self, Arch};
use crate::ir::{Program, SeccompAction, SyscallPolicy};
use serde::Serialize;
use std::collections::BTreeSet;
use std::sync::OnceLock;

#[derive(Serialize)]
pub struct Profile {
    pub service: String,
    pub declared: String,
    pub default_action: String,
    /// Based on Docker's default profile (`base docker-default`).
    pub docker_base: bool,
    /// x86_64 system calls the profile lets run, in whole or for some arguments.
    pub allowed_x86_64: usize,
    /// The same count for Docker's default profile.
    pub docker_default_x86_64: usize,
    /// How many fewer calls than Docker's default, in per cent of it (negative: more).
    pub reduction_percent: f64,
    pub dangerous: Vec<Dangerous>,
    pub profiles: Vec<GeneratedRef>,
}

#[derive(Serialize, Clone)]
pub struct Dangerous {
    pub call: String,
    pub why: String,
}

/// The capabilities Docker (and containerd) give a container by default: the rules of Docker's
/// profile that need one of them apply.
use crate::lower::spo::DEFAULT_CAPS as DEFAULT_CAPABILITIES;

/// The x86_64 system calls Docker's default profile lets run (some for some arguments only) in a
/// container with the default capabilities: 309 with the profile in the catalog.
pub fn docker_allowed() -> &'static BTreeSet<String> {
    static T: OnceLock<BTreeSet<String>> = OnceLock::new();
    T.get_or_init(|| {
        let x86_64 = catalog::get().table(Arch::X86_64);
        let strings = |v: &serde_json::Value| -> Vec<String> {
            v.as_array()
                .into_iter()
                .flatten()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        };
        let mut out = BTreeSet::new();
        let profile = catalog::seccomp::docker_default();
        for rule in profile["syscalls"].as_array().into_iter().flatten() {
            if rule["action"].as_str() != Some("SCMP_ACT_ALLOW") {
                continue;
            }
            let (inc, exc) = (&rule["includes"], &rule["excludes"]);
            let arches = strings(&inc["arches"]);
            let caps = strings(&inc["caps"]);
            let applies = (arches.is_empty() || arches.iter().any(|a| a == "amd64"))
                && caps
                    .iter()
                    .all(|c| DEFAULT_CAPABILITIES.contains(&c.as_str()))
                && !strings(&exc["arches"]).iter().any(|a| a == "amd64")
                && !strings(&exc["caps"])
                    .iter()
                    .any(|c| DEFAULT_CAPABILITIES.contains(&c.as_str()));
            if applies {
                out.extend(
                    strings(&rule["names"])
                        .into_iter()
                        .filter(|n| x86_64.is_some_and(|t| t.contains_key(n))),
                );
            }
        }
        out
    })
}

/// Whether the profile lets `name` run, in whole or for some arguments.
fn runs(policy: &SyscallPolicy, name: &str) -> bool {
    match policy.entries.get(name) {
        Some(e) => e.action.runs() || (!e.when.is_empty() && policy.default.runs()),
        None if policy.docker_base => docker_allowed().contains(name),
        None => policy.default.runs(),
    }
}

pub fn action_text(action: SeccompAction) -> String {
    match action {
        SeccompAction::Allow => "allow".to_string(),
        SeccompAction::Errno(n) => {
            let name = catalog::seccomp::errnos()
                .iter()
                .find(|(_, v)| **v == u64::from(n))
                .map_or_else(|| n.to_string(), |(k, _)| k.clone());
            format!("errno {name}")
        }
        SeccompAction::KillProcess => "kill-process".to_string(),
        SeccompAction::KillThread => "kill-thread".to_string(),
        SeccompAction::Log => "log".to_string(),
        SeccompAction::Trace => "trace".to_string(),
        SeccompAction::Notify => "notify".to_string(),
    }
}

pub fn profiles(program: &Program, places: &Places<'_>) -> Vec<Profile> {
    let docker = docker_allowed().len();
    let names: Vec<&String> = catalog::get()
        .table(Arch::X86_64)
        .map(|t| t.keys().collect())
        .unwrap_or_default();
    // Blocks of the same text share one map of entries: their counts are made once.
    type Key = (usize, SeccompAction, bool);
    let mut made: std::collections::BTreeMap<Key, (usize, Vec<Dangerous>)> =
        std::collections::BTreeMap::new();
    program
        .services
        .values()
        .filter_map(|s| s.syscalls.as_ref().map(|p| (s, p)))
        .map(|(s, policy)| {
            let key = (
                std::sync::Arc::as_ptr(&policy.entries) as usize,
                policy.default,
                policy.docker_base,
            );
            let (allowed, dangerous) = made
                .entry(key)
                .or_insert_with(|| {
                    let allowed = names.iter().filter(|n| runs(policy, n)).count();
                    let dangerous = crate::check::DANGEROUS_SYSCALLS
                        .iter()
                        .filter(|(name, _)| runs(policy, name))
                        .map(|(name, why)| Dangerous {
                            call: (*name).to_string(),
                            why: (*why).to_string(),
                        })
                        .collect();
                    (allowed, dangerous)
                })
                .clone();
            let reduction = if docker == 0 {
                0.0
            } else {
                let fewer = docker as f64 - allowed as f64;
                (1000.0 * fewer / docker as f64).round() / 10.0
            };
            Profile {
                service: s.id.to_string(),
                declared: places.at(policy.span),
                default_action: action_text(policy.default),
                docker_base: policy.docker_base,
                allowed_x86_64: allowed,
                docker_default_x86_64: docker,
                reduction_percent: reduction,
                dangerous,
                profiles: places
                    .generated(&[policy.span])
                    .into_iter()
                    .filter(|g| g.path.ends_with(".json") || g.path.starts_with("spo"))
                    .collect(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn docker_default_allows_309_calls_on_x86_64() {
        assert_eq!(super::docker_allowed().len(), 309);
    }
}
