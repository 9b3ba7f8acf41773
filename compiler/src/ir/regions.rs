//! Label regions: the kinds of pod one selector picks that other selectors tell apart.
//!
//! A question about a service is a question about every pod its selector can select, whatever
//! other labels the pod carries. Two such pods that every other selector involved treats alike
//! (each selects both or neither) get the same answer from anything that reads labels only through
//! those selectors. So it is enough to ask about one pod of each consistent combination of them: a
//! region, with a concrete pod in it, its witness.
//!
//! ```text
//! pods app = "reviews"                  // the selector asked about
//! pods app = "reviews", version = "v2"  // another: two regions, app=reviews with version=v2,
//!                                       // and app=reviews without it
//! ```
//!
//! Selectors are conjunctions of requirements on one key each, so a region is found key by key:
//! for each key, the classes of values the selectors distinguish (absent, each value named,
//! any other); then every combination of classes that changes which selectors still hold. The
//! number of regions can grow with the power of the number of overlapping selectors (deciding
//! whether one exists is as hard as satisfiability), so the enumeration stops at a limit and says
//! so instead of answering.

use super::{Operator, Selector};
use std::collections::{BTreeMap, BTreeSet};

/// What a selector allows of one label: whether a pod may lack it, and which values it may have.
#[derive(Clone, Debug, PartialEq, Eq)]
struct KeySet<'a> {
    absent: bool,
    /// `true`: every value except `values`; `false`: exactly `values`.
    cofinite: bool,
    /// INVARIANT: sorted, deduplicated.
    values: Vec<&'a str>,
}

/// One class of a label's values that some selector tells from the others.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Class<'a> {
    /// The pod does not carry the label.
    Absent,
    /// This value.
    Value(&'a str),
    /// A value no selector involved names.
    Other,
}

impl<'a> KeySet<'a> {
    fn any() -> Self {
        KeySet {
            absent: true,
            cofinite: true,
            values: Vec::new(),
        }
    }

    fn contains(&self, class: Class<'_>) -> bool {
        match class {
            Class::Absent => self.absent,
            Class::Value(v) => self.cofinite != self.values.binary_search(&v).is_ok(),
            Class::Other => self.cofinite,
        }
    }

    /// Whether some pod is in both, without making the intersection.
    fn meets(&self, other: &KeySet<'_>) -> bool {
        if self.absent && other.absent {
            return true;
        }
        match (self.cofinite, other.cofinite) {
            (false, false) => self
                .values
                .iter()
                .any(|v| other.values.binary_search(v).is_ok()),
            (false, true) => self
                .values
                .iter()
                .any(|v| other.values.binary_search(v).is_err()),
            (true, false) => other.meets(self),
            // Each allows all but finitely many of infinitely many values.
            (true, true) => true,
        }
    }

    /// Whether every pod in `self` is in `other`.
    fn within(&self, other: &KeySet<'_>) -> bool {
        if self.absent && !other.absent {
            return false;
        }
        match (self.cofinite, other.cofinite) {
            (false, false) => self
                .values
                .iter()
                .all(|v| other.values.binary_search(v).is_ok()),
            (false, true) => self
                .values
                .iter()
                .all(|v| other.values.binary_search(v).is_err()),
            // Infinitely many values are never within finitely many.
            (true, false) => false,
            (true, true) => other
                .values
                .iter()
                .all(|v| self.values.binary_search(v).is_ok()),
        }
    }
}

/// A selector as one set per key, sorted by key.
fn key_sets(sel: &Selector) -> Vec<(&str, KeySet<'_>)> {
    let mut out: Vec<(&str, KeySet<'_>)> = sel
        .match_labels
        .iter()
        .map(|(k, v)| {
            (
                k.as_str(),
                KeySet {
                    absent: false,
                    cofinite: false,
                    values: vec![v.as_str()],
                },
            )
        })
        .collect();
    for e in &sel.expressions {
        let values = || e.values.iter().map(String::as_str).collect();
        let set = match e.operator {
            Operator::In => KeySet {
                absent: false,
                cofinite: false,
                values: values(),
            },
            Operator::NotIn => KeySet {
                absent: true,
                cofinite: true,
                values: values(),
            },
            Operator::Exists => KeySet {
                absent: false,
                cofinite: true,
                values: Vec::new(),
            },
            Operator::DoesNotExist => KeySet {
                absent: true,
                cofinite: false,
                values: Vec::new(),
            },
        };
        out.push((e.key.as_str(), set));
    }
    // INVARIANT (Selector): one requirement per key, so keys are unique once merged.
    out.sort_by(|a, b| a.0.cmp(b.0));
    out
}

fn set_of<'s, 'a>(sets: &'s [(&'a str, KeySet<'a>)], key: &str) -> Option<&'s KeySet<'a>> {
    sets.binary_search_by(|(k, _)| (*k).cmp(key))
        .ok()
        .and_then(|i| sets.get(i))
        .map(|(_, s)| s)
}

/// A selector as one set of values per key, made once to be compared with many others.
pub struct Requirements<'a>(Vec<(&'a str, KeySet<'a>)>);

impl<'a> Requirements<'a> {
    pub fn of(sel: &'a Selector) -> Self {
        Requirements(key_sets(sel))
    }

    /// Whether some pod is selected by both.
    pub fn meets(&self, other: &Requirements<'_>) -> bool {
        other
            .0
            .iter()
            .all(|(k, set)| set_of(&self.0, k).is_none_or(|mine| mine.meets(set)))
    }

    /// Whether every pod this selects is selected by `other`.
    pub fn within(&self, other: &Requirements<'_>) -> bool {
        let any = KeySet::any();
        other
            .0
            .iter()
            .all(|(k, set)| set_of(&self.0, k).unwrap_or(&any).within(set))
    }
}

/// Whether some pod is selected by both.
pub fn compatible(a: &Selector, b: &Selector) -> bool {
    Requirements::of(a).meets(&Requirements::of(b))
}

/// Whether every pod `a` selects is selected by `b`.
pub fn within(a: &Selector, b: &Selector) -> bool {
    Requirements::of(a).within(&Requirements::of(b))
}

/// One region of the pods a selector picks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Region {
    /// The labels of a pod of the region.
    pub labels: BTreeMap<String, String>,
    /// For each of the other selectors, in their order, whether it selects the region's pods.
    pub selected: Vec<bool>,
}

/// More regions than the limit: the question is not answered rather than answered by a sample.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TooMany {
    pub limit: usize,
}

/// The regions of the pods `base` selects that `others` tell apart, each with its witness; in a
/// deterministic order, the region whose witness has the fewest labels added first.
pub fn regions(
    base: &Selector,
    others: &[&Selector],
    limit: usize,
) -> Result<Vec<Region>, TooMany> {
    let base_sets = key_sets(base);
    // Selectors that select every pod of `base`, or none, do not split it.
    let mut fixed: Vec<Option<bool>> = Vec::with_capacity(others.len());
    let mut splitting: Vec<(usize, Vec<(&str, KeySet<'_>)>)> = Vec::new();
    for (i, other) in others.iter().enumerate() {
        let sets = key_sets(other);
        let meets = sets
            .iter()
            .all(|(k, set)| set_of(&base_sets, k).is_none_or(|mine| mine.meets(set)));
        let inside = meets
            && sets
                .iter()
                .all(|(k, set)| set_of(&base_sets, k).unwrap_or(&KeySet::any()).within(set));
        if !meets {
            fixed.push(Some(false));
        } else if inside {
            fixed.push(Some(true));
        } else {
            fixed.push(None);
            splitting.push((i, sets));
        }
    }
    // Every key a splitting selector names, with the classes of its values that behave
    // differently: each class with whether each splitting selector naming the key allows it.
    let mut keys: Vec<&str> = splitting
        .iter()
        .flat_map(|(_, sets)| sets.iter().map(|(k, _)| *k))
        .collect();
    keys.sort_unstable();
    keys.dedup();
    let any = KeySet::any();
    let mut atoms_by_key: Vec<KeyAtoms<'_>> = Vec::new();
    for &key in &keys {
        let base_set = set_of(&base_sets, key).unwrap_or(&any);
        let naming: Vec<(usize, &KeySet<'_>)> = splitting
            .iter()
            .enumerate()
            .filter_map(|(j, (_, sets))| set_of(sets, key).map(|s| (j, s)))
            .collect();
        let mut values: Vec<&str> = base_set
            .values
            .iter()
            .chain(naming.iter().flat_map(|(_, s)| s.values.iter()))
            .copied()
            .collect();
        values.sort_unstable();
        values.dedup();
        let classes = std::iter::once(Class::Absent)
            .chain(values.iter().map(|v| Class::Value(v)))
            .chain(std::iter::once(Class::Other));
        let mut atoms: Vec<(Class<'_>, Vec<(usize, bool)>)> = Vec::new();
        for class in classes.filter(|c| base_set.contains(*c)) {
            let membership: Vec<(usize, bool)> = naming
                .iter()
                .map(|(j, s)| (*j, s.contains(class)))
                .collect();
            if !atoms.iter().any(|(_, m)| *m == membership) {
                atoms.push((class, membership));
            }
        }
        atoms_by_key.push(KeyAtoms { key, values, atoms });
    }
    // Key by key, the combinations of splitting selectors that can still hold, each with the
    // classes that make it so (the first found).
    let mut states: BTreeMap<Vec<bool>, Vec<(&str, Class<'_>)>> = BTreeMap::new();
    states.insert(vec![true; splitting.len()], Vec::new());
    for KeyAtoms { key, atoms, .. } in &atoms_by_key {
        let mut next: BTreeMap<Vec<bool>, Vec<(&str, Class<'_>)>> = BTreeMap::new();
        for (alive, chosen) in &states {
            for (class, membership) in atoms {
                let mut state = alive.clone();
                for &(j, holds) in membership {
                    if let Some(s) = state.get_mut(j) {
                        *s &= holds;
                    }
                }
                next.entry(state).or_insert_with(|| {
                    let mut c = chosen.clone();
                    c.push((key, *class));
                    c
                });
            }
            if next.len() > limit {
                return Err(TooMany { limit });
            }
        }
        states = next;
    }
    let mut out: Vec<Region> = states
        .into_iter()
        .map(|(alive, chosen)| {
            let mut selected: Vec<bool> = fixed.iter().map(|f| f.unwrap_or(false)).collect();
            for ((i, _), holds) in splitting.iter().zip(alive) {
                if let Some(s) = selected.get_mut(*i) {
                    *s = holds;
                }
            }
            Region {
                labels: witness(&base_sets, &chosen, &atoms_by_key),
                selected,
            }
        })
        .collect();
    out.sort_by(|a, b| {
        (a.labels.len(), &a.labels, &a.selected).cmp(&(b.labels.len(), &b.labels, &b.selected))
    });
    Ok(out)
}

/// A key that splitting selectors name: every value they (and the base) name, and one class of
/// values for each way the selectors naming the key treat them, with whether each selector
/// (by its place among the splitting ones) allows it.
struct KeyAtoms<'a> {
    key: &'a str,
    values: Vec<&'a str>,
    atoms: Vec<(Class<'a>, Vec<(usize, bool)>)>,
}

/// The labels of a pod in `base` whose chosen keys are in the chosen classes.
fn witness(
    base: &[(&str, KeySet<'_>)],
    chosen: &[(&str, Class<'_>)],
    atoms: &[KeyAtoms<'_>],
) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::new();
    for (key, set) in base {
        if chosen.iter().any(|(k, _)| k == key) {
            continue;
        }
        // A pod without the label where the selector allows it, else a value it allows.
        if set.absent {
            continue;
        }
        let value = if set.cofinite {
            fresh(&set.values, "true")
        } else {
            set.values
                .first()
                .map_or_else(String::new, |v| (*v).to_string())
        };
        labels.insert((*key).to_string(), value);
    }
    for (key, class) in chosen {
        match class {
            Class::Absent => {}
            Class::Value(v) => {
                labels.insert((*key).to_string(), (*v).to_string());
            }
            Class::Other => {
                // Not a value any selector names, or the pod would be in that value's class.
                let named = atoms
                    .iter()
                    .find(|a| a.key == *key)
                    .map_or(&[][..], |a| a.values.as_slice());
                labels.insert((*key).to_string(), fresh(named, "other"));
            }
        }
    }
    labels
}

/// `preferred`, or `preferred-2`, `preferred-3`, …: the first not in `taken` (a valid label value).
fn fresh(taken: &[&str], preferred: &str) -> String {
    if !taken.contains(&preferred) {
        return preferred.to_string();
    }
    (2..)
        .map(|i| format!("{preferred}-{i}"))
        .find(|v| !taken.contains(&v.as_str()))
        .unwrap_or_default()
}

/// Which of a list of selectors might meet which: those that require no different values of a
/// label both require by equality. A selector with `key = value` can only meet those with the
/// same, or with no equality on `key`; each group looks for others through its rarest such key
/// (its door), so that services told apart by an `app` label of their own are not compared with
/// each other.
/// The most selectors without a key that a door through that key may leave to be compared.
const MAX_LACKING: usize = 1024;

pub struct Candidates<'s> {
    selectors: Vec<&'s Selector>,
    by_value: BTreeMap<(&'s str, &'s str), Vec<usize>>,
    /// For each key some selector's door is, the selectors that do not require it by equality.
    without: BTreeMap<&'s str, Vec<usize>>,
    doors: Vec<Option<(&'s str, &'s str)>>,
}

impl<'s> Candidates<'s> {
    pub fn new(selectors: Vec<&'s Selector>) -> Self {
        let mut by_value: BTreeMap<(&str, &str), Vec<usize>> = BTreeMap::new();
        let mut with_key: BTreeMap<&str, usize> = BTreeMap::new();
        for (i, sel) in selectors.iter().enumerate() {
            for (k, v) in &sel.match_labels {
                by_value.entry((k, v)).or_default().push(i);
                *with_key.entry(k).or_default() += 1;
            }
        }
        let lacking = |k: &str| selectors.len() - with_key.get(k).copied().unwrap_or(0);
        // A door whose selectors without its key are many is no door: those would all be
        // candidates, and listing them for every key would take memory growing with the square
        // of the selectors.
        let doors: Vec<Option<(&str, &str)>> = selectors
            .iter()
            .map(|sel| {
                sel.match_labels
                    .iter()
                    .filter(|(k, _)| lacking(k) <= MAX_LACKING)
                    .min_by_key(|(k, v)| {
                        by_value.get(&(k.as_str(), v.as_str())).map_or(0, Vec::len) + lacking(k)
                    })
                    .map(|(k, v)| (k.as_str(), v.as_str()))
            })
            .collect();
        let door_keys: BTreeSet<&str> = doors.iter().flatten().map(|(k, _)| *k).collect();
        let without: BTreeMap<&str, Vec<usize>> = door_keys
            .into_iter()
            .map(|k| {
                let lacking = (0..selectors.len())
                    .filter(|&i| {
                        selectors.get(i).is_some_and(|s| {
                            s.match_labels
                                .binary_search_by(|(key, _)| key.as_str().cmp(k))
                                .is_err()
                        })
                    })
                    .collect();
                (k, lacking)
            })
            .collect();
        Candidates {
            selectors,
            by_value,
            without,
            doors,
        }
    }

    /// Whether `j` is among the selectors `i` looks at.
    fn sees(&self, i: usize, j: usize) -> bool {
        match self.doors.get(i).copied().flatten() {
            None => true,
            Some((k, v)) => self.selectors.get(j).is_some_and(|s| {
                s.match_labels
                    .iter()
                    .find(|(key, _)| key == k)
                    .is_none_or(|(_, value)| value == v)
            }),
        }
    }

    /// The selectors `i` might meet (every one it does meet among them), itself aside.
    pub fn of(&self, i: usize) -> impl Iterator<Item = usize> + '_ {
        let (same, free, all) = match self.doors.get(i).copied().flatten() {
            Some((k, v)) => (
                self.by_value.get(&(k, v)).map_or(&[][..], Vec::as_slice),
                self.without.get(k).map_or(&[][..], Vec::as_slice),
                0,
            ),
            None => (&[][..], &[][..], self.selectors.len()),
        };
        same.iter()
            .chain(free)
            .copied()
            .chain(0..all)
            .filter(move |&j| j != i)
    }

    /// Calls `pair` with each pair that might meet once, until it returns `false`.
    pub fn pairs(&self, mut pair: impl FnMut(usize, usize) -> bool) {
        for i in 0..self.selectors.len() {
            for j in self.of(i) {
                // Each pair from the first of the two, unless the second does not see the first.
                if (j > i || !self.sees(j, i)) && !pair(i, j) {
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
