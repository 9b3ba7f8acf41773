//! Addresses outside the cluster as ranges, so that an answer about them can be partial: "from
//! 10.0.0.0/8 only".

use crate::ir::IpBlock;
use ipnet::IpNet;

/// A closed range of addresses of one family (v4 mapped into the low 2^32 values, kept apart
/// from v6 by the flag).
pub(super) type Range = (bool, u128, u128);

pub(super) fn net_range(net: &IpNet) -> Range {
    match net {
        IpNet::V4(n) => (
            false,
            u128::from(u32::from(n.network())),
            u128::from(u32::from(n.broadcast())),
        ),
        IpNet::V6(n) => (true, u128::from(n.network()), u128::from(n.broadcast())),
    }
}

/// The ranges of a block: its CIDR with the exceptions cut out.
pub(super) fn block_ranges(block: &IpBlock) -> Vec<Range> {
    let mut out = vec![net_range(&block.cidr)];
    for ex in &block.except {
        let (v6, lo, hi) = net_range(ex);
        out = out
            .into_iter()
            .flat_map(|(f, a, b)| {
                if f != v6 || hi < a || lo > b {
                    return vec![(f, a, b)];
                }
                let mut parts = Vec::new();
                if lo > a {
                    parts.push((f, a, lo - 1));
                }
                if hi < b {
                    parts.push((f, hi + 1, b));
                }
                parts
            })
            .collect();
    }
    out
}

pub(super) fn merge(mut ranges: Vec<Range>) -> Vec<Range> {
    ranges.sort_unstable();
    let mut out: Vec<Range> = Vec::new();
    for r in ranges {
        match out.last_mut() {
            Some(last) if last.0 == r.0 && r.1 <= last.2.saturating_add(1) => {
                last.2 = last.2.max(r.2);
            }
            _ => out.push(r),
        }
    }
    out
}

pub(super) fn covered(want: Range, merged: &[Range]) -> bool {
    merged
        .iter()
        .any(|r| r.0 == want.0 && r.1 <= want.1 && want.2 <= r.2)
}

pub(super) fn overlaps(want: &[Range], have: &[Range]) -> bool {
    want.iter()
        .any(|w| have.iter().any(|h| h.0 == w.0 && h.1 <= w.2 && w.1 <= h.2))
}
