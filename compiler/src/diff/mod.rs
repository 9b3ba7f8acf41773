//! `warden diff OLD NEW`: what a change to a program does, for the review of a pull request:
//! connections added and removed, system calls whose action changed, admission rules added,
//! removed or relaxed, waivers and exemptions added, extended or ending, claimed controls that
//! stand differently, expectations that hold or fail differently. Each change says whether it
//! widens what is allowed (for a control, weakens it; for an expectation, breaks it), which
//! `--fail-on widening` (`weakening`, `broken`) turns into a failing exit.

pub mod controls;
pub mod expects;
pub mod markdown;
pub mod network;
mod ports;

use crate::ir::{self, AdmissionRule, Date, Mode, Program, SeccompAction, SyscallPolicy};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

pub use controls::ControlChange;
pub use expects::ExpectChange;
pub use markdown::{MAX_BYTES, markdown};
pub use network::Change;

#[derive(Serialize)]
pub struct Diff {
    pub format: u32,
    pub date: String,
    /// Whether anything now allows what was refused: a connection, a system call, an admission
    /// rule removed or relaxed, a waiver or exemption added or extended.
    pub widening: bool,
    /// Whether a claimed control stands worse than before (`ControlChange::weakening`).
    pub weakening: bool,
    /// Whether an expectation that held no longer does (`ExpectChange::broken`).
    pub broken: bool,
    pub network: Vec<Change>,
    pub seccomp: Vec<ServiceCalls>,
    pub admission: Vec<AdmissionChange>,
    pub waivers: Vec<WaiverChange>,
    pub controls: Vec<ControlChange>,
    pub expectations: Vec<ExpectChange>,
}

/// A service whose profile treats some system calls differently.
#[derive(Serialize, PartialEq, Eq, Debug)]
pub struct ServiceCalls {
    pub service: String,
    pub calls: Vec<CallChange>,
}

#[derive(Serialize, PartialEq, Eq, Debug, Clone)]
pub struct CallChange {
    pub call: String,
    /// The action as the profile states it (`allow`, `errno EPERM`, `allow if arg0 == 1`, `no
    /// profile`), before and after.
    pub old: String,
    pub new: String,
    pub widening: bool,
}

#[derive(Serialize)]
pub struct AdmissionChange {
    pub block: String,
    /// `added`, `removed`, `relaxed` or `tightened`/`changed`.
    pub change: String,
    pub what: String,
    pub widening: bool,
}

#[derive(Serialize)]
pub struct WaiverChange {
    pub block: String,
    pub what: String,
    /// `added`, `removed`, `extended`, `shortened` or `ending`.
    pub change: String,
    pub owner: Option<String>,
    pub until: Option<String>,
    pub widening: bool,
}

/// Docker's rules by the call they name, each as `effective` writes a rule.
fn docker_rules() -> &'static BTreeMap<String, Vec<String>> {
    static T: std::sync::OnceLock<BTreeMap<String, Vec<String>>> = std::sync::OnceLock::new();
    T.get_or_init(|| {
        let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let profile = crate::catalog::seccomp::docker_default();
        for r in profile["syscalls"].as_array().into_iter().flatten() {
            let mut args: Vec<String> = r["args"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|a| {
                    format!(
                        "arg{} {} {} {}",
                        a["index"],
                        a["op"].as_str().unwrap_or(""),
                        a["value"],
                        a["valueTwo"].as_u64().unwrap_or(0)
                    )
                })
                .collect();
            args.sort();
            let errno = match r["action"].as_str() {
                Some("SCMP_ACT_ERRNO") => r["errnoRet"].as_u64().unwrap_or(1),
                _ => 0,
            };
            let nonempty = |v: &serde_json::Value| {
                if v.as_object().is_some_and(|o| !o.is_empty()) {
                    v.to_string()
                } else {
                    String::new()
                }
            };
            let rule = format!(
                "{} {errno} [{}] {} {}",
                r["action"].as_str().unwrap_or(""),
                args.join(", "),
                nonempty(&r["includes"]),
                nonempty(&r["excludes"])
            );
            for n in r["names"].as_array().into_iter().flatten() {
                if let Some(n) = n.as_str() {
                    out.entry(n.to_string()).or_default().push(rule.clone());
                }
            }
        }
        out
    })
}

fn errno_of(a: SeccompAction) -> u64 {
    match a {
        SeccompAction::Errno(n) => u64::from(n),
        _ => 0,
    }
}

/// The rules a profile applies to `name`, as the kernel reads them: each rule naming it (its
/// action, errno, conditions on arguments, and the runtime conditions of Docker's rules), and the
/// default action where none of them is unconditional. Two profiles treat a call alike exactly
/// when these are equal.
pub fn effective(policy: &SyscallPolicy, name: &str) -> Vec<String> {
    let rule = |action: SeccompAction, args: &[ir::ArgCmp]| {
        let mut args: Vec<String> = args
            .iter()
            .map(|c| format!("arg{} {} {} {}", c.index, c.op.scmp(), c.value, c.value_two))
            .collect();
        args.sort();
        format!(
            "{} {} [{}]  ",
            action.scmp(),
            errno_of(action),
            args.join(", ")
        )
    };
    let mut out: Vec<String> = match policy.entries.get(name) {
        Some(e) if e.when.is_empty() => vec![rule(e.action, &[])],
        Some(e) => e.when.iter().map(|alt| rule(e.action, alt)).collect(),
        None if policy.docker_base => docker_rules().get(name).cloned().unwrap_or_default(),
        None => Vec::new(),
    };
    out.sort();
    out.dedup();
    let unconditional = out.iter().any(|r| r.ends_with(" []  "));
    if !unconditional {
        out.push(format!(
            "default {} {}",
            policy.default.scmp(),
            errno_of(policy.default)
        ));
    }
    out
}

/// What every x86_64 and aarch64 system call gets from a profile, as text; `None`: no profile.
fn call_rules(policy: Option<&SyscallPolicy>) -> Option<BTreeMap<&'static str, String>> {
    let policy = policy?;
    let names = crate::catalog::get().all_names();
    let docker = crate::audit::docker_allowed();
    Some(
        names
            .into_iter()
            .filter_map(|n| crate::catalog::get().syscall(n))
            .map(|name| {
                let text = match policy.entries.get(name) {
                    Some(e) if e.when.is_empty() => action(e.action),
                    Some(e) => {
                        let alts: Vec<String> = e
                            .when
                            .iter()
                            .map(|alt| {
                                alt.iter()
                                    .map(|c| {
                                        format!(
                                            "arg{} {} {}{}",
                                            c.index,
                                            c.op.scmp(),
                                            c.value,
                                            if c.op == ir::CmpOp::MaskedEq {
                                                format!(" {}", c.value_two)
                                            } else {
                                                String::new()
                                            }
                                        )
                                    })
                                    .collect::<Vec<_>>()
                                    .join(" and ")
                            })
                            .collect();
                        format!(
                            "{} if {}, else {}",
                            action(e.action),
                            alts.join(" or "),
                            action(policy.default)
                        )
                    }
                    None if policy.docker_base => {
                        let rules = docker_rules().get(name).map_or(&[][..], Vec::as_slice);
                        if rules.iter().any(|r| r == "SCMP_ACT_ALLOW 0 []  ") {
                            "docker-default (allow)".to_string()
                        } else if docker.contains(name) {
                            format!(
                                "docker-default (allow for some arguments or kernels), else {}",
                                action(policy.default)
                            )
                        } else {
                            format!("docker-default ({})", action(policy.default))
                        }
                    }
                    None => action(policy.default),
                };
                (name, text)
            })
            .collect(),
    )
}

fn action(a: SeccompAction) -> String {
    crate::audit::seccomp_action(a)
}

/// How often an action as `call_rules` writes it lets the call run: 2 always, 1 for some
/// arguments, 0 never.
fn runs(text: &str) -> u8 {
    let runs_word = |t: &str| t.starts_with("allow") || t.starts_with("log");
    if let Some(otherwise) =
        text.strip_prefix("docker-default (allow for some arguments or kernels), else ")
    {
        return if runs_word(otherwise) { 2 } else { 1 };
    }
    match text.split_once(" if ") {
        Some((then, rest)) => {
            let otherwise = rest.rsplit_once(", else ").map_or("", |(_, e)| e);
            match (runs_word(then), runs_word(otherwise)) {
                (true, true) => 2,
                (false, false) => 0,
                _ => 1,
            }
        }
        None if runs_word(text) || text == "docker-default (allow)" || text == "no profile" => 2,
        None => 0,
    }
}

/// Whether the call may now run where it could not: more often, or for other arguments.
fn widens(old: &str, new: &str) -> bool {
    let (a, b) = (runs(old), runs(new));
    b > a || (a == 1 && b == 1 && old != new)
}

/// Per service (in either program), every system call whose treatment changed.
pub fn seccomp(old: &Program, new: &Program) -> Vec<ServiceCalls> {
    let ids: BTreeSet<&ir::ServiceId> = old.services.keys().chain(new.services.keys()).collect();
    let mut out = Vec::new();
    for id in ids {
        let (pa, pb) = (
            old.services.get(id).and_then(|s| s.syscalls.as_ref()),
            new.services.get(id).and_then(|s| s.syscalls.as_ref()),
        );
        // The same block: nothing to compare call by call.
        if let (Some(x), Some(y)) = (pa, pb)
            && x.default == y.default
            && x.docker_base == y.docker_base
            && (std::sync::Arc::ptr_eq(&x.entries, &y.entries) || x.entries == y.entries)
        {
            continue;
        }
        let a = call_rules(old.services.get(id).and_then(|s| s.syscalls.as_ref()));
        let b = call_rules(new.services.get(id).and_then(|s| s.syscalls.as_ref()));
        if a.is_none() && b.is_none() {
            continue;
        }
        let names: BTreeSet<&str> = a
            .iter()
            .chain(b.iter())
            .flat_map(|m| m.keys().copied())
            .collect();
        let text = |m: &Option<BTreeMap<&str, String>>, n: &str| {
            m.as_ref().map_or_else(
                || "no profile".to_string(),
                |m| m.get(n).cloned().unwrap_or_default(),
            )
        };
        let calls: Vec<CallChange> = names
            .into_iter()
            .filter_map(|n| {
                let (o, w) = (text(&a, n), text(&b, n));
                let differ = match (pa, pb) {
                    (Some(pa), Some(pb)) => effective(pa, n) != effective(pb, n),
                    _ => true,
                };
                differ.then(|| CallChange {
                    call: n.to_string(),
                    widening: widens(&o, &w),
                    old: o,
                    new: w,
                })
            })
            .collect();
        if !calls.is_empty() {
            out.push(ServiceCalls {
                service: id.to_string(),
                calls,
            });
        }
    }
    out
}

fn rule_kind(rule: &AdmissionRule) -> String {
    let text = crate::audit::rule_text(rule);
    match rule {
        AdmissionRule::ImagesFrom(_) => "images from".to_string(),
        AdmissionRule::RequireLabels(_) => "require labels".to_string(),
        AdmissionRule::RequireAnnotations(_) => "require annotations".to_string(),
        AdmissionRule::AllowCapabilities(_) => "allow capabilities".to_string(),
        AdmissionRule::AllowVolumes(_) => "allow volumes".to_string(),
        AdmissionRule::ForbidHostPaths(_) => "forbid host-paths".to_string(),
        AdmissionRule::Ids { field, .. } => format!("{field:?}"),
        AdmissionRule::PodSecurity { .. } => "pod-security".to_string(),
        _ => text,
    }
}

/// Whether `new` allows something `old` refused, for two rules of the same kind.
fn relaxes(old: &AdmissionRule, new: &AdmissionRule) -> bool {
    use AdmissionRule as R;
    let grew = |a: &[String], b: &[String]| b.iter().any(|x| !a.contains(x));
    match (old, new) {
        (R::ImagesFrom(a), R::ImagesFrom(b))
        | (R::AllowCapabilities(a), R::AllowCapabilities(b))
        | (R::AllowVolumes(a), R::AllowVolumes(b)) => grew(a, b),
        (R::RequireLabels(a), R::RequireLabels(b))
        | (R::RequireAnnotations(a), R::RequireAnnotations(b))
        | (R::ForbidHostPaths(a), R::ForbidHostPaths(b)) => grew(b, a),
        (R::Ids { ranges: a, .. }, R::Ids { ranges: b, .. }) => b
            .iter()
            .any(|(lo, hi)| !a.iter().any(|(alo, ahi)| alo <= lo && hi <= ahi)),
        (
            R::PodSecurity {
                level: la,
                exempt: ea,
                ..
            },
            R::PodSecurity {
                level: lb,
                exempt: eb,
                ..
            },
        ) => lb < la || eb.iter().any(|(c, _)| !ea.iter().any(|(d, _)| d == c)),
        _ => true,
    }
}

type Rules = [(AdmissionRule, crate::span::Span)];

fn by_kind(rules: &Rules) -> BTreeMap<String, AdmissionRule> {
    rules
        .iter()
        .map(|(r, _)| (rule_kind(r), r.clone()))
        .collect()
}

fn mode_name(m: Mode) -> &'static str {
    match m {
        Mode::Deny => "deny",
        Mode::Warn => "warn",
        Mode::Audit => "audit",
    }
}

pub fn admission(old: &Program, new: &Program) -> Vec<AdmissionChange> {
    let mut out = Vec::new();
    let (old_ns, new_ns) = (
        crate::check::compliance::Labelled::of(old),
        crate::check::compliance::Labelled::of(new),
    );
    let names: BTreeSet<&String> = old.admissions.keys().chain(new.admissions.keys()).collect();
    for name in names {
        let push = |out: &mut Vec<AdmissionChange>, change: &str, what: String, widening: bool| {
            out.push(AdmissionChange {
                block: name.clone(),
                change: change.to_string(),
                what,
                widening,
            });
        };
        match (old.admissions.get(name), new.admissions.get(name)) {
            (Some(_), None) => push(&mut out, "removed", "the whole block".to_string(), true),
            (None, Some(_)) => push(&mut out, "added", "the whole block".to_string(), false),
            (Some(a), Some(b)) => {
                if a.mode != b.mode {
                    // Deny enforces; warn and audit only report.
                    let widening = a.mode == Mode::Deny;
                    push(
                        &mut out,
                        if widening { "relaxed" } else { "tightened" },
                        format!("mode {} → {}", mode_name(a.mode), mode_name(b.mode)),
                        widening,
                    );
                }
                let before = old_ns.covered(&a.scope);
                let after = new_ns.covered(&b.scope);
                let left: Vec<&String> = before.iter().filter(|n| !after.contains(n)).collect();
                let joined: Vec<&String> = after.iter().filter(|n| !before.contains(n)).collect();
                if crate::audit::scope_text(&a.scope) != crate::audit::scope_text(&b.scope)
                    || !left.is_empty()
                    || !joined.is_empty()
                {
                    push(
                        &mut out,
                        if left.is_empty() {
                            "changed"
                        } else {
                            "relaxed"
                        },
                        format!(
                            "applies to {} → {}{}",
                            crate::audit::scope_text(&a.scope),
                            crate::audit::scope_text(&b.scope),
                            if left.is_empty() {
                                String::new()
                            } else {
                                let l: Vec<&str> = left.iter().map(|s| s.as_str()).collect();
                                format!(" (no longer in {})", l.join(", "))
                            }
                        ),
                        !left.is_empty(),
                    );
                }
                let (ka, kb) = (by_kind(&a.rules), by_kind(&b.rules));
                for (kind, rule) in &ka {
                    match kb.get(kind) {
                        None => push(&mut out, "removed", crate::audit::rule_text(rule), true),
                        Some(other) if other != rule => {
                            let widening = relaxes(rule, other);
                            push(
                                &mut out,
                                if widening { "relaxed" } else { "changed" },
                                format!(
                                    "{} → {}",
                                    crate::audit::rule_text(rule),
                                    crate::audit::rule_text(other)
                                ),
                                widening,
                            );
                        }
                        Some(_) => {}
                    }
                }
                for (kind, rule) in &kb {
                    if !ka.contains_key(kind) {
                        push(&mut out, "added", crate::audit::rule_text(rule), false);
                    }
                }
                let images = |x: &ir::Admission| -> BTreeSet<String> {
                    x.exempt_images.iter().map(|(p, _)| p.clone()).collect()
                };
                let (ia, ib) = (images(a), images(b));
                for p in ib.difference(&ia) {
                    push(&mut out, "relaxed", format!("exempt images \"{p}\""), true);
                }
                for p in ia.difference(&ib) {
                    push(
                        &mut out,
                        "tightened",
                        format!("no longer exempt: images \"{p}\""),
                        false,
                    );
                }
            }
            (None, None) => {}
        }
    }
    out
}

const SOON: i64 = crate::check::compliance::EXPIRY_WARNING_DAYS;

pub fn waivers(old: &Program, new: &Program, today: Date) -> Vec<WaiverChange> {
    type Key = (String, String);
    let collect = |p: &Program| -> BTreeMap<Key, (Option<String>, Option<Date>)> {
        let mut m = BTreeMap::new();
        for c in p.compliance.values() {
            for w in &c.waivers {
                m.insert(
                    (
                        c.name.clone(),
                        format!("waive {} {}", w.framework, w.control),
                    ),
                    (Some(w.owner.clone()), Some(w.until)),
                );
            }
        }
        for a in p.admissions.values() {
            for e in &a.exemptions {
                m.insert(
                    (a.name.clone(), format!("exempt {}", e.what)),
                    (e.owner.clone(), e.until.map(|(d, _)| d)),
                );
            }
        }
        m
    };
    let (a, b) = (collect(old), collect(new));
    let keys: BTreeSet<&Key> = a.keys().chain(b.keys()).collect();
    let mut out = Vec::new();
    for key in keys {
        let (change, widening, now) = match (a.get(key), b.get(key)) {
            (None, Some(n)) => ("added", true, n),
            (Some(o), None) => ("removed", false, o),
            (Some(o), Some(n)) if o.1 != n.1 => {
                // No end is later than any end.
                let later = match (o.1, n.1) {
                    (Some(x), Some(y)) => y > x,
                    (Some(_), None) => true,
                    _ => false,
                };
                (if later { "extended" } else { "shortened" }, later, n)
            }
            (Some(_), Some(n)) if n.1.is_some_and(|d| today.days_until(d) <= SOON) => {
                ("ending", false, n)
            }
            _ => continue,
        };
        out.push(WaiverChange {
            block: key.0.clone(),
            what: key.1.clone(),
            change: change.to_string(),
            owner: now.0.clone(),
            until: now.1.map(|d| d.to_string()),
            widening,
        });
    }
    out
}

/// Everything `new` changes from `old`; `Err` if the pods of a service are of too many kinds.
pub fn diff(old: &Program, new: &Program, today: Date) -> Result<Diff, String> {
    // The claims are read beside the network part, which is on one core for much of its time.
    let (network, controls) = std::thread::scope(|scope| {
        let controls = scope.spawn(|| controls::controls(old, new));
        let network = network::changes(old, new);
        (network, controls.join())
    });
    let network = network?;
    let controls = controls.map_err(|_| "the claims could not be compared".to_string())?;
    let seccomp = seccomp(old, new);
    let expectations = expects::expects(old, new);
    let admission = admission(old, new);
    let waivers = waivers(old, new, today);
    let widening = network.iter().any(|c| !c.added.is_empty())
        || seccomp.iter().flat_map(|s| &s.calls).any(|c| c.widening)
        || admission.iter().any(|a| a.widening)
        || waivers.iter().any(|w| w.widening);
    Ok(Diff {
        format: 1,
        date: today.to_string(),
        widening,
        weakening: controls.iter().any(|c| c.weakening),
        broken: expectations.iter().any(|x| x.broken),
        network,
        seccomp,
        admission,
        waivers,
        controls,
        expectations,
    })
}

/// The diff as JSON, with a final newline.
pub fn json(diff: &Diff) -> String {
    let mut out = serde_json::to_string_pretty(diff).unwrap_or_default();
    out.push('\n');
    out
}
