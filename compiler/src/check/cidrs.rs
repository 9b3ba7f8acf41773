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
use std::collections::BTreeMap;

/// Address blocks none of which overlaps another, each with what it came from. Two CIDRs overlap
/// only if one holds the other, so the one a new block overlaps is found in logarithmic time: an
/// `except` list or a flow may name tens of thousands.
pub(super) struct Disjoint<T> {
    by_start: BTreeMap<(bool, u128), (u128, IpNet, T)>,
}

/// A block as a range of addresses: (IPv6, first, last).
fn range(net: &IpNet) -> (bool, u128, u128) {
    match net {
        IpNet::V4(n) => (
            false,
            u32::from(n.network()).into(),
            u32::from(n.broadcast()).into(),
        ),
        IpNet::V6(n) => (true, n.network().into(), n.broadcast().into()),
    }
}

impl<T: Copy> Disjoint<T> {
    pub(super) fn new() -> Self {
        Disjoint {
            by_start: BTreeMap::new(),
        }
    }

    /// A block of the set that holds `net` or lies inside it.
    pub(super) fn overlapping(&self, net: &IpNet) -> Option<(IpNet, T)> {
        let (v6, first, last) = range(net);
        // INVARIANT: the blocks are disjoint, so at most the last one starting at or before
        // `first` can hold it, and the first one starting at or after `first` is the one to test
        // for lying inside it.
        let before = self
            .by_start
            .range(..=(v6, first))
            .next_back()
            .filter(|((family, _), (end, _, _))| *family == v6 && *end >= first);
        let after = self
            .by_start
            .range((v6, first)..)
            .next()
            .filter(|((family, start), _)| *family == v6 && *start <= last);
        before
            .or(after)
            .map(|(_, (_, other, origin))| (*other, *origin))
    }

    /// Adds `net`, which must overlap none of the set.
    pub(super) fn insert(&mut self, net: IpNet, origin: T) {
        let (v6, first, last) = range(&net);
        self.by_start.insert((v6, first), (last, net, origin));
    }
}

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
        let mut excepts: Disjoint<&Ident> = Disjoint::new();
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
            if let Some((other, other_lit)) = excepts.overlapping(&e) {
                self.diags.push(
                    Diagnostic::error("E0303", format!("exceptions `{other}` and `{e}` overlap"))
                        .primary(ex.span, "overlaps another exception")
                        .secondary(other_lit.span, "this one")
                        .help("keep the larger one"),
                );
                ok = false;
                continue;
            }
            excepts.insert(e, ex);
        }
        if !ok {
            return None;
        }
        let mut except: Vec<IpNet> = excepts.by_start.into_values().map(|(_, e, _)| e).collect();
        except.sort();
        Some(IpBlock { cidr: net, except })
    }
}
