//! The `dns` block: where the cluster DNS runs, for every namespace's `allow dns`.
//!
//! ```text
//! dns { namespace kube-system  pods k8s-app = "kube-dns"  nodelocal 169.254.20.10 }   // accepted
//! dns { nodelocal 169.254.20.300 }                                                  // E0301
//! ```

use super::Checker;
use crate::ast;
use crate::diag::Diagnostic;
use crate::ir::Dns;
use ipnet::IpNet;
use std::net::IpAddr;

impl Checker<'_> {
    pub(super) fn check_dns(&mut self, blocks: &[&ast::Dns]) {
        let Some(first) = blocks.first() else {
            return;
        };
        for again in blocks.iter().skip(1) {
            self.diags.push(
                Diagnostic::error("E0115", "the cluster DNS is described twice")
                    .primary(again.span, "second `dns` block")
                    .secondary(first.span, "first `dns` block")
                    .help("a cluster has one DNS: keep one block"),
            );
        }
        let mut dns = Dns::default();
        if let Some(ns) = &first.namespace
            && self.check_dns_label(ns, "namespace")
        {
            dns.namespace = ns.text.clone();
        }
        if let Some(pods) = &first.pods {
            dns.pods = self.label_selector(pods);
        }
        if let Some(ip) = &first.nodelocal {
            match ip.text.parse::<IpAddr>() {
                Ok(addr) => dns.nodelocal = Some(IpNet::from(addr)),
                Err(_) => self.diags.push(
                    Diagnostic::error("E0301", format!("`{}` is not a valid IP address", ip.text))
                        .primary(ip.span, "not an IPv4 or IPv6 address")
                        .help("NodeLocal DNSCache listens on a link-local address, usually `169.254.20.10`"),
                ),
            }
        }
        self.program.dns = dns;
    }
}
