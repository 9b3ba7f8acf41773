//! Expectations: `expect A -> B [on PORT] allowed|denied`, answered by the connectivity evaluator.
//!
//! ```text
//! expect frontend -> cart on grpc allowed     // accepted when a flow allows it
//! expect world -> cart denied                 // E0601 if any flow lets the world reach `cart`
//! ```

use super::Checker;
use crate::ast;
use crate::diag::Diagnostic;
use crate::ir::connectivity::{Evaluator, Verdict};
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
            Some(r) => vec![self.port_ref(r, server)?],
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
        // The evaluator indexes every flow: not worth building for nothing to evaluate.
        if expects.is_empty() {
            return;
        }
        let evaluator = Evaluator::new(&self.program);
        // Each expectation only reads the program: answered on every core, reported in order.
        let unmet = crate::parallel::map(expects, |x| unmet(&evaluator, x));
        self.diags.extend(unmet.into_iter().flatten());
    }
}

/// E0601 for an expectation that does not hold, naming why for each port it probes.
fn unmet(evaluator: &Evaluator<'_>, x: &ir::Expect) -> Option<Diagnostic> {
    let mut notes = Vec::new();
    let mut labels = Vec::new();
    for port in x.probes() {
        let verdict = evaluator.evaluate(&x.from, &x.to, port.as_ref());
        let on = || {
            port.as_ref()
                .map(|p| format!(" on {p}"))
                .unwrap_or_default()
        };
        match (x.allowed, verdict) {
            (true, Verdict::Allowed { .. }) | (false, Verdict::Denied { .. }) => {}
            (true, Verdict::Denied { reason }) => {
                notes.push(format!("denied{}: {reason}", on()));
            }
            (true, Verdict::Partial { reason, .. }) => {
                notes.push(format!("allowed only in part{}: {reason}", on()));
            }
            (false, Verdict::Allowed { by }) | (false, Verdict::Partial { by, .. }) => {
                if by.is_empty() {
                    notes.push(format!(
                        "allowed{}: nothing is isolated on either side",
                        on()
                    ));
                }
                for span in by {
                    labels.push(crate::diag::Label {
                        span,
                        message: format!("this flow allows it{}", on()),
                        primary: false,
                    });
                }
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
