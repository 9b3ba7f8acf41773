//! Checking: resolves the AST of every file into one IR, reporting every problem it finds.
//!
//! Accepts a program whose names, ports, CIDRs, syscalls and admission rules all resolve, and whose
//! `expect`s hold; rejects the rest with diagnostics, all of them in one run:
//! ```text
//! service cart in shop { pods app = "cart"  port grpc 7070/tcp }   // accepted
//! service web in shop { pods app = "web"  to crat on grpc }        // E0102, did you mean `cart`?
//! ```
//! Declarations are gathered from every file before any reference is resolved, so neither file
//! order nor declaration order can change the outcome. Expectations are evaluated only when
//! everything else is sound.

pub mod accepts;
/// The rule names `forbid` and `require` take in an admission block.
pub use admission::{FORBID as FORBID_RULES, REQUIRE as REQUIRE_RULES};
mod admission;
mod cel;
mod cidrs;
pub mod compliance;
mod dns;
pub mod expects;
mod flows;
mod layer7;
mod names;
mod namespaces;
mod overlaps;
pub mod ports;
mod services;
pub use services::RESERVED;
mod syscalls;

pub use names::{is_dns_label, label_key_problem, label_value_problem};
pub use syscalls::DANGEROUS as DANGEROUS_SYSCALLS;

use crate::ast;
use crate::diag::Diagnostic;
use crate::ir::{self, ServiceId, ServiceRef};
use crate::span::SourceMap;
use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, OnceLock};

pub(crate) struct Checker<'a> {
    sources: &'a SourceMap,
    diags: Vec<Diagnostic>,
    /// Owned while declarations are gathered; borrowed by the checkers that resolve services'
    /// flows and system calls on every core afterwards, which only read them.
    namespaces: Cow<'a, BTreeMap<String, ir::Namespace>>,
    services: Cow<'a, ir::Services>,
    /// The same services hashed, for the checkers of runs of services, which look a service up
    /// for every reference to it (see `service`); `None` while they are declared.
    index: Option<&'a ir::ServiceIndex<'a>>,
    /// Every service by its name alone, for references without a namespace; made on the first
    /// such reference that is not to the referrer's own namespace, once all are declared.
    by_name: &'a OnceLock<BTreeMap<String, Vec<(ServiceRef, ServiceId)>>>,
    /// `syscalls` blocks resolved so far without a finding, by their text; one for every checker.
    /// (A policy's `entries` is shared, so a clone of one costs a reference count.)
    resolved_blocks: &'a Mutex<HashMap<String, ir::SyscallPolicy>>,
    /// Suggestions for unknown names this checker may still compute (see `may_suggest`).
    suggestions: usize,
    program: ir::Program,
}

/// Unknown service and namespace names one checker suggests a declared name for. Each suggestion
/// compares the name with every service or namespace, so without a bound a program with many
/// unknown names takes time growing with the square of its size. A bound per checker rather than
/// per program: the checkers of runs of services work in parallel, and which errors get a
/// suggestion must not depend on timing.
const SUGGESTIONS: usize = 8;

/// Runs of services whose flows and system calls one checker resolves: enough for
/// `parallel::map` to share them among cores, few enough to keep each checker's allocations
/// together.
const RUNS: usize = 64;

/// The service `name` of `namespace`: through `index` where there is one, else by a search of
/// the ordered services.
fn service(
    index: Option<&ir::ServiceIndex<'_>>,
    services: &ir::Services,
    namespace: &str,
    name: &str,
) -> Option<ServiceRef> {
    match index {
        Some(index) => index.get(&(namespace, name)).copied(),
        None => services.find(namespace, name),
    }
}

/// What checking a run of services' flows and system calls adds to the program.
struct Resolved {
    diags: Vec<Diagnostic>,
    flows: Vec<ir::Flow>,
    /// Each service's seccomp policy, in the run's order.
    syscalls: Vec<Option<ir::SyscallPolicy>>,
}

/// Checks the program made of `files` (in file-name order). Returns the IR when there is no error.
pub fn check(sources: &SourceMap, files: &[ast::File]) -> (Option<ir::Program>, Vec<Diagnostic>) {
    check_with(sources, files, Expects::Evaluate)
}

/// Whether `check_with` evaluates the program's expectations.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Expects {
    /// An expectation that does not hold is an error (E0601), as for every command that writes.
    Evaluate,
    /// Resolved but not evaluated: for `warden explain`, whose question is one of them and whose
    /// answer is not an error (the program's own expectations need not hold for a question about
    /// it to be answered), `warden diff`, which tells how each stands in both programs, and
    /// `warden audit`, which reports how each stands.
    Keep,
}

/// `check`, with the program's expectations evaluated or kept as `expects_are` says.
pub fn check_with(
    sources: &SourceMap,
    files: &[ast::File],
    expects_are: Expects,
) -> (Option<ir::Program>, Vec<Diagnostic>) {
    let by_name = OnceLock::new();
    let resolved_blocks = Mutex::new(HashMap::new());
    let mut cx = Checker {
        sources,
        diags: Vec::new(),
        namespaces: Cow::Owned(BTreeMap::new()),
        services: Cow::Owned(ir::Services::default()),
        index: None,
        by_name: &by_name,
        resolved_blocks: &resolved_blocks,
        suggestions: SUGGESTIONS,
        program: ir::Program::default(),
    };
    for file in files {
        for ns in &file.namespaces {
            cx.declare_namespace(ns);
            cx.check_accepts(&ns.accepts);
        }
        for svc in &file.services {
            cx.check_accepts(&svc.accepts);
        }
        for adm in &file.admissions {
            cx.check_accepts(&adm.accepts);
        }
    }
    let count = files.iter().map(|f| f.services.len()).sum();
    let mut seen = services::Seen::with_capacity_and_hasher(count, ahash::RandomState::new());
    let mut declared: Vec<(&ast::Service, ServiceId)> = Vec::with_capacity(count);
    let mut services = Vec::with_capacity(count);
    for file in files {
        for svc in &file.services {
            if let Some(service) = cx.declare_service(svc, &mut seen) {
                declared.push((svc, service.id.clone()));
                services.push(service);
            }
        }
    }
    drop(seen);
    cx.services = Cow::Owned(ir::Services::new(services));
    for file in files {
        for ns in &file.namespaces {
            cx.lint_allow_dns(ns);
        }
    }
    // One IR flow per peer of a flow line, at most: reserved, the vector is not copied as it
    // grows.
    let peers = |flows: &[ast::Flow]| flows.iter().map(|f| f.peers.len()).sum::<usize>();
    let namespace_peers = files
        .iter()
        .flat_map(|f| &f.namespaces)
        .map(|n| peers(&n.flows));
    let service_peers = declared.iter().map(|(svc, _)| peers(&svc.flows));
    cx.program
        .flows
        .reserve(namespace_peers.chain(service_peers).sum());
    for file in files {
        for ns in &file.namespaces {
            cx.check_namespace_flows(ns);
        }
    }
    let index: ir::ServiceIndex<'_> = cx
        .services
        .iter()
        .map(|(r, s)| ((s.id.namespace.as_str(), s.id.name.as_str()), r))
        .collect();
    // The ids are unique (`declare_service` refuses a second), so each is found.
    let declared: Vec<(&ast::Service, ServiceRef)> = declared
        .into_iter()
        .filter_map(|(svc, id)| Some((svc, *index.get(&(&id.namespace, &id.name))?)))
        .collect();
    // Each service's flows and system calls only read the declarations: resolved on every core,
    // a checker of its own per run of services, and merged in declaration order, so the result
    // is the same as one checker's going through them in turn. A checker per run of services,
    // not per service: one vector of flows and of diagnostics per run.
    let run = declared.len().div_ceil(RUNS).max(1);
    let runs: Vec<&[(&ast::Service, ServiceRef)]> = declared.chunks(run).collect();
    let resolved = crate::parallel::map(&runs, |run| {
        let mut one = cx.reading(&index);
        one.program
            .flows
            .reserve(run.iter().map(|(svc, _)| peers(&svc.flows)).sum());
        let syscalls: Vec<Option<ir::SyscallPolicy>> = run
            .iter()
            .map(|&(svc, r)| {
                one.check_flows(svc, r);
                one.check_syscalls(svc)
            })
            .collect();
        Resolved {
            diags: one.diags,
            flows: one.program.flows,
            syscalls,
        }
    });
    drop(index);
    for (run, one) in runs.iter().zip(resolved) {
        cx.diags.extend(one.diags);
        cx.program.flows.extend(one.flows);
        for (&(_, r), policy) in run.iter().zip(one.syscalls) {
            if let Some(policy) = policy
                && let Some(s) = cx.services.to_mut().get_mut(r)
            {
                s.syscalls = Some(policy);
            }
        }
    }
    let dns: Vec<&ast::Dns> = files.iter().flat_map(|f| f.dns.iter()).collect();
    cx.check_dns(&dns);
    for file in files {
        for adm in &file.admissions {
            cx.check_admission(adm);
        }
    }
    for file in files {
        for c in &file.compliance {
            cx.check_compliance(c);
        }
    }
    cx.check_overlaps(&declared);
    let mut expects = Vec::new();
    for file in files {
        for e in &file.expects {
            if let Some(x) = cx.resolve_expect(e) {
                expects.push(x);
            }
        }
    }

    cx.program.namespaces = std::mem::take(&mut cx.namespaces).into_owned();
    cx.program.services = std::mem::take(&mut cx.services).into_owned();
    cx.program.normalize();
    if cx.diags.iter().any(Diagnostic::is_error) {
        return (None, cx.diags);
    }
    if expects_are == Expects::Evaluate {
        cx.evaluate_expects(&expects);
    }
    cx.program.expects = expects;
    let ok = !cx.diags.iter().any(Diagnostic::is_error);
    (ok.then_some(cx.program), cx.diags)
}

impl Checker<'_> {
    /// A checker that reads this one's declarations, and looks services up in `index` (made of
    /// them), and has found nothing yet: one per run of services, once every declaration is in.
    fn reading<'r>(&'r self, index: &'r ir::ServiceIndex<'r>) -> Checker<'r> {
        Checker {
            sources: self.sources,
            diags: Vec::new(),
            namespaces: Cow::Borrowed(&*self.namespaces),
            services: Cow::Borrowed(&*self.services),
            index: Some(index),
            by_name: self.by_name,
            resolved_blocks: self.resolved_blocks,
            suggestions: SUGGESTIONS,
            program: ir::Program::default(),
        }
    }

    /// Whether a suggestion may still be computed for an unknown name; takes one from the budget.
    fn may_suggest(&mut self) -> bool {
        let left = self.suggestions > 0;
        self.suggestions = self.suggestions.saturating_sub(1);
        left
    }

    fn duplicate(
        &mut self,
        code: &'static str,
        what: &str,
        name: &str,
        again: ast::Ident,
        first: crate::span::Span,
    ) {
        self.diags.push(
            Diagnostic::error(code, format!("{what} `{name}` is defined twice"))
                .primary(again.span, "defined again here")
                .secondary(first, "first defined here")
                .help(format!("rename one of them or merge them into one {what}")),
        );
    }
}
