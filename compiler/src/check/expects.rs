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
            Endpoint::Service(id) => Some(id.clone()),
            Endpoint::Pod(_) | Endpoint::External(_) => None,
        };
        let ports = match &e.port {
            Some(r) => vec![self.port_ref(r, server.as_ref())?],
            None => server
                .as_ref()
                .and_then(|id| self.services.get(id))
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
            ast::Endpoint::Service(r) => self.resolve_service(r, None).map(Endpoint::Service),
        }
    }

    pub(super) fn evaluate_expects(&mut self, expects: &[ir::Expect]) {
        // The evaluator indexes every flow: not worth building for nothing to evaluate.
        if expects.is_empty() {
            return;
        }
        let evaluator = Evaluator::new(&self.program);
        for x in expects {
            let mut diag: Option<Diagnostic> = None;
            for port in x.probes() {
                let verdict = evaluator.evaluate(&x.from, &x.to, port.as_ref());
                let on = port.map(|p| format!(" on {p}")).unwrap_or_default();
                let d = diag.get_or_insert_with(|| {
                    Diagnostic::error("E0601", format!("expectation does not hold: `{}`", x.text))
                        .primary(
                            x.span,
                            if x.allowed {
                                "expected to be allowed"
                            } else {
                                "expected to be denied"
                            },
                        )
                });
                match (x.allowed, verdict) {
                    (true, Verdict::Allowed { .. }) | (false, Verdict::Denied { .. }) => {}
                    (true, Verdict::Denied { reason }) => {
                        d.notes.push(format!("denied{on}: {reason}"));
                    }
                    (true, Verdict::Partial { reason, .. }) => {
                        d.notes.push(format!("allowed only in part{on}: {reason}"));
                    }
                    (false, Verdict::Allowed { by }) | (false, Verdict::Partial { by, .. }) => {
                        if by.is_empty() {
                            d.notes
                                .push(format!("allowed{on}: nothing is isolated on either side"));
                        }
                        for span in by {
                            d.labels.push(crate::diag::Label {
                                span,
                                message: format!("this flow allows it{on}"),
                                primary: false,
                            });
                        }
                    }
                }
            }
            if let Some(d) = diag
                && (!d.notes.is_empty() || d.labels.len() > 1)
            {
                self.diags.push(d);
            }
        }
    }
}
