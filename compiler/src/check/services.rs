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
use std::collections::BTreeMap;

/// Names of the namespace-wide policies of target `netpol`; a service policy may not take them.
pub const RESERVED: [&str; 2] = ["default-deny", "allow-dns"];

impl Checker<'_> {
    pub(super) fn declare_service(&mut self, svc: &ast::Service) -> Option<ServiceId> {
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
        if let Some(first) = self.services.get(&id) {
            let first = first.span;
            self.duplicate("E0104", "service", &id.to_string(), svc.name.clone(), first);
            return None;
        }
        let labels = self.selector(svc);
        let ports = self.port_decls(svc);
        self.services.insert(
            id.clone(),
            ir::Service {
                id: id.clone(),
                labels,
                ports,
                syscalls: None,
                span: svc.name.span,
            },
        );
        Some(id)
    }

    fn selector(&mut self, svc: &ast::Service) -> BTreeMap<String, String> {
        let mut labels = BTreeMap::new();
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
            return labels;
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
        let mut spans = BTreeMap::new();
        for label in &first.labels {
            self.check_label(label);
            if let Some(prev) = spans.insert(label.key.text.clone(), label.key.span) {
                self.diags.push(
                    Diagnostic::error(
                        "E0111",
                        format!("label `{}` is given twice", label.key.text),
                    )
                    .primary(label.key.span, "again here")
                    .secondary(prev, "first here"),
                );
            }
            labels.insert(label.key.text.clone(), label.value.text.clone());
        }
        labels
    }

    pub(super) fn check_label(&mut self, label: &ast::Label) {
        self.check_label_key(&label.key);
        if let Some(problem) = super::label_value_problem(&label.value.text) {
            self.diags.push(
                Diagnostic::error(
                    "E0110",
                    format!(
                        "`{}` is not a valid label value",
                        label.value.text.escape_debug()
                    ),
                )
                .primary(label.value.span, "Kubernetes rejects this value")
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
