//! The compliance part of `warden diff`: claimed controls whose standing changed in some
//! namespaces, as `warden audit` counts it (implemented, waived, missing), or whose claim began
//! or ended. A claim that begins and holds is left out: it asks nothing of a reviewer.

use crate::check::compliance::{self, Status};
use crate::ir::Program;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// A claimed control that stands differently in the namespaces listed.
#[derive(Serialize, PartialEq, Eq, Debug, Clone)]
pub struct ControlChange {
    pub block: String,
    pub framework: String,
    pub control: String,
    pub title: String,
    /// `implemented`, `waived`, `missing` or `not claimed`, before and after.
    pub old: String,
    pub new: String,
    pub namespaces: Vec<String>,
    /// It stands worse than before: implemented and now waived or missing, waived and now
    /// missing, or no longer claimed.
    pub weakening: bool,
}

pub const NOT_CLAIMED: &str = "not claimed";

/// (block, framework, control's place in its catalog, control) → namespace → status, with each
/// control's title.
type Key = (String, String, usize, String);
type Standing = BTreeMap<Key, (String, BTreeMap<String, Status>)>;

fn standing(program: &Program) -> Standing {
    let evidence = compliance::evidence(program);
    let mut out = Standing::new();
    for block in compliance::coverage(program, &evidence) {
        for f in &block.frameworks {
            for (i, c) in f.controls.iter().enumerate() {
                if !c.control.in_reach() {
                    continue;
                }
                let key = (
                    block.name.clone(),
                    f.framework.framework.clone(),
                    i,
                    c.control.id.clone(),
                );
                let entry = out
                    .entry(key)
                    .or_insert_with(|| (c.control.title.clone(), BTreeMap::new()));
                for n in &c.namespaces {
                    entry.1.insert(n.namespace.clone(), n.state.status());
                }
            }
        }
    }
    out
}

/// Every claimed control whose standing `new` changes from `old`, namespaces that changed alike
/// together.
pub fn controls(old: &Program, new: &Program) -> Vec<ControlChange> {
    let (a, b) = (standing(old), standing(new));
    let empty = BTreeMap::new();
    let keys: BTreeSet<&Key> = a.keys().chain(b.keys()).collect();
    let mut out = Vec::new();
    for key in keys {
        let (title, before) = a.get(key).map_or(("", &empty), |(t, m)| (t.as_str(), m));
        let (title, after) = b.get(key).map_or((title, &empty), |(t, m)| (t.as_str(), m));
        // Namespaces that moved alike, by the names of where they stood and stand.
        let mut moves: BTreeMap<(&str, &str), (bool, Vec<String>)> = BTreeMap::new();
        let namespaces: BTreeSet<&String> = before.keys().chain(after.keys()).collect();
        for ns in namespaces {
            // `None`: not claimed there.
            let (o, n) = (before.get(ns).copied(), after.get(ns).copied());
            if o == n || (o.is_none() && n == Some(Status::Implemented)) {
                continue;
            }
            let name = |s: Option<Status>| s.map_or(NOT_CLAIMED, Status::name);
            // Statuses are ordered from implemented to missing; losing the claim is worst.
            let weakening = o.is_some_and(|o| n.is_none_or(|n| n > o));
            let entry = moves.entry((name(o), name(n))).or_default();
            entry.0 = weakening;
            entry.1.push(ns.clone());
        }
        for ((o, n), (weakening, namespaces)) in moves {
            out.push(ControlChange {
                block: key.0.clone(),
                framework: key.1.clone(),
                control: key.3.clone(),
                title: title.to_string(),
                old: o.to_string(),
                new: n.to_string(),
                namespaces,
                weakening,
            });
        }
    }
    out
}
