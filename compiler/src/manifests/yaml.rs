//! YAML streams as `kubectl`, `kustomize build` and `helm template` write them, read into trees
//! that keep each node's line, so that what `infer` derives can name where it read it.
//!
//! The input is anyone's: a file past [`MAX_BYTES`], bytes that are not UTF-8, nesting past
//! [`MAX_DEPTH`], aliases that would expand past [`MAX_ALIAS_NODES`] (the "billion laughs"),
//! and a key given twice in one mapping are each refused with the line, before they cost more
//! time or memory than the text itself.

use saphyr_parser::{Event, Parser, ScalarStyle};
use std::collections::HashMap;

/// Past this a file is refused unread: the largest `helm template` outputs are a few MB.
pub const MAX_BYTES: u64 = 64 * 1024 * 1024;
/// Kubernetes objects nest a dozen levels; CRD schemas a few dozen.
pub const MAX_DEPTH: usize = 128;
/// Nodes that aliases may add to a file, whatever its size.
pub const MAX_ALIAS_NODES: usize = 100_000;

/// A node and the line (1-based) it starts on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    pub value: Value,
    pub line: u32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    /// The text, and whether it was plain (unquoted, not a block scalar): only a plain scalar can
    /// be a null, a number or a boolean.
    Scalar(String, bool),
    Seq(Vec<Node>),
    /// Keys in the order written; no key twice.
    Map(Vec<(String, Node)>),
}

/// Why a file cannot be read, and the line (0: the file as a whole).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    pub line: u32,
    pub message: String,
}

impl Node {
    /// The value at `key` of a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.value {
            Value::Map(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// A path of keys.
    pub fn at(&self, path: &[&str]) -> Option<&Node> {
        path.iter().try_fold(self, |node, key| node.get(key))
    }

    /// A scalar's text; `None` for a null, a sequence or a mapping.
    pub fn str(&self) -> Option<&str> {
        match &self.value {
            Value::Scalar(s, plain) if !(*plain && is_null(s)) => Some(s),
            _ => None,
        }
    }

    /// A scalar that is an integer (as `containerPort: 8080` or `"8080"`).
    pub fn int(&self) -> Option<i64> {
        self.str().and_then(|s| s.trim().parse().ok())
    }

    /// A plain `true` (YAML 1.2 core schema, as Kubernetes reads it).
    pub fn is_true(&self) -> bool {
        matches!(&self.value, Value::Scalar(s, true) if s == "true" || s == "True" || s == "TRUE")
    }

    pub fn seq(&self) -> &[Node] {
        match &self.value {
            Value::Seq(items) => items,
            _ => &[],
        }
    }

    pub fn entries(&self) -> &[(String, Node)] {
        match &self.value {
            Value::Map(entries) => entries,
            _ => &[],
        }
    }

    /// A mapping of strings to strings (labels, a selector's `matchLabels`, a ConfigMap's
    /// `data`), each with its line; other values are left out.
    pub fn string_map(&self) -> Vec<(String, String, u32)> {
        self.entries()
            .iter()
            .filter_map(|(k, v)| v.str().map(|s| (k.clone(), s.to_string(), v.line)))
            .collect()
    }
}

fn is_null(s: &str) -> bool {
    matches!(s, "" | "~" | "null" | "Null" | "NULL")
}

/// The line of byte `at` of `bytes`.
fn line_of(bytes: &[u8], at: usize) -> u32 {
    let before = bytes.get(..at).unwrap_or(bytes);
    u32::try_from(before.iter().filter(|b| **b == b'\n').count() + 1).unwrap_or(u32::MAX)
}

/// Reads every document of a stream; a document that is empty or null is left out.
pub fn read(bytes: &[u8]) -> Result<Vec<Node>, Error> {
    if bytes.len() as u64 > MAX_BYTES {
        return Err(Error {
            line: 0,
            message: format!(
                "the file has {} bytes, more than the {} a manifest file may have",
                bytes.len(),
                MAX_BYTES
            ),
        });
    }
    let text = std::str::from_utf8(bytes).map_err(|e| Error {
        line: line_of(bytes, e.valid_up_to()),
        message: "the file is not UTF-8 text".to_string(),
    })?;
    let mut builder = Builder::default();
    for event in Parser::new_from_str(text) {
        let (event, span) = event.map_err(|e| Error {
            line: u32::try_from(e.marker().line()).unwrap_or(u32::MAX),
            message: format!("not YAML: {}", e.info()),
        })?;
        let line = u32::try_from(span.start.line()).unwrap_or(u32::MAX);
        builder.event(event, line)?;
    }
    Ok(builder.documents)
}

enum Open {
    Seq(Vec<Node>, u32, usize),
    /// Entries, a key waiting for its value, the line, the anchor.
    Map(Vec<(String, Node)>, Option<(String, u32)>, u32, usize),
}

#[derive(Default)]
struct Builder {
    documents: Vec<Node>,
    stack: Vec<Open>,
    /// Each anchored node, with its number of nodes.
    anchors: HashMap<usize, (Node, usize)>,
    /// Nodes added by aliases so far.
    aliased: usize,
}

fn count(node: &Node) -> usize {
    let mut n = 0;
    let mut todo = vec![node];
    while let Some(node) = todo.pop() {
        n += 1;
        match &node.value {
            Value::Scalar(..) => {}
            Value::Seq(items) => todo.extend(items),
            Value::Map(entries) => todo.extend(entries.iter().map(|(_, v)| v)),
        }
    }
    n
}

impl Builder {
    fn event(&mut self, event: Event<'_>, line: u32) -> Result<(), Error> {
        match event {
            Event::Scalar(text, style, anchor, _) => {
                let plain = style == ScalarStyle::Plain;
                self.value(
                    Node {
                        value: Value::Scalar(text.into_owned(), plain),
                        line,
                    },
                    anchor,
                )?;
            }
            Event::SequenceStart(anchor, _) => {
                self.open(Open::Seq(Vec::new(), line, anchor), line)?
            }
            Event::MappingStart(anchor, _) => {
                self.open(Open::Map(Vec::new(), None, line, anchor), line)?;
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let (node, anchor) = match self.stack.pop() {
                    Some(Open::Seq(items, line, anchor)) => (
                        Node {
                            value: Value::Seq(items),
                            line,
                        },
                        anchor,
                    ),
                    Some(Open::Map(entries, _, line, anchor)) => (
                        Node {
                            value: Value::Map(entries),
                            line,
                        },
                        anchor,
                    ),
                    None => return Ok(()),
                };
                self.value(node, anchor)?;
            }
            Event::Alias(id) => {
                let Some((node, size)) = self.anchors.get(&id) else {
                    return Err(Error {
                        line,
                        message: "an alias to no anchor".to_string(),
                    });
                };
                // Counted before the copy is made: the copy is what an alias bomb multiplies.
                let aliased = self.aliased.saturating_add(*size);
                if aliased > MAX_ALIAS_NODES {
                    return Err(Error {
                        line,
                        message: format!(
                            "aliases expand to more than {MAX_ALIAS_NODES} nodes (an alias bomb?)"
                        ),
                    });
                }
                let node = node.clone();
                self.aliased = aliased;
                self.value(node, 0)?;
            }
            Event::DocumentStart(_) => self.anchors.clear(),
            Event::StreamStart | Event::StreamEnd | Event::DocumentEnd | Event::Nothing => {}
        }
        Ok(())
    }

    fn open(&mut self, open: Open, line: u32) -> Result<(), Error> {
        if self.stack.len() >= MAX_DEPTH {
            return Err(Error {
                line,
                message: format!("nested more than {MAX_DEPTH} levels deep"),
            });
        }
        // A mapping as a key is not a Kubernetes object's: refused where its value would go.
        if let Some(Open::Map(_, None, _, _)) = self.stack.last() {
            return Err(Error {
                line,
                message: "a key that is not a scalar".to_string(),
            });
        }
        self.stack.push(open);
        Ok(())
    }

    /// A complete node: into its parent, or a document.
    fn value(&mut self, node: Node, anchor: usize) -> Result<(), Error> {
        if anchor != 0 {
            self.anchors.insert(anchor, (node.clone(), count(&node)));
        }
        match self.stack.last_mut() {
            None => {
                if !matches!(&node.value, Value::Scalar(s, true) if is_null(s)) {
                    self.documents.push(node);
                }
            }
            Some(Open::Seq(items, _, _)) => items.push(node),
            Some(Open::Map(entries, key, _, _)) => match key.take() {
                None => {
                    let Value::Scalar(text, _) = node.value else {
                        return Err(Error {
                            line: node.line,
                            message: "a key that is not a scalar".to_string(),
                        });
                    };
                    if let Some((_, first)) = entries.iter().find(|(k, _)| *k == text) {
                        return Err(Error {
                            line: node.line,
                            message: format!(
                                "the key `{text}` is given twice in one mapping (first on line {})",
                                first.line
                            ),
                        });
                    }
                    *key = Some((text, node.line));
                }
                Some((k, _)) => entries.push((k, node)),
            },
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_values() {
        let docs = read(b"a: 1\nb:\n  - x\n  - 'y'\n---\n---\nc: {d: e}\n").unwrap();
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[0].get("a").and_then(Node::int), Some(1));
        let b = docs[0].get("b").unwrap();
        assert_eq!(b.seq().len(), 2);
        assert_eq!(b.seq()[1].line, 4);
        assert_eq!(docs[1].at(&["c", "d"]).and_then(Node::str), Some("e"));
        assert_eq!(docs[1].line, 7);
    }

    #[test]
    fn nulls_are_not_strings_unless_quoted() {
        let docs = read(b"a: ~\nb: null\nc: 'null'\nd:\n").unwrap();
        let d = &docs[0];
        assert_eq!(d.get("a").and_then(Node::str), None);
        assert_eq!(d.get("b").and_then(Node::str), None);
        assert_eq!(d.get("c").and_then(Node::str), Some("null"));
        assert_eq!(d.get("d").and_then(Node::str), None);
    }

    #[test]
    fn anchors_and_aliases_copy() {
        let docs = read(b"a: &x {k: v}\nb: *x\n").unwrap();
        assert_eq!(docs[0].at(&["b", "k"]).and_then(Node::str), Some("v"));
    }

    #[test]
    fn hostile_input_is_refused_with_its_line() {
        let dup = read(b"a: 1\nb: 2\na: 3\n").unwrap_err();
        assert_eq!(dup.line, 3);
        assert!(dup.message.contains("twice"), "{dup:?}");
        let bad = read(b"a: 1\nb: \xff\n").unwrap_err();
        assert_eq!(bad.line, 2);
        // Flow collections stop at the parser's own limit, block ones at warden's.
        let deep = "[".repeat(100_000);
        let e = read(deep.as_bytes()).unwrap_err();
        assert!(e.message.contains("recursion limit"), "{e:?}");
        let deep: String = (0..1000)
            .map(|i| format!("{}a:\n", " ".repeat(i)))
            .collect();
        let e = read(deep.as_bytes()).unwrap_err();
        assert!(e.message.contains("nested"), "{e:?}");
        assert_eq!(e.line, 129);
        let mut bomb = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..12 {
            let p = i - 1;
            bomb.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
            ));
        }
        let e = read(bomb.as_bytes()).unwrap_err();
        assert!(e.message.contains("alias"), "{e:?}");
        let e = read(b"a: [1, 2\nb: 3\n").unwrap_err();
        assert!(e.message.starts_with("not YAML"), "{e:?}");
    }
}
