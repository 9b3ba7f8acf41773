//! Label selectors as a NetworkPolicy writes them (`matchLabels` and `matchExpressions`, several
//! requirements on one key allowed) folded into a program's selectors, which say one requirement
//! per key.

use crate::infer::names::{label_key_ok, label_value_ok};
use crate::ir::{Expression, Operator, Selector};
use crate::manifests::yaml::Node;
use std::collections::{BTreeMap, BTreeSet};

/// One key's requirement, as a program says it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Requirement {
    Equals(String),
    In(BTreeSet<String>),
    NotIn(BTreeSet<String>),
    Exists,
    Absent,
}

/// A selector: every requirement holds. Empty: every pod (or namespace).
pub type Requirements = BTreeMap<String, Requirement>;

/// What a selector picks.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Picks {
    /// Those with the labels.
    Some(Requirements),
    /// Its requirements contradict each other (`app In (a)` and `app In (b)`): nothing.
    Nothing,
}

/// Why a selector cannot be read or said, and the line.
pub struct Problem {
    pub line: u32,
    pub message: String,
    /// The API server would refuse it (rather than warden not saying it).
    pub invalid: bool,
}

/// All that the requirements on one key say together.
#[derive(Default)]
struct Fold {
    present: Option<bool>,
    allowed: Option<BTreeSet<String>>,
    excluded: BTreeSet<String>,
    contradiction: bool,
}

impl Fold {
    fn must_exist(&mut self, exists: bool) {
        if self.present.is_some_and(|p| p != exists) {
            self.contradiction = true;
        }
        self.present = Some(exists);
    }

    fn within(&mut self, values: BTreeSet<String>) {
        self.must_exist(true);
        self.allowed = Some(match self.allowed.take() {
            Some(a) => a.intersection(&values).cloned().collect(),
            None => values,
        });
    }

    fn requirement(self, key: &str, line: u32) -> Result<Option<Requirement>, Problem> {
        if self.contradiction {
            return Ok(None);
        }
        if let Some(allowed) = self.allowed {
            let left: BTreeSet<String> = allowed.difference(&self.excluded).cloned().collect();
            return Ok(match left.len() {
                0 => None,
                1 => left.into_iter().next().map(Requirement::Equals),
                _ => Some(Requirement::In(left)),
            });
        }
        match (self.present, self.excluded.is_empty()) {
            (Some(false), _) => Ok(Some(Requirement::Absent)),
            (Some(true), true) => Ok(Some(Requirement::Exists)),
            (Some(true), false) => Err(Problem {
                line,
                message: format!(
                    "label `{key}` must exist and not be {}: a program says one requirement per label, and no single one says both",
                    list(&self.excluded)
                ),
                invalid: false,
            }),
            (None, _) => Ok(Some(Requirement::NotIn(self.excluded))),
        }
    }
}

fn list(values: &BTreeSet<String>) -> String {
    values
        .iter()
        .map(|v| format!("`{v}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn invalid(line: u32, message: String) -> Problem {
    Problem {
        line,
        message,
        invalid: true,
    }
}

/// Reads a `LabelSelector`; a missing one picks everything, as an empty one does.
pub fn read(node: Option<&Node>) -> Result<Picks, Problem> {
    let Some(node) = node else {
        return Ok(Picks::Some(Requirements::new()));
    };
    let mut folds: BTreeMap<String, (Fold, u32)> = BTreeMap::new();
    let key_ok = |key: &str, line: u32| {
        if label_key_ok(key) {
            Ok(())
        } else {
            Err(invalid(line, format!("`{key}` is not a label key")))
        }
    };
    let value_ok = |value: &str, line: u32| {
        if label_value_ok(value) {
            Ok(())
        } else {
            Err(invalid(line, format!("`{value}` is not a label value")))
        }
    };
    for (key, value) in node
        .get("matchLabels")
        .map(Node::entries)
        .unwrap_or_default()
    {
        key_ok(key, value.line)?;
        let text = value.str().unwrap_or_default();
        value_ok(text, value.line)?;
        let (fold, _) = folds
            .entry(key.clone())
            .or_insert_with(|| (Fold::default(), value.line));
        fold.within([text.to_string()].into());
    }
    for e in node
        .get("matchExpressions")
        .map(Node::seq)
        .unwrap_or_default()
    {
        let key = e.get("key").and_then(Node::str).unwrap_or_default();
        key_ok(key, e.line)?;
        let values: BTreeSet<String> = e
            .get("values")
            .map(Node::seq)
            .unwrap_or_default()
            .iter()
            .map(|v| v.str().unwrap_or_default().to_string())
            .collect();
        for v in &values {
            value_ok(v, e.line)?;
        }
        let operator = e.get("operator").and_then(Node::str).unwrap_or_default();
        let (fold, _) = folds
            .entry(key.to_string())
            .or_insert_with(|| (Fold::default(), e.line));
        match operator {
            "In" | "NotIn" if values.is_empty() => {
                return Err(invalid(
                    e.line,
                    format!("`{key} {operator}` needs at least one value"),
                ));
            }
            "Exists" | "DoesNotExist" if !values.is_empty() => {
                return Err(invalid(
                    e.line,
                    format!("`{key} {operator}` takes no values"),
                ));
            }
            "In" => fold.within(values),
            "NotIn" => fold.excluded.extend(values),
            "Exists" => fold.must_exist(true),
            "DoesNotExist" => fold.must_exist(false),
            other => {
                return Err(invalid(
                    e.line,
                    format!(
                        "`{other}` is not an operator of a label selector (In, NotIn, Exists, DoesNotExist)"
                    ),
                ));
            }
        }
    }
    let mut out = Requirements::new();
    for (key, (fold, line)) in folds {
        match fold.requirement(&key, line)? {
            Some(r) => {
                out.insert(key, r);
            }
            None => return Ok(Picks::Nothing),
        }
    }
    Ok(Picks::Some(out))
}

/// The selector as a program writes it: `app = "web", tier in ("a", "b"), gpu, !legacy`.
pub fn text(requirements: &Requirements) -> String {
    let quoted = |values: &BTreeSet<String>| {
        values
            .iter()
            .map(|v| crate::format::quote(v))
            .collect::<Vec<_>>()
            .join(", ")
    };
    requirements
        .iter()
        .map(|(key, r)| match r {
            Requirement::Equals(v) => format!("{key} = {}", crate::format::quote(v)),
            Requirement::In(vs) => format!("{key} in ({})", quoted(vs)),
            Requirement::NotIn(vs) => format!("{key} notin ({})", quoted(vs)),
            Requirement::Exists => key.clone(),
            Requirement::Absent => format!("!{key}"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The selector as the compiler holds one, to ask whether two can pick a common pod.
pub fn ir(requirements: &Requirements) -> Selector {
    let mut match_labels = Vec::new();
    let mut expressions = Vec::new();
    for (key, r) in requirements {
        let (operator, values) = match r {
            Requirement::Equals(v) => {
                match_labels.push((key.clone(), v.clone()));
                continue;
            }
            Requirement::In(vs) => (Operator::In, vs.iter().cloned().collect()),
            Requirement::NotIn(vs) => (Operator::NotIn, vs.iter().cloned().collect()),
            Requirement::Exists => (Operator::Exists, Vec::new()),
            Requirement::Absent => (Operator::DoesNotExist, Vec::new()),
        };
        expressions.push(Expression {
            key: key.clone(),
            operator,
            values,
        });
    }
    Selector {
        match_labels,
        expressions,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn picks(yaml: &str) -> Result<Picks, String> {
        let node = crate::manifests::yaml::read(yaml.as_bytes())
            .map_err(|e| e.message)?
            .into_iter()
            .next();
        read(node.as_ref()).map_err(|p| p.message)
    }

    fn said(yaml: &str) -> String {
        match picks(yaml) {
            Ok(Picks::Some(r)) => text(&r),
            Ok(Picks::Nothing) => "nothing".to_string(),
            Err(e) => format!("error: {e}"),
        }
    }

    #[test]
    fn requirements_on_one_key_fold_into_one() {
        for (yaml, expected) in [
            ("{}", ""),
            ("matchLabels: {app: web}", "app = \"web\""),
            (
                "matchLabels: {app: web}\nmatchExpressions: [{key: app, operator: In, values: [web, api]}]",
                "app = \"web\"",
            ),
            (
                "matchExpressions: [{key: t, operator: In, values: [a, b, c]}, {key: t, operator: NotIn, values: [b]}]",
                "t in (\"a\", \"c\")",
            ),
            (
                "matchExpressions: [{key: t, operator: NotIn, values: [a]}, {key: t, operator: NotIn, values: [b]}]",
                "t notin (\"a\", \"b\")",
            ),
            (
                "matchExpressions: [{key: t, operator: NotIn, values: [a]}, {key: t, operator: DoesNotExist}]",
                "!t",
            ),
            (
                "matchExpressions: [{key: t, operator: Exists}, {key: t, operator: In, values: [x]}]",
                "t = \"x\"",
            ),
            ("matchExpressions: [{key: gpu, operator: Exists}]", "gpu"),
            (
                "matchLabels: {app: web, tier: \"1\"}",
                "app = \"web\", tier = \"1\"",
            ),
            // Contradictions pick nothing.
            (
                "matchLabels: {app: web}\nmatchExpressions: [{key: app, operator: NotIn, values: [web]}]",
                "nothing",
            ),
            (
                "matchExpressions: [{key: t, operator: Exists}, {key: t, operator: DoesNotExist}]",
                "nothing",
            ),
            (
                "matchExpressions: [{key: t, operator: In, values: [a]}, {key: t, operator: In, values: [b]}]",
                "nothing",
            ),
        ] {
            assert_eq!(said(yaml), expected, "{yaml}");
        }
    }

    #[test]
    fn what_cannot_be_read_or_said_is_named() {
        for (yaml, expected) in [
            (
                "matchExpressions: [{key: t, operator: Exists}, {key: t, operator: NotIn, values: [a]}]",
                "must exist and not be `a`",
            ),
            (
                "matchExpressions: [{key: t, operator: In, values: []}]",
                "needs at least one value",
            ),
            (
                "matchExpressions: [{key: t, operator: Gt, values: [\"1\"]}]",
                "`Gt` is not an operator",
            ),
            ("matchLabels: {\"//app\": web}", "not a label key"),
            ("matchLabels: {app: \"a b\"}", "not a label value"),
        ] {
            let got = said(yaml);
            assert!(got.contains(expected), "{yaml}: {got}");
        }
    }
}
