//! Expectations: `expect A -> B [on PORT] allowed|denied`, answered by the connectivity evaluator.
//!
//! ```text
//! expect frontend -> cart on grpc allowed     // accepted when a flow allows it
//! expect world -> cart denied                 // E0601 if any flow lets the world reach `cart`
//! ```

use super::Checker;
use crate::ast;
use crate::diag::Diagnostic;
use crate::ir::connectivity::{Case, Evaluator, Grant, Outcome};
use crate::ir::regions::TooMany;
use crate::ir::{self, Endpoint};

impl Checker<'_> {
    pub(super) fn resolve_expect(&mut self, e: &ast::Expect) -> Option<ir::Expect> {
        let from = self.endpoint(&e.from);
        let to = self.endpoint(&e.to);
        let (from, to) = (from?, to?);
        if matches!((&from, &to), (Endpoint::External(_), Endpoint::External(_))) {
            self.diags.push(
                Diagnostic::error(
                    "E0602",
                    "an expectation needs a service on at least one side",
                )
                .primary(e.span, "both ends are outside the cluster")
                .note("warden only governs traffic that starts or ends at a service"),
            );
            return None;
        }
        let server = match &to {
            Endpoint::Service(id) => self.services.find(&id.namespace, &id.name),
            Endpoint::Pod(_) | Endpoint::External(_) => None,
        };
        let ports = match &e.port {
            Some(r) => vec![self.port_ref(r, server, false)?],
            None => server
                .and_then(|r| self.services.at(r))
                .map(|s| s.ports.iter().map(|(_, p)| p.clone()).collect())
                .unwrap_or_default(),
        };
        let text = self
            .sources
            .text(e.span.file)
            .get(e.span.range())
            .unwrap_or("")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        Some(ir::Expect {
            from,
            to,
            ports,
            allowed: e.allowed,
            span: e.span,
            text,
        })
    }

    fn endpoint(&mut self, e: &ast::Endpoint) -> Option<Endpoint> {
        match e {
            ast::Endpoint::World(_) => Some(Endpoint::External(
                ir::world_blocks().into_iter().map(|b| b.cidr).collect(),
            )),
            ast::Endpoint::Cidr(lit) => self.cidr(lit).map(|n| Endpoint::External(vec![n])),
            ast::Endpoint::Service(r) => {
                let r = self.resolve_service(r, None)?;
                self.services.at(r).map(|s| Endpoint::Service(s.id.clone()))
            }
        }
    }

    pub(super) fn evaluate_expects(&mut self, expects: &[ir::Expect]) {
        let unmet = evaluate(&self.program, expects);
        self.diags.extend(unmet.into_iter().flatten());
    }
}

/// For each of `expects` about `program`, in order: nothing where it holds, else why not (E0601,
/// or E0603 where it cannot be decided).
pub fn evaluate(program: &ir::Program, expects: &[ir::Expect]) -> Vec<Option<Diagnostic>> {
    // The evaluator indexes every flow: not worth building for nothing to evaluate.
    if expects.is_empty() {
        return Vec::new();
    }
    let evaluator = Evaluator::new(program);
    // Each expectation only reads the program: answered on every core, reported in order.
    crate::parallel::map(expects, |x| unmet(program, &evaluator, x))
}

/// The code of a diagnostic that says an expectation cannot be decided.
pub const UNDECIDED: &str = "E0603";

/// Where an evaluated expectation stands, from holding to failing.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub enum Standing {
    Holds,
    Undecided,
    Fails,
}

impl Standing {
    /// What `evaluate` answered for it: nothing, or why not.
    pub fn of(unmet: Option<&Diagnostic>) -> Self {
        match unmet {
            None => Standing::Holds,
            Some(d) if d.code == UNDECIDED => Standing::Undecided,
            Some(_) => Standing::Fails,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Standing::Holds => "holds",
            Standing::Undecided => "undecided",
            Standing::Fails => "fails",
        }
    }
}

/// Whether `outcome` contradicts an expectation of `allowed`.
fn contradicts(allowed: bool, outcome: &Outcome) -> bool {
    if allowed {
        !matches!(outcome, Outcome::Allowed(_))
    } else {
        !matches!(outcome, Outcome::Denied(_))
    }
}

/// E0601 for an expectation that does not hold, naming why for each port it probes and, where the
/// pods of an endpoint differ, which of them.
fn unmet(program: &ir::Program, evaluator: &Evaluator<'_>, x: &ir::Expect) -> Option<Diagnostic> {
    let mut notes = Vec::new();
    let mut labels: Vec<crate::diag::Label> = Vec::new();
    for port in x.probes() {
        let on = port
            .as_ref()
            .map(|p| format!(" on {p}"))
            .unwrap_or_default();
        let answer = match evaluator.answer(&x.from, &x.to, port.as_ref()) {
            Ok(answer) => answer,
            Err(TooMany { limit }) => return Some(undecided(x, limit)),
        };
        let failing: Vec<&Case> = answer
            .cases
            .iter()
            .filter(|c| contradicts(x.allowed, &c.outcome))
            .collect();
        let Some(first) = failing.first() else {
            continue;
        };
        let mut whom = first.whom(program);
        if !whom.is_empty() && failing.len() > 1 {
            whom.push_str(&format!(" and {} other kinds of pod", failing.len() - 1));
        }
        let others = if failing.len() < answer.cases.len() {
            format!(
                "; the others are {}",
                if x.allowed { "allowed" } else { "denied" }
            )
        } else {
            String::new()
        };
        if x.allowed {
            match &first.outcome {
                Outcome::Denied(d) => notes.push(format!("denied{on}{whom}: {}{others}", d.reason)),
                Outcome::Partly(_, d) => {
                    notes.push(format!(
                        "allowed only in part{on}{whom}: {}{others}",
                        d.reason
                    ));
                }
                Outcome::Allowed(_) => {}
            }
            continue;
        }
        let grants: Vec<&Grant> = failing.iter().flat_map(|c| c.outcome.grants()).collect();
        if grants.is_empty() {
            notes.push(format!(
                "allowed{on}{whom}: nothing is isolated on either side{others}"
            ));
        } else if !whom.is_empty() {
            notes.push(format!("allowed{on}{whom}{others}"));
        }
        for g in grants {
            let message = if g.dns {
                format!("its `allow dns` allows it{on}")
            } else {
                format!("this flow allows it{on}")
            };
            if !labels
                .iter()
                .any(|l| l.span == g.source && l.message == message)
            {
                labels.push(crate::diag::Label {
                    span: g.source,
                    message,
                    primary: false,
                });
            }
        }
    }
    if notes.is_empty() && labels.is_empty() {
        return None;
    }
    let mut d = Diagnostic::error("E0601", format!("expectation does not hold: `{}`", x.text))
        .primary(
            x.span,
            if x.allowed {
                "expected to be allowed"
            } else {
                "expected to be denied"
            },
        );
    d.notes = notes;
    d.labels.extend(labels);
    Some(d)
}

/// E0603: the endpoints stand for more kinds of pod than the evaluator decides for.
fn undecided(x: &ir::Expect, limit: usize) -> Diagnostic {
    Diagnostic::error(UNDECIDED, format!("expectation cannot be decided: `{}`", x.text))
        .primary(x.span, "its endpoints stand for too many kinds of pod")
        .note(format!(
            "the selectors of the namespaces involved split these pods into more than {limit} kinds that warden would have to answer for one by one"
        ))
        .help("make the selectors that overlap these services' pods fewer or disjoint, or ask about the services they split")
}
