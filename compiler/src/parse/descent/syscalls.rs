//! `syscalls` blocks: rules, actions and conditions on arguments.

use super::{Parser, Rule, is_upper, run};
use crate::ast::*;
use crate::span::Span;

impl Parser<'_> {
    // ------------------------------------------------------------ syscalls

    /// `syscalls = { kw_syscalls ~ open ~ syscall_item* ~ close }`.
    pub(super) fn syscalls(&mut self) -> Option<Syscalls> {
        self.rule(Rule::syscalls, |p| {
            let start = p.pos;
            p.kw("syscalls")?;
            p.skip();
            let mut base = Vec::new();
            let mut default = Vec::new();
            let mut rules = Vec::new();
            p.block(|p| {
                if let Some(b) = p.rule(Rule::syscall_base, |p| {
                    p.kw("base")?;
                    p.skip();
                    p.ident()
                }) {
                    base.push(b);
                } else if let Some(d) = p.rule(Rule::syscall_default, |p| {
                    p.kw("default")?;
                    p.skip();
                    p.syscall_action()
                }) {
                    default.push(d);
                } else {
                    rules.push(p.syscall_rule()?);
                }
                Some(())
            })?;
            Some(Syscalls {
                base,
                default,
                rules,
                span: p.span(start),
            })
        })
    }

    /// `syscall_action = { kw_allow | kw_deny | kw_log | kw_trace | kw_notify | kw_kill_process |
    /// kw_kill_thread | errno_action }`: the action and its span.
    pub(super) fn syscall_action(&mut self) -> Option<(SyscallAction, Span)> {
        self.rule(Rule::syscall_action, |p| {
            let start = p.pos;
            let words = [
                ("allow", SyscallAction::Allow),
                ("deny", SyscallAction::Deny),
                ("log", SyscallAction::Log),
                ("trace", SyscallAction::Trace),
                ("notify", SyscallAction::Notify),
                ("kill-process", SyscallAction::KillProcess),
                ("kill-thread", SyscallAction::KillThread),
            ];
            let mut action = None;
            for (word, a) in words {
                if p.kw(word).is_some() {
                    action = Some(a);
                    break;
                }
            }
            let action = match action {
                Some(a) => a,
                None => p.rule(Rule::errno_action, |p| {
                    p.kw("errno")?;
                    p.skip();
                    let name = p.atom(Rule::errno_name, |r| match r.first() {
                        Some(&b) if is_upper(b) => {
                            1 + run(r.get(1..).unwrap_or(&[]), |b| {
                                is_upper(b) || b.is_ascii_digit()
                            })
                        }
                        _ => 0,
                    })?;
                    Some(SyscallAction::Errno(name))
                })?,
            };
            Some((action, p.span(start)))
        })
    }

    /// `syscall_rule = { syscall_action ~ (syscall_groups | syscall_names) ~ syscall_condition? }`.
    pub(super) fn syscall_rule(&mut self) -> Option<SyscallRule> {
        self.rule(Rule::syscall_rule, |p| {
            let (action, action_span) = p.syscall_action()?;
            p.skip();
            let (groups, names) = match p.rule(Rule::syscall_groups, |p| {
                p.kw("group")?;
                p.skip();
                p.list(Self::ident)
            }) {
                Some(names) => (true, names),
                None => (
                    false,
                    p.rule(Rule::syscall_names, |p| {
                        p.list(|p| {
                            p.atom(Rule::syscall_name, |r| match r.first() {
                                Some(&b) if b.is_ascii_alphabetic() || b == b'_' => {
                                    1 + run(r.get(1..).unwrap_or(&[]), |b| {
                                        b.is_ascii_alphanumeric() || b == b'_'
                                    })
                                }
                                _ => 0,
                            })
                        })
                    })?,
                ),
            };
            p.skip();
            let conditions = p
                .opt(|p| {
                    p.rule(Rule::syscall_condition, |p| {
                        p.kw("if")?;
                        p.skip();
                        let mut out = vec![p.arg_condition()?];
                        p.skip();
                        p.many(&mut out, |p| {
                            p.kw("and")?;
                            p.skip();
                            p.arg_condition()
                        });
                        Some(out)
                    })
                })
                .unwrap_or_default();
            Some(SyscallRule {
                action,
                action_span,
                groups,
                names,
                conditions,
            })
        })
    }

    /// `arg_condition = { arg_ref ~ arg_op ~ arg_operand }`.
    pub(super) fn arg_condition(&mut self) -> Option<ArgCondition> {
        self.rule(Rule::arg_condition, |p| {
            let start = p.pos;
            let arg = p.atom(Rule::arg_ref, |r| {
                if !r.starts_with(b"arg") {
                    return 0;
                }
                let digits = run(r.get(3..).unwrap_or(&[]), |b| b.is_ascii_digit());
                if digits == 0 { 0 } else { 3 + digits }
            })?;
            p.skip();
            let op = p.rule(Rule::arg_op, |p| {
                let start = p.pos;
                let hit = ["==", "!=", "<=", ">=", "<", ">"].iter().any(|s| p.lit(s))
                    || p.kw("has").is_some()
                    || p.kw("lacks").is_some()
                    || p.kw("in").is_some();
                hit.then(|| p.ident_from(start))
            })?;
            p.skip();
            let values = p.rule(Rule::arg_operand, |p| {
                let listed = p.opt(|p| {
                    if !p.lit("(") {
                        return None;
                    }
                    p.skip();
                    let values = p.list(Self::arg_value)?;
                    p.skip();
                    p.lit(")").then_some(values)
                });
                if listed.is_some() {
                    return listed;
                }
                let mut values = vec![p.arg_value()?];
                p.skip();
                p.many(&mut values, |p| {
                    if !p.lit("|") {
                        return None;
                    }
                    p.skip();
                    p.arg_value()
                });
                Some(values)
            })?;
            Some(ArgCondition {
                arg,
                op,
                values,
                span: p.span(start),
            })
        })
    }

    /// `arg_value = @{ "0x" ~ ASCII_HEX_DIGIT+ | ASCII_DIGIT+ | (ASCII_ALPHA_UPPER | "_") ~
    /// (ASCII_ALPHA_UPPER | ASCII_DIGIT | "_")* }`.
    pub(super) fn arg_value(&mut self) -> Option<Ident> {
        self.atom(Rule::arg_value, |r| {
            if r.starts_with(b"0x") {
                let hex = run(r.get(2..).unwrap_or(&[]), |b| b.is_ascii_hexdigit());
                if hex > 0 {
                    return 2 + hex;
                }
            }
            let digits = run(r, |b| b.is_ascii_digit());
            if digits > 0 {
                return digits;
            }
            match r.first() {
                Some(&b) if is_upper(b) || b == b'_' => {
                    1 + run(r.get(1..).unwrap_or(&[]), |b| {
                        is_upper(b) || b.is_ascii_digit() || b == b'_'
                    })
                }
                _ => 0,
            }
        })
    }
}
