//! Syscalls: the `syscalls` block of a service, resolved against the catalog's tables and groups.
//!
//! ```text
//! syscalls { allow group net-server  allow read, write  deny ptrace }   // accepted
//! syscalls { allow raed  allow group net-sever }                        // E0401, E0403
//! ```
//! Denials win: a name denied is never allowed, whichever group brought it in.

use super::Checker;
use crate::ast;
use crate::catalog::{self, Arch};
use crate::diag::{Diagnostic, did_you_mean};
use crate::ir::{ServiceId, SyscallPolicy};
use std::collections::{BTreeMap, BTreeSet};

impl Checker<'_> {
    pub(super) fn check_syscalls(&mut self, svc: &ast::Service, id: &ServiceId) {
        let Some(block) = svc.syscalls.first() else {
            return;
        };
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
        let cat = catalog::get();
        let mut allowed = BTreeSet::new();
        let mut denied = BTreeSet::new();
        let mut named_allow: BTreeMap<String, crate::span::Span> = BTreeMap::new();
        let mut named_deny: BTreeMap<String, crate::span::Span> = BTreeMap::new();
        for rule in &block.rules {
            let into = match rule.action {
                ast::SyscallAction::Allow => &mut allowed,
                ast::SyscallAction::Deny => &mut denied,
            };
            for name in &rule.names {
                if rule.groups {
                    match cat.group(&name.text) {
                        Some(members) => into.extend(members.iter().cloned()),
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
                let arches = cat.arches_of(&name.text);
                if arches.is_empty() {
                    let mut d =
                        Diagnostic::error("E0401", format!("unknown system call `{}`", name.text))
                            .primary(name.span, "not a system call on x86_64 or aarch64");
                    if let Some(hint) = did_you_mean(&name.text, cat.all_names()) {
                        d = d.help(hint);
                    }
                    self.diags.push(d);
                    continue;
                }
                if arches.len() < Arch::ALL.len() {
                    let missing: Vec<&str> = Arch::ALL
                        .iter()
                        .filter(|a| !arches.contains(a))
                        .map(|a| a.name())
                        .collect();
                    self.diags.push(
                        Diagnostic::warning("W0402", format!("`{}` is not a system call on {}", name.text, missing.join(", ")))
                            .primary(name.span, "this rule has no effect there")
                            .note("programs built for that architecture use another call for the same job (aarch64 has `openat` for `open`, `clone` for `fork`)"),
                    );
                }
                into.insert(name.text.clone());
                let seen = match rule.action {
                    ast::SyscallAction::Allow => &mut named_allow,
                    ast::SyscallAction::Deny => &mut named_deny,
                };
                seen.entry(name.text.clone()).or_insert(name.span);
            }
        }
        for (name, span) in &named_deny {
            if let Some(allow) = named_allow.get(name) {
                self.diags.push(
                    Diagnostic::warning("W0404", format!("`{name}` is both allowed and denied"))
                        .primary(*span, "denied here, and the denial wins")
                        .secondary(*allow, "allowed here"),
                );
            }
        }
        let allowed: BTreeSet<String> = allowed.difference(&denied).cloned().collect();
        if let Some(s) = self.services.get_mut(id) {
            s.syscalls = Some(SyscallPolicy {
                allowed,
                denied,
                span: block.span,
            });
        }
    }
}
