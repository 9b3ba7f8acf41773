//! Target `seccomp`: one seccomp profile per service with a `syscalls` block, in the profile
//! format kubelet's runtimes read for `localhost/` profiles (Docker's: `archMap`, rules with
//! `args`, `includes`/`excludes`; see `targets/seccomp/README.md`).
//!
//! A profile on `base docker-default` is Docker's rules (the x86_64 and aarch64 parts), less the
//! calls the block decides itself, then the block's rules. Otherwise the architectures are x86_64
//! and aarch64 alone, so 32-bit calls on those machines get the default action.

use super::render::{push_json, push_quoted};
use super::{Document, Lowering, Schema, VERSION};
use crate::catalog::{Arch, seccomp as data};
use crate::ir::{ArgCmp, Program, SeccompAction, Service, SyscallPolicy};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

pub(super) struct ProfileView {
    pub default_action: &'static str,
    pub default_errno: Option<u16>,
    pub arch_map: Vec<ArchView>,
    pub rules: Vec<RuleView>,
}

pub(super) struct ArchView {
    pub architecture: String,
    pub sub: Vec<String>,
}

pub(super) struct RuleView {
    pub names: Vec<String>,
    pub action: &'static str,
    pub errno: Option<u16>,
    pub args: Vec<ArgView>,
    pub includes: Option<serde_json::Value>,
    pub excludes: Option<serde_json::Value>,
    /// `None` for the block's own rules: their comment names the service, which `write` is given,
    /// so that services with one policy share one view.
    pub comment: Option<String>,
}

pub(super) struct ArgView {
    pub index: u8,
    pub value: u64,
    pub value_two: u64,
    pub op: &'static str,
}

fn errno(a: SeccompAction) -> Option<u16> {
    match a {
        SeccompAction::Errno(n) => Some(n),
        _ => None,
    }
}

fn arg_view(a: &ArgCmp) -> ArgView {
    ArgView {
        index: a.index,
        value: a.value,
        value_two: a.value_two,
        op: a.op.scmp(),
    }
}

/// Docker's architectures for the machines warden targets.
const DOCKER_ARCHES: [&str; 2] = ["SCMP_ARCH_X86_64", "SCMP_ARCH_AARCH64"];

/// Docker's rules less the calls the block decides, and its architecture map.
fn docker_rules(policy: &SyscallPolicy) -> Result<(Vec<ArchView>, Vec<RuleView>), String> {
    let docker = data::docker_default();
    let rules = docker["syscalls"]
        .as_array()
        .ok_or("the catalog's docker-default.json has no rules")?;
    let arch_map = docker["archMap"]
        .as_array()
        .ok_or("the catalog's docker-default.json has no archMap")?
        .iter()
        .filter_map(|a| {
            let arch = a["architecture"].as_str()?;
            DOCKER_ARCHES.contains(&arch).then(|| ArchView {
                architecture: arch.to_string(),
                sub: a["subArchitectures"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|s| s.as_str().map(str::to_string))
                    .collect(),
            })
        })
        .collect();
    let mut out = Vec::new();
    for r in rules {
        let names: Vec<String> = r["names"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|n| n.as_str())
            .filter(|n| !policy.entries.contains_key(*n))
            .map(str::to_string)
            .collect();
        if names.is_empty() {
            continue;
        }
        let action = match r["action"].as_str() {
            Some("SCMP_ACT_ALLOW") => SeccompAction::Allow,
            Some("SCMP_ACT_ERRNO") => SeccompAction::Errno(
                r["errnoRet"]
                    .as_u64()
                    .and_then(|n| u16::try_from(n).ok())
                    .unwrap_or(1),
            ),
            other => return Err(format!("docker-default.json: unexpected action {other:?}")),
        };
        let mut args = Vec::new();
        for a in r["args"].as_array().into_iter().flatten() {
            let op = match a["op"].as_str() {
                Some("SCMP_CMP_NE") => "SCMP_CMP_NE",
                Some("SCMP_CMP_LT") => "SCMP_CMP_LT",
                Some("SCMP_CMP_LE") => "SCMP_CMP_LE",
                Some("SCMP_CMP_EQ") => "SCMP_CMP_EQ",
                Some("SCMP_CMP_GE") => "SCMP_CMP_GE",
                Some("SCMP_CMP_GT") => "SCMP_CMP_GT",
                Some("SCMP_CMP_MASKED_EQ") => "SCMP_CMP_MASKED_EQ",
                other => return Err(format!("docker-default.json: unexpected op {other:?}")),
            };
            args.push(ArgView {
                index: a["index"]
                    .as_u64()
                    .and_then(|i| u8::try_from(i).ok())
                    .ok_or("docker-default.json: an argument without an index")?,
                value: a["value"].as_u64().unwrap_or(0),
                value_two: a["valueTwo"].as_u64().unwrap_or(0),
                op,
            });
        }
        let non_empty = |v: &serde_json::Value| {
            v.as_object()
                .is_some_and(|o| !o.is_empty())
                .then(|| v.clone())
        };
        out.push(RuleView {
            names,
            action: action.scmp(),
            errno: errno(action),
            args,
            includes: non_empty(&r["includes"]),
            excludes: non_empty(&r["excludes"]),
            comment: Some(match r["comment"].as_str() {
                Some(c) if !c.is_empty() => format!("base docker-default: {c}"),
                _ => "base docker-default".to_string(),
            }),
        });
    }
    Ok((arch_map, out))
}

/// The block's own rules: one per action and condition set, names sorted.
fn own_rules(policy: &SyscallPolicy) -> Vec<RuleView> {
    let mut by: BTreeMap<(SeccompAction, Vec<ArgCmp>), BTreeSet<&str>> = BTreeMap::new();
    for (name, e) in policy.entries.iter() {
        if e.when.is_empty() {
            by.entry((e.action, Vec::new())).or_default().insert(name);
        }
        for alt in &e.when {
            by.entry((e.action, alt.clone())).or_default().insert(name);
        }
    }
    by.into_iter()
        .map(|((action, args), names)| RuleView {
            names: names.into_iter().map(str::to_string).collect(),
            action: action.scmp(),
            errno: errno(action),
            args: args.iter().map(arg_view).collect(),
            includes: None,
            excludes: None,
            comment: None,
        })
        .collect()
}

/// The profile of a policy, as the `localhost/` format holds it.
fn profile(policy: &SyscallPolicy) -> Result<ProfileView, String> {
    let (arch_map, mut rules) = if policy.docker_base {
        docker_rules(policy)?
    } else {
        let arch_map = Arch::ALL
            .iter()
            .map(|a| ArchView {
                architecture: a.scmp().to_string(),
                sub: Vec::new(),
            })
            .collect();
        (arch_map, Vec::new())
    };
    rules.extend(own_rules(policy));
    Ok(ProfileView {
        default_action: policy.default.scmp(),
        default_errno: errno(policy.default),
        arch_map,
        rules,
    })
}

/// The services with a `syscalls` block, each with its policy: one profile each, in `seccomp`
/// and in `spo`.
pub(super) fn confined(program: &Program) -> Vec<(&Service, &SyscallPolicy)> {
    program
        .services
        .values()
        .filter_map(|svc| Some((svc, svc.syscalls.as_ref()?)))
        .collect()
}

/// The profile of each of `confined`'s services, in order. Blocks of one text share their entries
/// (`SyscallPolicy::entries`), so a profile is built once for all of them rather than for every
/// service.
pub(super) fn profiles(
    confined: &[(&Service, &SyscallPolicy)],
) -> Result<Vec<Arc<ProfileView>>, String> {
    // The entries' address: blocks of one text share the map (the program outlives this).
    type Key = (usize, bool, SeccompAction);
    let key = |p: &SyscallPolicy| (Arc::as_ptr(&p.entries).addr(), p.docker_base, p.default);
    let mut distinct: BTreeMap<Key, &SyscallPolicy> = BTreeMap::new();
    for &(_, policy) in confined {
        distinct.entry(key(policy)).or_insert(policy);
    }
    let distinct: Vec<_> = distinct.into_iter().collect();
    let built = crate::parallel::map(&distinct, |&(k, policy)| {
        Ok((k, Arc::new(profile(policy)?)))
    });
    let built: BTreeMap<Key, Arc<ProfileView>> =
        built.into_iter().collect::<Result<_, String>>()?;
    confined
        .iter()
        .map(|&(_, policy)| {
            let view = built
                .get(&key(policy))
                .ok_or("a policy without its profile")?;
            Ok(Arc::clone(view))
        })
        .collect()
}

pub(super) fn lower(cx: &Lowering<'_>) -> Result<Vec<Document>, String> {
    let confined = confined(cx.program);
    let services: Vec<_> = confined.iter().zip(profiles(&confined)?).collect();
    crate::parallel::map(&services, |&(&(svc, policy), ref view)| {
        let comment = format!(
            "warden {VERSION}: system calls of service {} from {}",
            svc.id,
            cx.location(policy.span)
        );
        Ok(Document {
            path: format!("seccomp/{}/{}.json", svc.id.namespace, svc.id.name),
            text: write(view, &comment)?,
            schema: Schema::SeccompProfile,
            sources: vec![cx.file(policy.span)],
            origin: Some(policy.span),
        })
    })
    .into_iter()
    .collect()
}

// Like NetworkPolicies, profiles are one per service, and each lists a hundred or more calls: they
// are written here rather than by a template, which took most of lowering's time. The text is
// Docker's profile layout, every string through the templates' quoting (`push_quoted`, JSON
// escapes), and `validate` parses every profile back against its schema as before
// (`tests/compiler/template_defects.rs` breaks this writer on purpose).

/// The profile as JSON, ending with one newline; `comment` is the own rules' comment.
fn write(v: &ProfileView, comment: &str) -> Result<String, String> {
    use std::fmt::Write;
    let q = |out: &mut String, s: &str| push_quoted(out, s, false);
    let mut o = String::with_capacity(4096);
    o.push_str("{\n  \"defaultAction\": ");
    q(&mut o, v.default_action);
    o.push(',');
    if let Some(errno) = v.default_errno {
        let _ = write!(o, "\n  \"defaultErrnoRet\": {errno},");
    }
    o.push_str("\n  \"archMap\": [");
    for (i, a) in v.arch_map.iter().enumerate() {
        o.push_str("\n    {\n      \"architecture\": ");
        q(&mut o, &a.architecture);
        o.push_str(",\n      \"subArchitectures\": [");
        for (j, sub) in a.sub.iter().enumerate() {
            if j > 0 {
                o.push_str(", ");
            }
            q(&mut o, sub);
        }
        o.push_str("]\n    }");
        if i + 1 < v.arch_map.len() {
            o.push(',');
        }
    }
    o.push_str("\n  ],\n  \"syscalls\": [");
    for (i, r) in v.rules.iter().enumerate() {
        o.push_str("\n    {\n      \"names\": [");
        for (j, name) in r.names.iter().enumerate() {
            o.push_str("\n        ");
            q(&mut o, name);
            if j + 1 < r.names.len() {
                o.push(',');
            }
        }
        o.push_str("\n      ],\n      \"action\": ");
        q(&mut o, r.action);
        o.push(',');
        if let Some(errno) = r.errno {
            let _ = write!(o, "\n      \"errnoRet\": {errno},");
        }
        if !r.args.is_empty() {
            o.push_str("\n      \"args\": [");
            for (j, a) in r.args.iter().enumerate() {
                let _ = write!(
                    o,
                    "\n        {{\"index\": {}, \"value\": {}, \"valueTwo\": {}, \"op\": ",
                    a.index, a.value, a.value_two
                );
                q(&mut o, a.op);
                o.push('}');
                if j + 1 < r.args.len() {
                    o.push(',');
                }
            }
            o.push_str("\n      ],");
        }
        for (key, value) in [("includes", &r.includes), ("excludes", &r.excludes)] {
            if let Some(value) = value {
                let _ = write!(o, "\n      \"{key}\": ");
                push_json(&mut o, value, false)?;
                o.push(',');
            }
        }
        o.push_str("\n      \"comment\": ");
        q(&mut o, r.comment.as_deref().unwrap_or(comment));
        o.push_str("\n    }");
        if i + 1 < v.rules.len() {
            o.push(',');
        }
    }
    o.push_str("\n  ]\n}\n");
    Ok(o)
}
