//! Overlapping selectors: services of one namespace that can select the same pods. Policies add
//! up, so the flows of each apply to the pods both select, and an expectation about one answers
//! for those pods too; that is often meant (a Service spanning versioned Deployments, a `tier`
//! service beside per-app services) and sometimes a surprise, so it is said unless `overlaps`
//! says it is meant.
//!
//! ```text
//! service reviews-v2 in bookinfo { pods app = "reviews", version = "v2" }   // W0114: every pod
//!                                                     // of `reviews-v2` is a pod of `reviews`
//! service reviews-v2 in bookinfo { pods app = "reviews", version = "v2"  overlaps reviews }  // meant
//! ```

use super::Checker;
use crate::ast;
use crate::diag::Diagnostic;
use crate::ir::regions::{Candidates, Requirements, compatible, regions};
use crate::ir::{Selector, Service, ServiceRef};
use std::collections::BTreeMap;

/// Warnings about overlapping pairs one namespace gets before the rest are counted in one.
const SAID_PER_NAMESPACE: usize = 100;

/// Comparisons of two selectors one namespace gets (see `overlaps_in`).
const COMPARISONS_PER_NAMESPACE: usize = 1_000_000;

/// Unions of services said to overlap (by `overlaps` on either side, transitively).
struct Meant(BTreeMap<ServiceRef, ServiceRef>);

impl Meant {
    fn root(&self, mut r: ServiceRef) -> ServiceRef {
        while let Some(&up) = self.0.get(&r).filter(|up| **up != r) {
            r = up;
        }
        r
    }

    fn join(&mut self, a: ServiceRef, b: ServiceRef) {
        let (ra, rb) = (self.root(a), self.root(b));
        if ra != rb {
            self.0.insert(ra.max(rb), ra.min(rb));
        }
    }

    fn together(&self, a: ServiceRef, b: ServiceRef) -> bool {
        self.root(a) == self.root(b)
    }
}

impl Checker<'_> {
    /// Resolves every `overlaps` line and, in a program without errors so far (a selector with
    /// an error says little about the pods), warns about each pair of services of a namespace
    /// whose selectors can select a common pod that no `overlaps` line joins.
    pub(super) fn check_overlaps(&mut self, declared: &[(&ast::Service, ServiceRef)]) {
        let mut meant = Meant(BTreeMap::new());
        let mut said: Vec<(ServiceRef, ServiceRef, &ast::Ident)> = Vec::new();
        for &(svc, me) in declared {
            for name in &svc.overlaps {
                match self.services.find(&svc.namespace.text, &name.text) {
                    Some(other) => {
                        meant.join(me, other);
                        said.push((me, other, name));
                    }
                    None => self.unknown_neighbour(&svc.namespace.text, name),
                }
            }
        }
        let sound = !self.diags.iter().any(Diagnostic::is_error);
        for (me, other, name) in said {
            let (Some(a), Some(b)) = (self.services.at(me), self.services.at(other)) else {
                continue;
            };
            if me == other {
                self.diags.push(
                    Diagnostic::warning("W0115", format!("`{}` names itself", a.id.name))
                        .primary(name.span, "said to overlap")
                        .note("`overlaps` names other services whose pods this one may share")
                        .help("remove it from the `overlaps` line"),
                );
            } else if !compatible(&a.selector, &b.selector) {
                self.diags.push(
                    Diagnostic::warning(
                        "W0115",
                        format!(
                            "`{}` and `{}` select no pod in common",
                            a.id.name, b.id.name
                        ),
                    )
                    .primary(name.span, "said to overlap")
                    .note("no pod can carry the labels both selectors require")
                    .help("remove it from the `overlaps` line"),
                );
            }
        }
        if !sound {
            return;
        }
        let namespaces: Vec<String> = self.namespaces.keys().cloned().collect();
        for ns in &namespaces {
            self.overlaps_in(ns, &meant);
        }
    }

    fn unknown_neighbour(&mut self, namespace: &str, name: &ast::Ident) {
        let mut d = Diagnostic::error(
            "E0102",
            format!("unknown service `{}` in namespace `{namespace}`", name.text),
        )
        .primary(name.span, "no service of this namespace has this name")
        .note("services overlap only with services of their own namespace");
        let names: Vec<&str> = self
            .services
            .in_namespace(namespace)
            .iter()
            .map(|s| s.id.name.as_str())
            .collect();
        if let Some(hint) = crate::diag::did_you_mean(&name.text, names) {
            d = d.help(hint);
        }
        self.diags.push(d);
    }

    fn overlaps_in(&mut self, namespace: &str, meant: &Meant) {
        // Services with the same selector select the same pods: one group, one warning.
        let mut groups: BTreeMap<&Selector, Vec<(ServiceRef, &Service)>> = BTreeMap::new();
        for (r, s) in self.services.of_namespace(namespace) {
            groups.entry(&s.selector).or_default().push((r, s));
        }
        let mut found: Vec<Diagnostic> = Vec::new();
        let mut more = 0;
        let mut say = |d: Diagnostic| {
            if found.len() < SAID_PER_NAMESPACE {
                found.push(d);
            } else {
                more += 1;
            }
        };
        for members in groups.values().filter(|m| m.len() > 1) {
            let root = members.first().map(|(r, _)| meant.root(*r));
            if members.iter().all(|(r, _)| Some(meant.root(*r)) == root) {
                continue;
            }
            say(same_pods(members));
        }
        // Each service's subsets and partial overlaps, said once for all the services it meets:
        // a `tier` service beside per-app services is one warning, not one per app.
        let mut within_of: BTreeMap<ServiceRef, (&Service, Vec<&Service>)> = BTreeMap::new();
        let mut partly_of: BTreeMap<ServiceRef, (&Service, Vec<&Service>)> = BTreeMap::new();
        let reps: Vec<&[(ServiceRef, &Service)]> = groups.values().map(Vec::as_slice).collect();
        let requirements: Vec<Requirements<'_>> =
            groups.keys().map(|s| Requirements::of(s)).collect();
        let candidates = Candidates::new(groups.keys().copied().collect());
        // Selectors that might meet are compared at most this many times a namespace: a
        // namespace of many services whose selectors share no label value to tell them apart
        // would otherwise take time growing with the square of its services.
        let mut budget = COMPARISONS_PER_NAMESPACE;
        candidates.pairs(|i, j| {
            if budget == 0 {
                return false;
            }
            budget -= 1;
            let (Some(a), Some(b)) = (reps.get(i), reps.get(j)) else {
                return true;
            };
            let (Some(&(ra, sa)), Some(&(rb, sb)), Some(qa), Some(qb)) = (
                a.first(),
                b.first(),
                requirements.get(i),
                requirements.get(j),
            ) else {
                return true;
            };
            if !qa.meets(qb) {
                return true;
            }
            let joined = a
                .iter()
                .any(|(x, _)| b.iter().any(|(y, _)| meant.together(*x, *y)));
            if joined {
                return true;
            }
            match (qa.within(qb), qb.within(qa)) {
                (true, true) => say(same_pods(&[(ra, sa), (rb, sb)])),
                (true, false) => within_of.entry(ra).or_insert((sa, Vec::new())).1.push(sb),
                (false, true) => within_of.entry(rb).or_insert((sb, Vec::new())).1.push(sa),
                (false, false) => {
                    // Said at the one declared later, the likelier newcomer.
                    let ((rl, later), earlier) = if sa.span <= sb.span {
                        ((rb, sb), sa)
                    } else {
                        ((ra, sa), sb)
                    };
                    partly_of
                        .entry(rl)
                        .or_insert((later, Vec::new()))
                        .1
                        .push(earlier);
                }
            }
            true
        });
        let unchecked = budget == 0;
        for (inner, outers) in within_of.into_values() {
            say(subset(inner, &outers));
        }
        for (service, others) in partly_of.into_values() {
            say(partial(service, &others));
        }
        self.diags.extend(found);
        if unchecked {
            self.diags.push(
                Diagnostic::warning(
                    "W0114",
                    format!("the services of namespace `{namespace}` were not all compared for pods in common"),
                )
                .note(format!(
                    "after {COMPARISONS_PER_NAMESPACE} comparisons of selectors that share no label value to tell them apart, warden stopped looking: more services may select pods in common"
                ))
                .help("give each service a label value of its own (e.g. `app`), so that their selectors are told apart at a glance"),
            );
        }
        if more > 0 {
            self.diags.push(
                Diagnostic::warning(
                    "W0114",
                    format!("{more} more pairs of services of namespace `{namespace}` select pods in common"),
                )
                .note(format!(
                    "the first {SAID_PER_NAMESPACE} are said one by one; the flows of each service apply to the pods it shares with the other"
                )),
            );
        }
    }
}

fn name(s: &Service) -> String {
    format!("`{}`", s.id.name)
}

fn same_pods(members: &[(ServiceRef, &Service)]) -> Diagnostic {
    let mut by_place: Vec<&Service> = members.iter().map(|(_, s)| *s).collect();
    by_place.sort_by_key(|s| s.span);
    let names: Vec<String> = by_place.iter().map(|s| name(s)).collect();
    let headline = match names.as_slice() {
        [a, b] => format!("{a} and {b} select the same pods"),
        [a, b, c] => format!("{a}, {b} and {c} select the same pods"),
        [a, b, rest @ ..] => format!(
            "{a}, {b} and {} more services select the same pods",
            rest.len()
        ),
        _ => "services select the same pods".to_string(),
    };
    let mut d = Diagnostic::warning("W0114", headline);
    if let [first, second, ..] = by_place.as_slice() {
        d = d
            .primary(
                second.span,
                format!("selects exactly the pods of {}", name(first)),
            )
            .secondary(first.span, "declared first here")
            .help(format!(
                "if that is meant, say `overlaps {}` in {}; if not, give each its own label value",
                first.id.name,
                name(second)
            ));
    }
    d.note(
        "the flows of each apply to the pods of all, and an expectation about one answers for all",
    )
}

/// Services a warning names one by one; the rest it counts.
const NAMED: usize = 5;

/// `a`, `a and b`, `a, b and c`, … `a, b, c, d, e and 7 more`, as names in backticks.
fn names(services: &[&Service]) -> String {
    let mut names: Vec<String> = services.iter().take(NAMED).map(|s| name(s)).collect();
    if services.len() > NAMED {
        names.push(format!("{} more", services.len() - NAMED));
    }
    match names.as_slice() {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

/// The names as an `overlaps` line lists them.
fn overlaps_line(services: &[&Service]) -> String {
    let names: Vec<&str> = services.iter().map(|s| s.id.name.as_str()).collect();
    format!("overlaps {}", names.join(", "))
}

/// Every pod of `inner` is a pod of each of `outers`.
fn subset(inner: &Service, outers: &[&Service]) -> Diagnostic {
    let all = names(outers);
    let mut d = Diagnostic::warning(
        "W0114",
        format!("every pod of {} is also a pod of {all}", name(inner)),
    )
    .primary(inner.span, format!("all of its pods are pods of {all}"));
    for outer in outers.iter().take(NAMED) {
        d = d.secondary(outer.span, format!("selects every pod of {}", name(inner)));
    }
    d.note(format!(
        "the flows of {all} apply to the pods of {} as well, and an expectation about {} answers for them too",
        name(inner),
        if outers.len() == 1 { all.clone() } else { "any of them".to_string() }
    ))
    .help(format!(
        "if that is meant, say `{}` in {}; if not, leave its pods out of the others (e.g. with `notin`)",
        overlaps_line(outers),
        name(inner)
    ))
}

/// A pod both select, as a message shows it: " (e.g. one labelled `…`)".
fn common_pod(a: &Service, b: &Service) -> String {
    regions(&a.selector, &[&b.selector], 2)
        .ok()
        .and_then(|found| {
            found
                .into_iter()
                .find(|r| r.selected.first() == Some(&true))
        })
        .map(|r| {
            let labels: Vec<String> = r.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
            format!("a pod labelled `{}`", labels.join(","))
        })
        .unwrap_or_default()
}

/// Some pods, not all, of `service` may be pods of each of `others`.
fn partial(service: &Service, others: &[&Service]) -> Diagnostic {
    let all = names(others);
    let mut d = Diagnostic::warning(
        "W0114",
        format!("some pods of {} may also be pods of {all}", name(service)),
    )
    .primary(
        service.span,
        format!("some of its pods may be pods of {all}"),
    );
    for other in others.iter().take(NAMED) {
        d = d.secondary(
            other.span,
            format!("selects {} too", common_pod(service, other)),
        );
    }
    d.note(
        "nothing in the selectors keeps such pods apart: the flows of each service apply to the pods both select, and expectations about either answer for them",
    )
    .help(format!(
        "if that is meant, say `{}` in {}; if not, make the selectors disjoint (e.g. require a label value of its own in each)",
        overlaps_line(others),
        name(service)
    ))
}
