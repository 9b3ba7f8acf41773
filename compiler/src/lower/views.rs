//! The pieces both network targets write: label selectors and address blocks, as templates read
//! them.

use crate::ir::{IpBlock, Selector};
use serde::Serialize;

/// A label selector as the templates write it: `matchLabels`, then `matchExpressions`.
#[derive(Serialize, PartialEq, Eq, PartialOrd, Ord, Clone, Default)]
pub(super) struct SelectorView {
    pub match_labels: Vec<(String, String)>,
    pub expressions: Vec<ExpressionView>,
}

#[derive(Serialize, PartialEq, Eq, PartialOrd, Ord, Clone)]
pub(super) struct ExpressionView {
    pub key: String,
    pub operator: &'static str,
    pub values: Vec<String>,
}

/// `sel` with every key written as `prefix` + key.
pub(super) fn selector_view(sel: &Selector, prefix: &str) -> SelectorView {
    SelectorView {
        match_labels: sel
            .match_labels
            .iter()
            .map(|(k, v)| (format!("{prefix}{k}"), v.clone()))
            .collect(),
        expressions: sel
            .expressions
            .iter()
            .map(|e| ExpressionView {
                key: format!("{prefix}{}", e.key),
                operator: e.operator.k8s(),
                values: e.values.clone(),
            })
            .collect(),
    }
}

impl SelectorView {
    /// Both selectors' requirements (their keys never meet: callers prefix them apart).
    pub fn and(mut self, other: SelectorView) -> SelectorView {
        self.match_labels.extend(other.match_labels);
        self.match_labels.sort();
        self.expressions.extend(other.expressions);
        self.expressions.sort();
        self
    }
}

#[derive(Serialize, PartialEq, Eq, PartialOrd, Ord, Clone)]
pub(super) struct IpBlockView {
    pub cidr: String,
    pub except: Vec<String>,
}

pub(super) fn ip_block_view(b: &IpBlock) -> IpBlockView {
    IpBlockView {
        cidr: b.cidr.to_string(),
        except: b.except.iter().map(ToString::to_string).collect(),
    }
}

/// A selector serialized in Kubernetes' own shape (`matchLabels` map, `matchExpressions` list,
/// empty parts left out), for templates that write it as one JSON value.
#[derive(PartialEq, Eq, PartialOrd, Ord, Clone)]
pub(super) struct K8sSelector(pub SelectorView);

impl Serialize for K8sSelector {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        #[derive(Serialize)]
        struct Expression<'a> {
            key: &'a str,
            operator: &'a str,
            #[serde(skip_serializing_if = "<[String]>::is_empty")]
            values: &'a [String],
        }
        let sel = &self.0;
        let parts =
            usize::from(!sel.match_labels.is_empty()) + usize::from(!sel.expressions.is_empty());
        let mut map = serializer.serialize_map(Some(parts))?;
        if !sel.match_labels.is_empty() {
            let labels: std::collections::BTreeMap<&str, &str> = sel
                .match_labels
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            map.serialize_entry("matchLabels", &labels)?;
        }
        if !sel.expressions.is_empty() {
            let list: Vec<Expression<'_>> = sel
                .expressions
                .iter()
                .map(|e| Expression {
                    key: &e.key,
                    operator: e.operator,
                    values: &e.values,
                })
                .collect();
            map.serialize_entry("matchExpressions", &list)?;
        }
        map.end()
    }
}
