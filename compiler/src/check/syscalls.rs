//! Syscalls: the `syscalls` block of a service, resolved against the catalog's tables, groups,
//! errno names and constants, and Docker's profile for `base docker-default`.
//!
//! ```text
//! syscalls { allow group net-server  allow read, write  deny ptrace }   // accepted
//! syscalls { allow raed  allow group net-sever }                        // E0401, E0403
//! syscalls { errno ENOSYS clone3  allow clone if arg0 has CLONE_THREAD  default kill-process }
//! ```
//!
//! Each call gets the action of the most specific rule that names it: a rule naming the call
//! beats a group, which beats the base profile; among rules equally specific, the most
//! restrictive action wins (denials win). A rule with conditions gives its action only when they
//! hold; otherwise the call gets the default action.

use super::Checker;
use crate::ast;
use crate::catalog::{self, Arch, seccomp as data};
use crate::diag::{Diagnostic, did_you_mean};
use crate::ir::{ArgCmp, BlockOffset, CmpOp, SeccompAction, SyscallEntry, SyscallPolicy};
use crate::span::Span;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Notes that more than one diagnostic gives.
const COMPANIONS: &str = "rules name the calls of x86_64 and aarch64; a 32-bit program on those machines gets the default action (on `base docker-default`, Docker's rules)";
const CONSTANTS: &str = "the constants are the CLONE_*, AF_* and personality values of compiler/catalog/seccomp-constants.tbl; give a number otherwise";

/// The calls every process needs: without them it cannot exit or return from a signal handler.
const ALWAYS_NEEDED: [(&str, &str); 3] = [
    ("exit", "threads end with it"),
    ("exit_group", "processes end with it"),
    (
        "rt_sigreturn",
        "every signal handler returns through it; a handled SIGTERM without it crashes the process",
    ),
];

/// Calls that give a container a way out or into the kernel, with the reason.
pub const DANGEROUS: [(&str, &str); 20] = [
    ("add_key", "the kernel keyring is not namespaced"),
    ("bpf", "loads programs into the kernel"),
    ("delete_module", "unloads kernel modules"),
    ("finit_module", "loads kernel modules"),
    ("init_module", "loads kernel modules"),
    ("iopl", "gives direct access to I/O ports"),
    ("ioperm", "gives direct access to I/O ports"),
    ("kexec_file_load", "replaces the running kernel"),
    ("kexec_load", "replaces the running kernel"),
    ("keyctl", "the kernel keyring is not namespaced"),
    (
        "mount",
        "mounts file systems, the usual first step of an escape",
    ),
    (
        "open_by_handle_at",
        "opens host files by handle (the 'shocker' escape)",
    ),
    (
        "perf_event_open",
        "exposes kernel and other processes' activity",
    ),
    ("pivot_root", "changes the root file system"),
    ("ptrace", "reads and writes other processes' memory"),
    ("reboot", "reboots the machine"),
    ("request_key", "the kernel keyring is not namespaced"),
    ("setns", "joins other namespaces"),
    (
        "unshare",
        "creates namespaces, widening the kernel's attack surface",
    ),
    ("userfaultfd", "a favourite tool of kernel exploits"),
];

/// How restrictive an action is: the most restrictive wins among rules equally specific.
fn severity(a: SeccompAction) -> u8 {
    match a {
        SeccompAction::Allow => 0,
        SeccompAction::Log => 1,
        SeccompAction::Trace => 2,
        SeccompAction::Notify => 3,
        SeccompAction::Errno(_) => 4,
        SeccompAction::KillThread => 5,
        SeccompAction::KillProcess => 6,
    }
}

/// One rule's claim on one call.
struct Claim {
    /// 2: named, 1: by a group.
    specificity: u8,
    action: SeccompAction,
    /// `None`: unconditional; otherwise alternatives, each a conjunction.
    when: Option<Vec<Vec<ArgCmp>>>,
    span: Span,
    group: Option<&'static str>,
}

impl Checker<'_> {
    /// The service's seccomp policy, if it has a `syscalls` block and the block's default is sound.
    pub(super) fn check_syscalls(&mut self, svc: &ast::Service) -> Option<SyscallPolicy> {
        let block = svc.syscalls.first()?;
        for again in svc.syscalls.iter().skip(1) {
            self.diags.push(
                Diagnostic::error(
                    "E0405",
                    format!("service `{}` has two `syscalls` blocks", svc.name.text),
                )
                .primary(again.span, "second block")
                .secondary(block.span, "first block")
                .help("merge them into one block"),
            );
        }
        // What a block resolves to depends on its text alone, and its entries name their rules
        // relative to it: a block of the text of one resolved before, without a finding, shares
        // that one's entries (thousands of services with one block hold one set of entries, not
        // a hundred each). One with a finding is resolved again, so that each block
        // reports its own. Which checker resolves a text first varies with the threads; what it
        // resolves to does not.
        let text = self.sources.text(block.span.file).get(block.span.range());
        let known = |text: &str| {
            let blocks = self.resolved_blocks.lock().ok()?;
            blocks.get(text).map(|known| SyscallPolicy {
                span: block.span,
                ..known.clone()
            })
        };
        if let Some(policy) = text.and_then(known) {
            return Some(policy);
        }
        let findings = self.diags.len();
        let policy = self.resolve_block(block)?;
        if self.diags.len() == findings
            && let Some(text) = text
            && let Ok(mut blocks) = self.resolved_blocks.lock()
        {
            blocks.insert(text.to_string(), policy.clone());
        }
        Some(policy)
    }

    fn resolve_block(&mut self, block: &ast::Syscalls) -> Option<SyscallPolicy> {
        let docker_base = self.syscall_base(block);
        let default = match block.default.as_slice() {
            [] => Some(SeccompAction::Errno(1)),
            [(action, span), rest @ ..] => {
                for (_, again) in rest {
                    self.diags.push(
                        Diagnostic::error("E0505", "`default` is given twice")
                            .primary(*again, "second `default`")
                            .secondary(*span, "first `default`"),
                    );
                }
                self.seccomp_action(action)
            }
        };
        let cat = catalog::get();
        // Every rule's claim on every call it names, grouped by call below: a block of a few
        // groups claims hundreds of calls, and a vector sorted once costs a fraction of a map
        // with a vector per call.
        let mut claims: Vec<(&'static str, Claim)> = Vec::new();
        for rule in &block.rules {
            let action = self.seccomp_action(&rule.action);
            let when = self.arg_conditions(&rule.conditions);
            if rule.groups && !rule.conditions.is_empty() {
                let at = rule.conditions.first().map_or(rule.action_span, |c| c.span);
                let note = "each call has its own arguments: `arg0` of `socket` is a family, of `clone` a set of flags";
                self.diags.push(
                    Diagnostic::error("E0409", "conditions apply to calls named, not to groups")
                        .primary(at, "a condition on a group")
                        .note(note)
                        .help("name the calls the condition is about in a rule of their own"),
                );
                continue;
            }
            let (Some(action), Some(when)) = (action, when) else {
                continue;
            };
            let when = (!rule.conditions.is_empty()).then_some(when);
            for name in &rule.names {
                if rule.groups {
                    match cat.group(&name.text) {
                        Some((group, members)) => {
                            for m in members {
                                claims.push((
                                    m,
                                    Claim {
                                        specificity: 1,
                                        action,
                                        when: when.clone(),
                                        span: name.span,
                                        group: Some(group),
                                    },
                                ));
                            }
                        }
                        None => {
                            let mut d = Diagnostic::error(
                                "E0403",
                                format!("unknown syscall group `{}`", name.text),
                            )
                            .primary(name.span, "no group has this name");
                            d = match did_you_mean(&name.text, cat.group_names()) {
                                Some(hint) => d.help(hint),
                                None => {
                                    let all: Vec<String> =
                                        cat.group_names().map(|g| format!("`{g}`")).collect();
                                    d.note(format!("the groups are {}", all.join(", ")))
                                }
                            };
                            self.diags.push(d);
                        }
                    }
                    continue;
                }
                if !self.known_syscall(name) {
                    continue;
                }
                let Some(name_in_catalog) = cat.syscall(&name.text) else {
                    continue;
                };
                claims.push((
                    name_in_catalog,
                    Claim {
                        specificity: 2,
                        action,
                        when: when.clone(),
                        span: name.span,
                        group: None,
                    },
                ));
            }
        }
        let entries = self.resolve(claims, block.span);
        let policy = SyscallPolicy {
            docker_base,
            default: default?,
            entries: Arc::new(entries),
            span: block.span,
        };
        self.syscall_lints(block, &policy);
        Some(policy)
    }

    /// `base docker-default` (the one base there is), once.
    fn syscall_base(&mut self, block: &ast::Syscalls) -> bool {
        let mut docker = false;
        for (i, base) in block.base.iter().enumerate() {
            if i > 0 {
                self.diags.push(
                    Diagnostic::error("E0505", "`base` is given twice")
                        .primary(base.span, "second `base`")
                        .help("a profile starts from one base"),
                );
                continue;
            }
            if base.text == "docker-default" {
                docker = true;
            } else {
                let mut d = Diagnostic::error(
                    "E0408",
                    format!("unknown base profile `{}`", base.text),
                )
                .primary(base.span, "not a base warden has")
                .note("the base is `docker-default`, Docker's default profile (compiler/catalog/seccomp/)");
                if let Some(hint) = did_you_mean(&base.text, ["docker-default"]) {
                    d = d.help(hint);
                }
                self.diags.push(d);
            }
        }
        docker
    }

    /// A name of the x86_64 or aarch64 table; W0402 when it is on one only.
    fn known_syscall(&mut self, name: &ast::Ident) -> bool {
        let cat = catalog::get();
        let arches = cat.arches_of(&name.text);
        if arches.is_empty() {
            let companions = cat.companions_of(&name.text);
            let label = if companions.is_empty() {
                "not a system call on x86_64 or aarch64".to_string()
            } else {
                format!(
                    "a system call of 32-bit {} only, not of x86_64 or aarch64",
                    companions.join(" and ")
                )
            };
            let mut d = Diagnostic::error("E0401", format!("unknown system call `{}`", name.text))
                .primary(name.span, label);
            if !companions.is_empty() {
                d = d.note(COMPANIONS);
            }
            if let Some(hint) = did_you_mean(&name.text, cat.all_names()) {
                d = d.help(hint);
            }
            self.diags.push(d);
            return false;
        }
        if arches.len() < Arch::ALL.len() {
            let missing: Vec<&str> = Arch::ALL
                .iter()
                .filter(|a| !arches.contains(a))
                .map(|a| a.name())
                .collect();
            let headline = format!(
                "`{}` is not a system call on {}",
                name.text,
                missing.join(", ")
            );
            let note = "programs built for that architecture use another call for the same job (aarch64 has `openat` for `open`, `clone` for `fork`)";
            self.diags.push(
                Diagnostic::warning("W0402", headline)
                    .primary(name.span, "this rule has no effect there")
                    .note(note),
            );
        }
        true
    }

    fn seccomp_action(&mut self, action: &ast::SyscallAction) -> Option<SeccompAction> {
        Some(match action {
            ast::SyscallAction::Allow => SeccompAction::Allow,
            ast::SyscallAction::Deny => SeccompAction::Errno(1),
            ast::SyscallAction::KillProcess => SeccompAction::KillProcess,
            ast::SyscallAction::KillThread => SeccompAction::KillThread,
            ast::SyscallAction::Log => SeccompAction::Log,
            ast::SyscallAction::Trace => SeccompAction::Trace,
            ast::SyscallAction::Notify => SeccompAction::Notify,
            ast::SyscallAction::Errno(name) => match data::errnos().get(&name.text) {
                Some(n) => SeccompAction::Errno(u16::try_from(*n).unwrap_or(1)),
                None => {
                    let mut d =
                        Diagnostic::error("E0406", format!("unknown errno `{}`", name.text))
                            .primary(name.span, "not a Linux errno name");
                    if let Some(hint) =
                        did_you_mean(&name.text, data::errnos().keys().map(String::as_str))
                    {
                        d = d.help(hint);
                    }
                    self.diags.push(d);
                    return None;
                }
            },
        })
    }

    /// The conditions of a rule as alternatives (each a conjunction): `in (a, b)` is one
    /// alternative per value.
    fn arg_conditions(&mut self, conditions: &[ast::ArgCondition]) -> Option<Vec<Vec<ArgCmp>>> {
        let mut alternatives: Vec<Vec<ArgCmp>> = vec![Vec::new()];
        let mut ok = true;
        for c in conditions {
            let index = c
                .arg
                .text
                .strip_prefix("arg")
                .and_then(|d| d.parse::<u8>().ok())
                .filter(|i| *i <= 5);
            let Some(index) = index else {
                self.diags.push(
                    Diagnostic::error("E0407", format!("no argument `{}`", c.arg.text)).primary(
                        c.arg.span,
                        "system calls have six arguments, `arg0` to `arg5`",
                    ),
                );
                ok = false;
                continue;
            };
            let mut values = Vec::new();
            for v in &c.values {
                match self.arg_value(v) {
                    Some(n) => values.push(n),
                    None => ok = false,
                }
            }
            if values.len() != c.values.len() {
                continue;
            }
            let single = |cx: &mut Checker<'_>| -> Option<u64> {
                match values.as_slice() {
                    [one] => Some(*one),
                    _ => {
                        cx.diags.push(
                            Diagnostic::error("E0407", format!("`{}` takes one value", c.op.text))
                                .primary(c.span, "several values")
                                .help(
                                    "`in (A, B)` for any of several values, `has A | B` for flags",
                                ),
                        );
                        None
                    }
                }
            };
            let mask = values.iter().fold(0u64, |m, v| m | v);
            let cmps: Vec<ArgCmp> = match c.op.text.as_str() {
                "in" => values
                    .iter()
                    .map(|v| ArgCmp {
                        index,
                        op: CmpOp::Eq,
                        value: *v,
                        value_two: 0,
                    })
                    .collect(),
                "has" => vec![ArgCmp {
                    index,
                    op: CmpOp::MaskedEq,
                    value: mask,
                    value_two: mask,
                }],
                "lacks" => vec![ArgCmp {
                    index,
                    op: CmpOp::MaskedEq,
                    value: mask,
                    value_two: 0,
                }],
                op => {
                    let Some(value) = single(self) else {
                        ok = false;
                        continue;
                    };
                    let op = match op {
                        "==" => CmpOp::Eq,
                        "!=" => CmpOp::Ne,
                        "<" => CmpOp::Lt,
                        "<=" => CmpOp::Le,
                        ">" => CmpOp::Gt,
                        _ => CmpOp::Ge,
                    };
                    vec![ArgCmp {
                        index,
                        op,
                        value,
                        value_two: 0,
                    }]
                }
            };
            // Each alternative so far, extended by each of this condition's alternatives.
            alternatives = alternatives
                .iter()
                .flat_map(|alt| {
                    cmps.iter().map(move |cmp| {
                        let mut a = alt.clone();
                        a.push(*cmp);
                        a
                    })
                })
                .collect();
            if alternatives.len() > 64 {
                self.diags.push(
                    Diagnostic::error("E0407", "too many alternatives")
                        .primary(c.span, "the `in` lists multiply into more than 64 rules")
                        .help("split the rule"),
                );
                return None;
            }
        }
        for alt in &mut alternatives {
            alt.sort();
            alt.dedup();
        }
        alternatives.sort();
        alternatives.dedup();
        ok.then_some(alternatives)
    }

    /// A number (decimal or `0x…`) or a constant of the catalog.
    fn arg_value(&mut self, v: &ast::Ident) -> Option<u64> {
        let parsed = match v.text.strip_prefix("0x") {
            Some(hex) => u64::from_str_radix(hex, 16).ok(),
            None if v.text.starts_with(|c: char| c.is_ascii_digit()) => v.text.parse().ok(),
            None => {
                let found = data::constants().get(&v.text).copied();
                if found.is_none() {
                    let mut d =
                        Diagnostic::error("E0407", format!("unknown constant `{}`", v.text))
                            .primary(v.span, "not a constant warden knows");
                    if let Some(hint) =
                        did_you_mean(&v.text, data::constants().keys().map(String::as_str))
                    {
                        d = d.help(hint);
                    } else {
                        d = d.note(CONSTANTS);
                    }
                    self.diags.push(d);
                }
                return found;
            }
        };
        if parsed.is_none() {
            self.diags.push(
                Diagnostic::error("E0407", format!("`{}` is not a 64-bit number", v.text))
                    .primary(v.span, "out of range"),
            );
        }
        parsed
    }

    /// Each call's entry: the most specific claims, the most restrictive action among them; the
    /// first claim in rule order names the rule that decided it.
    fn resolve(
        &mut self,
        mut claims: Vec<(&'static str, Claim)>,
        block: Span,
    ) -> BTreeMap<&'static str, SyscallEntry> {
        // Stable: each call's claims stay in rule order.
        claims.sort_by_key(|(name, _)| *name);
        let mut entries = Vec::new();
        for run in claims.chunk_by(|a, b| a.0 == b.0) {
            let Some(name) = run.first().map(|(name, _)| *name) else {
                continue;
            };
            let Some(top) = run.iter().map(|(_, c)| c.specificity).max() else {
                continue;
            };
            let top: Vec<&Claim> = run
                .iter()
                .map(|(_, c)| c)
                .filter(|c| c.specificity == top)
                .collect();
            let Some(action) = top.iter().map(|c| c.action).max_by_key(|a| severity(*a)) else {
                continue;
            };
            if let (Some(allow), Some(deny)) = (
                top.iter()
                    .find(|c| c.group.is_none() && c.action == SeccompAction::Allow),
                top.iter().find(|c| c.group.is_none() && !c.action.runs()),
            ) {
                self.diags.push(
                    Diagnostic::warning("W0404", format!("`{name}` is both allowed and denied"))
                        .primary(deny.span, "denied here, and the denial wins")
                        .secondary(allow.span, "allowed here"),
                );
            }
            let chosen: Vec<&&Claim> = top.iter().filter(|c| c.action == action).collect();
            let when = if chosen.iter().any(|c| c.when.is_none()) {
                Vec::new()
            } else {
                let mut w: Vec<Vec<ArgCmp>> = chosen
                    .iter()
                    .flat_map(|c| c.when.clone().unwrap_or_default())
                    .collect();
                w.sort();
                w.dedup();
                w
            };
            let Some(first) = chosen.first() else {
                continue;
            };
            entries.push((
                name,
                SyscallEntry {
                    action,
                    when,
                    // A rule's names are inside its block.
                    rule: BlockOffset {
                        start: first.span.start.saturating_sub(block.start),
                        end: first.span.end.saturating_sub(block.start),
                    },
                    group: first.group,
                },
            ));
        }
        // In order already: the map is built in one pass.
        entries.into_iter().collect()
    }

    fn syscall_lints(&mut self, block: &ast::Syscalls, policy: &SyscallPolicy) {
        let entries = &policy.entries;
        let runs = |name: &str| match entries.get(name) {
            Some(e) => e.action.runs(),
            None => {
                policy.default.runs()
                    || (policy.docker_base && data::docker_names().contains(&name))
            }
        };
        let missing: Vec<(&str, &str)> = ALWAYS_NEEDED
            .iter()
            .copied()
            .filter(|(n, _)| !runs(n))
            .collect();
        if !missing.is_empty() {
            // The block's `syscalls` keyword: the profile as a whole lacks them.
            let keyword = Span::new(
                block.span.file,
                block.span.start,
                block.span.start + "syscalls".len(),
            );
            let names: Vec<String> = missing.iter().map(|(n, _)| format!("`{n}`")).collect();
            let mut d = Diagnostic::warning("W0410", format!("{} not allowed", names.join(", ")))
                .primary(keyword, "every process needs them");
            for (name, why) in &missing {
                d = d.note(format!("`{name}`: {why}"));
            }
            self.diags
                .push(d.help("allow them (the group `runtime-core` has them)"));
        }
        for (name, why) in DANGEROUS {
            if let Some(e) = entries.get(name)
                && e.action.runs()
            {
                let by = e.group.as_ref().map_or_else(
                    || "allowed here".to_string(),
                    |g| format!("allowed by group `{g}`"),
                );
                self.diags.push(
                    Diagnostic::warning(
                        "W0411",
                        format!("dangerous system call `{name}` is allowed"),
                    )
                    .primary(policy.rule_span(e), by)
                    .note(format!("`{name}` {why}"))
                    .help(format!("`deny {name}` unless the workload truly needs it")),
                );
            }
        }
        if let Some(e) = entries.get("clone3")
            && e.action.runs()
        {
            let label =
                "seccomp cannot see clone3's flags: it allows fork and new namespaces alike";
            let help = "`errno ENOSYS clone3` makes glibc fall back to `clone`, which `allow clone if arg0 has CLONE_THREAD` limits to threads";
            self.diags.push(
                Diagnostic::warning("W0412", "`clone3` is allowed")
                    .primary(policy.rule_span(e), label)
                    .help(help),
            );
        }
    }
}
