//! Services: their names, the pods they select and the ports they serve.
//!
//! ```text
//! service cart in shop { pods app = "cart"  port grpc 7070/tcp }   // accepted
//! service cart in shop { port grpc 7070/tcp }                      // E0106: selects no pods
//! ```

use super::Checker;
use crate::ast;
use crate::diag::Diagnostic;
use crate::ir::{self, ServiceId};
use crate::span::Span;
use std::collections::BTreeMap;
use std::collections::hash_map::Entry;

/// The services declared so far, by namespace and name, with the span of each one's name.
pub(super) type Seen<'f> = ahash::HashMap<(&'f str, &'f str), Span>;

/// Names of the namespace-wide policies of target `netpol`; a service policy may not take them.
pub const RESERVED: [&str; 3] = ["default-deny", "allow-dns", "namespace-flows"];

impl Checker<'_> {
    /// The service `svc` declares, unless an earlier one in `seen` (by namespace and name, with
    /// its name's span) has its id; the caller gathers them into the checker's ordered map at
    /// once, rather than by one search and insertion each.
    pub(super) fn declare_service<'f>(
        &mut self,
        svc: &'f ast::Service,
        seen: &mut Seen<'f>,
    ) -> Option<ir::Service> {
        // Reported, but the service is still declared, so that references to it do not cascade
        // into "unknown service" errors.
        self.known_namespace(&svc.namespace);
        self.check_dns_label(&svc.name, "service");
        if RESERVED.contains(&svc.name.text.as_str()) {
            self.diags.push(
                Diagnostic::error("E0107", format!("`{}` is a reserved name", svc.name.text))
                    .primary(
                        svc.name.span,
                        "warden names a namespace-wide policy this way",
                    )
                    .help("choose another service name"),
            );
        }
        let id = ServiceId {
            namespace: svc.namespace.text.clone(),
            name: svc.name.text.clone(),
        };
        match seen.entry((&svc.namespace.text, &svc.name.text)) {
            Entry::Occupied(first) => {
                let first = *first.get();
                self.duplicate("E0104", "service", &id.to_string(), svc.name.clone(), first);
                return None;
            }
            Entry::Vacant(slot) => {
                slot.insert(svc.name.span);
            }
        }
        let selector = self.selector(svc);
        let ports = self.port_decls(svc);
        Some(ir::Service {
            id,
            selector,
            ports,
            isolate_ingress: svc
                .isolate
                .iter()
                .any(|(d, _)| *d != Some(ast::Direction::Egress)),
            isolate_egress: svc
                .isolate
                .iter()
                .any(|(d, _)| *d != Some(ast::Direction::Ingress)),
            syscalls: None,
            accepted: super::accepts::annotation(&svc.accepts),
            span: svc.name.span,
        })
    }

    fn selector(&mut self, svc: &ast::Service) -> ir::Selector {
        let Some(first) = svc.pods.first() else {
            self.diags.push(
                Diagnostic::error(
                    "E0106",
                    format!("service `{}` selects no pods", svc.name.text),
                )
                .primary(svc.name.span, "this service has no `pods` line")
                .note("without a selector its policy would apply to every pod of the namespace")
                .help(format!(
                    "add `pods app = \"{}\"` with the labels its pods carry",
                    svc.name.text
                )),
            );
            return ir::Selector::default();
        };
        for again in svc.pods.iter().skip(1) {
            self.diags.push(
                Diagnostic::error(
                    "E0112",
                    format!("service `{}` has two `pods` lines", svc.name.text),
                )
                .primary(again.span, "second selector")
                .secondary(first.span, "first selector")
                .help("put every label in one line: `pods app = \"x\", tier = \"y\"`"),
            );
        }
        self.label_selector(first)
    }

    /// Resolves a label selector, one requirement per key. `key in (v)` with a single value is the
    /// same as `key = v` and becomes it, so that selectors meaning the same compile the same.
    pub(super) fn label_selector(&mut self, sel: &ast::Selector) -> ir::Selector {
        let mut out = ir::Selector {
            match_labels: Vec::with_capacity(sel.requirements.len()),
            expressions: Vec::new(),
        };
        let mut spans: BTreeMap<&str, Span> = BTreeMap::new();
        let mut expressions = Vec::new();
        for req in &sel.requirements {
            let key = req.key();
            self.check_label_key(key);
            if let Some(prev) = spans.insert(&key.text, key.span) {
                self.diags.push(
                    Diagnostic::error("E0111", format!("label `{}` is given twice", key.text))
                        .primary(key.span, "again here")
                        .secondary(prev, "first here")
                        .help("one requirement per label: `key in (a, b)` takes several values"),
                );
                continue;
            }
            let (operator, values) = match req {
                ast::Requirement::Equals(label) => {
                    self.check_label(label);
                    out.match_labels
                        .push((key.text.clone(), label.value.text.clone()));
                    continue;
                }
                ast::Requirement::In { values, .. } => (ir::Operator::In, values.as_slice()),
                ast::Requirement::NotIn { values, .. } => (ir::Operator::NotIn, values.as_slice()),
                ast::Requirement::Exists(_) => (ir::Operator::Exists, [].as_slice()),
                ast::Requirement::DoesNotExist(_) => (ir::Operator::DoesNotExist, [].as_slice()),
            };
            for v in values {
                self.check_label_value(v);
            }
            let mut values: Vec<String> = values.iter().map(|v| v.text.clone()).collect();
            values.sort();
            values.dedup();
            if operator == ir::Operator::In
                && let [only] = values.as_slice()
            {
                out.match_labels.push((key.text.clone(), only.clone()));
                continue;
            }
            expressions.push(ir::Expression {
                key: key.text.clone(),
                operator,
                values,
            });
        }
        expressions.sort();
        out.expressions = expressions;
        // Keys are unique (a second requirement on a key is E0111 above).
        out.match_labels.sort();
        out
    }

    pub(super) fn check_label(&mut self, label: &ast::Label) {
        self.check_label_key(&label.key);
        self.check_label_value(&label.value);
    }

    fn check_label_value(&mut self, value: &ast::Ident) {
        if let Some(problem) = super::label_value_problem(&value.text) {
            self.diags.push(
                Diagnostic::error(
                    "E0110",
                    format!("`{}` is not a valid label value", value.text.escape_debug()),
                )
                .primary(value.span, "Kubernetes rejects this value")
                .note(problem),
            );
        }
    }

    pub(super) fn check_label_key(&mut self, key: &ast::Ident) {
        if let Some(problem) = super::label_key_problem(&key.text) {
            self.diags.push(
                Diagnostic::error(
                    "E0110",
                    format!("`{}` is not a valid label key", key.text.escape_debug()),
                )
                .primary(key.span, "Kubernetes rejects this key")
                .note(problem),
            );
        }
    }
}
