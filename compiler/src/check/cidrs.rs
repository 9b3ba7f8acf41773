//! CIDRs: parsed with `ipnet`, exceptions inside their block and apart from each other.
//!
//! ```text
//! to cidr 10.0.0.0/8 except 10.1.0.0/16 on 443       // accepted
//! to cidr 10.0.0.1/8 except 192.168.0.0/16           // E0301 host bits set; E0302 outside
//! ```

use super::Checker;
use crate::ast::Ident;
use crate::diag::Diagnostic;
use crate::ir::IpBlock;
use ipnet::IpNet;

impl Checker<'_> {
    pub(super) fn cidr(&mut self, lit: &Ident) -> Option<IpNet> {
        let net: IpNet = match lit.text.parse() {
            Ok(net) => net,
            Err(_) => {
                self.diags.push(
                    Diagnostic::error("E0301", format!("`{}` is not a valid CIDR", lit.text))
                        .primary(lit.span, "not an address and prefix length")
                        .help("write an IPv4 or IPv6 network, e.g. `10.0.0.0/8` or `fd00::/8`"),
                );
                return None;
            }
        };
        if net.trunc() != net {
            self.diags.push(
                Diagnostic::error("E0301", format!("`{}` has host bits set", lit.text))
                    .primary(lit.span, "the address is not the start of its network")
                    .note(
                        "Kubernetes rejects such a CIDR, and it is often a typo for another prefix",
                    )
                    .help(format!("write `{}`", net.trunc())),
            );
            return None;
        }
        Some(net)
    }

    pub(super) fn ip_block(&mut self, cidr: &Ident, except: &[Ident]) -> Option<IpBlock> {
        let net = self.cidr(cidr)?;
        let mut ok = true;
        let mut excepts: Vec<(IpNet, &Ident)> = Vec::new();
        for ex in except {
            let Some(e) = self.cidr(ex) else {
                ok = false;
                continue;
            };
            if !net.contains(&e) || e == net {
                let why = if e == net {
                    "an exception equal to the block leaves nothing"
                } else {
                    "not inside the block"
                };
                self.diags.push(
                    Diagnostic::error("E0302", format!("exception `{e}` is not inside `{net}`"))
                        .primary(ex.span, why)
                        .secondary(cidr.span, "the block")
                        .note(
                            "Kubernetes requires every `except` to be strictly inside its `cidr`",
                        ),
                );
                ok = false;
                continue;
            }
            if let Some((other, other_lit)) = excepts
                .iter()
                .find(|(o, _)| o.contains(&e) || e.contains(o))
            {
                self.diags.push(
                    Diagnostic::error("E0303", format!("exceptions `{other}` and `{e}` overlap"))
                        .primary(ex.span, "overlaps another exception")
                        .secondary(other_lit.span, "this one")
                        .help("keep the larger one"),
                );
                ok = false;
                continue;
            }
            excepts.push((e, ex));
        }
        if !ok {
            return None;
        }
        let mut except: Vec<IpNet> = excepts.into_iter().map(|(e, _)| e).collect();
        except.sort();
        Some(IpBlock { cidr: net, except })
    }
}
