//! The expectations part of `warden diff`: each `expect` of either program, by its text, where it
//! stands differently in the two (holds, fails, cannot be decided, or is not there). An
//! expectation added that holds is left out, as a claim is: it asks nothing of a reviewer.

use crate::check::expects::{Standing, evaluate};
use crate::ir::Program;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// An expectation that stands differently.
#[derive(Serialize, PartialEq, Eq, Debug, Clone)]
pub struct ExpectChange {
    /// As written, e.g. `expect world -> shop/cart denied`.
    pub expectation: String,
    /// `holds`, `fails`, `undecided` or `absent`, before and after.
    pub old: String,
    pub new: String,
    /// It held before and no longer does: it fails, cannot be decided or is gone.
    pub broken: bool,
}

pub const ABSENT: &str = "absent";

/// Each expectation of `program` by its text. Two with one text ask one question of one program,
/// so they stand alike; the worse is kept all the same.
fn standings(program: &Program) -> BTreeMap<&str, Standing> {
    let mut out: BTreeMap<&str, Standing> = BTreeMap::new();
    for (x, unmet) in program
        .expects
        .iter()
        .zip(evaluate(program, &program.expects))
    {
        let standing = Standing::of(unmet.as_ref());
        let slot = out.entry(x.text.as_str()).or_insert(standing);
        *slot = (*slot).max(standing);
    }
    out
}

/// Every expectation that stands differently in `new` than in `old`, by its text.
pub fn expects(old: &Program, new: &Program) -> Vec<ExpectChange> {
    let (a, b) = (standings(old), standings(new));
    let texts: BTreeSet<&str> = a.keys().chain(b.keys()).copied().collect();
    let mut out = Vec::new();
    for text in texts {
        let (o, n) = (a.get(text).copied(), b.get(text).copied());
        if o == n || (o.is_none() && n == Some(Standing::Holds)) {
            continue;
        }
        let name = |s: Option<Standing>| s.map_or(ABSENT, Standing::name);
        out.push(ExpectChange {
            expectation: text.to_string(),
            old: name(o).to_string(),
            new: name(n).to_string(),
            broken: o == Some(Standing::Holds),
        });
    }
    out
}
