//! A document read back as a tree that borrows its text, for the schema check to walk.
//!
//! `serde_json::Value` owns every key and string and keeps each object in a B-tree node: building
//! one per document was most of the schema check's time. This tree keeps keys and strings as
//! slices of the document wherever they need no unescaping, and an object as its members in
//! order; `jsonschema` validates it directly through its `Json` representation traits, so the
//! same schema, compiled for this representation, checks the same document.
//!
//! Its lists, members and unescaped strings live in an arena (`bumpalo`), one per thread, emptied
//! for each document: a tree is built, checked and dropped whole, so its lists need not be
//! allocated and freed one by one, nor walked to free them.

use bumpalo::Bump;
use jsonschema::json::{Array, Json, Node, NodeIdentity, Object, cmp};
use jsonschema::types::JsonType;
use serde::de::DeserializeSeed;
use serde_json::{Number, Value};
use std::borrow::Cow;
use std::collections::HashSet;

// A whole word for the tag, so that every variant's data starts 8 bytes in. With the compiler's
// own layout `Bool` sat at byte 1, and each `Result<Item, _>` the reader passed up was copied as
// bytes 1 to 32 by two overlapping unaligned loads, which the processor cannot forward from the
// stores that had just written them.
#[derive(Debug, Clone, PartialEq)]
#[repr(u64)]
pub enum Item<'t> {
    Null,
    Bool(bool),
    Number(Number),
    Str(&'t str),
    Array(&'t [Item<'t>]),
    /// Members in document order, each key once (the reader refuses duplicates).
    Object(&'t [(&'t str, Item<'t>)]),
}

// The arena never runs a destructor: nothing in the tree may own memory outside it.
const _: () = assert!(!std::mem::needs_drop::<Item<'static>>());

impl Item<'_> {
    /// The same document as a `serde_json::Value`: for `validate::parse` (the size check of large
    /// objects) and tests, not the schema check.
    pub fn to_value(&self) -> Value {
        match self {
            Item::Null => Value::Null,
            Item::Bool(b) => Value::Bool(*b),
            Item::Number(n) => Value::Number(n.clone()),
            Item::Str(s) => Value::String(s.to_string()),
            Item::Array(items) => Value::Array(items.iter().map(Item::to_value).collect()),
            Item::Object(members) => Value::Object(
                members
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_value()))
                    .collect(),
            ),
        }
    }

    /// The value of member `key`, if this is an object that has one.
    pub fn get(&self, key: &str) -> Option<&Self> {
        match self {
            Item::Object(members) => members.iter().find(|(k, _)| *k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Item::Str(s) => Some(s),
            _ => None,
        }
    }
}

/// Runs `f` with this thread's arena, emptied: each document's tree is built in it, checked,
/// and gone before the next one's, so the arena's memory is reused from one to the next.
pub fn with_arena<R>(f: impl FnOnce(&Bump) -> R) -> R {
    thread_local! {
        static ARENA: std::cell::RefCell<Bump> = std::cell::RefCell::new(Bump::new());
    }
    ARENA.with(|arena| match arena.try_borrow_mut() {
        Ok(mut bump) => {
            bump.reset();
            f(&bump)
        }
        // Only a call within `f` finds it taken; it gets an arena of its own.
        Err(_) => f(&Bump::new()),
    })
}

/// A JSON text read straight into a tree in `arena`, its strings borrowed from the text where
/// they have no escape: seccomp profiles, and the reader's flow values (`{"app": "x"}`), without a
/// `serde_json::Value` between. Numbers must be integers, and a key may not occur twice in an
/// object, as in the reader's block mappings: YAML and JSON readers disagree on both.
pub fn json<'t>(arena: &'t Bump, text: &'t str) -> Result<Item<'t>, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_str(text);
    let item = Seed(arena).deserialize(&mut de)?;
    de.end()?;
    Ok(item)
}

/// Builds an item in the arena it holds.
#[derive(Clone, Copy)]
struct Seed<'t>(&'t Bump);

impl<'de: 't, 't> DeserializeSeed<'de> for Seed<'t> {
    type Value = Item<'t>;

    fn deserialize<D: serde::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Item<'t>, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de: 't, 't> serde::de::Visitor<'de> for Seed<'t> {
    type Value = Item<'t>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E>(self) -> Result<Item<'t>, E> {
        Ok(Item::Null)
    }

    fn visit_bool<E>(self, b: bool) -> Result<Item<'t>, E> {
        Ok(Item::Bool(b))
    }

    fn visit_i64<E>(self, n: i64) -> Result<Item<'t>, E> {
        Ok(Item::Number(n.into()))
    }

    fn visit_u64<E>(self, n: u64) -> Result<Item<'t>, E> {
        Ok(Item::Number(n.into()))
    }

    fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<Item<'t>, E> {
        Err(E::custom("only integers are written"))
    }

    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Item<'t>, E> {
        Ok(Item::Str(s))
    }

    fn visit_str<E>(self, s: &str) -> Result<Item<'t>, E> {
        Ok(Item::Str(self.0.alloc_str(s)))
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Item<'t>, A::Error> {
        let mut items =
            bumpalo::collections::Vec::with_capacity_in(seq.size_hint().unwrap_or(0), self.0);
        while let Some(item) = seq.next_element_seed(self)? {
            items.push(item);
        }
        Ok(Item::Array(items.into_bump_slice()))
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Item<'t>, A::Error> {
        let mut members: bumpalo::collections::Vec<'t, (&'t str, Item<'t>)> =
            bumpalo::collections::Vec::new_in(self.0);
        let mut seen = HashSet::new();
        while let Some(key) = map.next_key_seed(self)? {
            let Item::Str(key) = key else {
                return Err(serde::de::Error::custom("a key must be a string"));
            };
            if repeated(&members, &mut seen, key) {
                return Err(serde::de::Error::custom(format!("duplicate key `{key}`")));
            }
            members.push((key, map.next_value_seed(self)?));
        }
        Ok(Item::Object(members.into_bump_slice()))
    }
}

/// Whether `key` is one of an object's `members` so far. They are compared in turn while few, and
/// past that through `seen`, a set of them that starts empty: an object of thousands of keys (a
/// selector's labels come from the program) would otherwise cost the square of its size.
pub(super) fn repeated<'t, V>(
    members: &[(&'t str, V)],
    seen: &mut HashSet<&'t str>,
    key: &'t str,
) -> bool {
    const SCAN: usize = 16;
    if members.len() < SCAN {
        return members.iter().any(|(k, _)| *k == key);
    }
    if seen.is_empty() {
        seen.extend(members.iter().map(|(k, _)| *k));
    }
    !seen.insert(key)
}

/// The representation marker `jsonschema` compiles a validator for.
pub struct Tree;

impl Json for Tree {
    type Node<'a> = &'a Item<'a>;
    type PreparedKey = String;
    type StringBuffer = ();
    const ACYCLIC: bool = true;

    fn prepare_key(key: &str) -> String {
        key.to_owned()
    }

    fn with_string_node<T>((): &mut (), string: &str, f: impl FnOnce(Self::Node<'_>) -> T) -> T {
        f(&Item::Str(string))
    }
}

impl<'a> Node<'a, Tree> for &'a Item<'a> {
    type Object = &'a [(&'a str, Item<'a>)];
    type Array = &'a [Item<'a>];
    type Number = &'a Number;

    fn as_object(&self) -> Option<Self::Object> {
        match self {
            Item::Object(members) => Some(*members),
            _ => None,
        }
    }

    fn as_array(&self) -> Option<Self::Array> {
        match self {
            Item::Array(items) => Some(*items),
            _ => None,
        }
    }

    fn as_string(&self) -> Option<Cow<'a, str>> {
        match self {
            Item::Str(s) => Some(Cow::Borrowed(*s)),
            _ => None,
        }
    }

    fn as_number(&self) -> Option<&'a Number> {
        match self {
            Item::Number(n) => Some(n),
            _ => None,
        }
    }

    fn as_boolean(&self) -> Option<bool> {
        match self {
            Item::Bool(b) => Some(*b),
            _ => None,
        }
    }

    fn is_null(&self) -> bool {
        matches!(self, Item::Null)
    }

    fn json_type(&self) -> JsonType {
        match self {
            Item::Null => JsonType::Null,
            Item::Bool(_) => JsonType::Boolean,
            Item::Number(_) => JsonType::Number,
            Item::Str(_) => JsonType::String,
            Item::Array(_) => JsonType::Array,
            Item::Object(_) => JsonType::Object,
        }
    }

    // `enum` and `const` compare through this: scalars without building a `Value`.
    fn equals_value(&self, expected: &Value) -> bool {
        match (self, expected) {
            (Item::Str(s), Value::String(e)) => *s == e,
            (Item::Str(_), _) => false,
            (Item::Bool(b), Value::Bool(e)) => b == e,
            _ => cmp::equal(&self.to_value(), expected),
        }
    }

    fn to_value(&self) -> Cow<'a, Value> {
        Cow::Owned(Item::to_value(self))
    }

    fn identity(&self) -> Option<NodeIdentity> {
        Some(NodeIdentity::new(
            std::ptr::from_ref::<Item<'a>>(self) as usize
        ))
    }
}

impl<'a> Object<'a, Tree> for &'a [(&'a str, Item<'a>)] {
    type Node = &'a Item<'a>;
    type MemberName = &'a str;
    type MembersIter = Members<'a>;

    fn len(&self) -> usize {
        <[_]>::len(self)
    }

    fn get(&self, key: &String) -> Option<&'a Item<'a>> {
        self.iter().find(|(k, _)| *k == key).map(|(_, v)| v)
    }

    fn members(&self) -> Members<'a> {
        Members(self.iter())
    }
}

pub struct Members<'a>(std::slice::Iter<'a, (&'a str, Item<'a>)>);

impl<'a> Iterator for Members<'a> {
    type Item = (&'a str, &'a Item<'a>);

    fn next(&mut self) -> Option<Self::Item> {
        self.0.next().map(|(k, v)| (*k, v))
    }
}

impl<'a> Array<'a, Tree> for &'a [Item<'a>] {
    type Node = &'a Item<'a>;
    type ElementsIter = std::slice::Iter<'a, Item<'a>>;

    fn len(&self) -> usize {
        <[_]>::len(self)
    }

    fn elements(&self) -> Self::ElementsIter {
        self.iter()
    }

    /// `uniqueItems`. A list of strings (a seccomp profile's system calls, a selector's values)
    /// is unique when its strings are, which warden writes in order: told by neighbours, without
    /// the `serde_json::Value` of every element the general comparison makes.
    fn is_unique(&self) -> bool {
        let mut strings = Vec::with_capacity(self.len());
        for item in self.iter() {
            match item {
                Item::Str(s) => strings.push(*s),
                _ => {
                    let values: Vec<Cow<'_, Value>> =
                        self.iter().map(|item| Node::to_value(&item)).collect();
                    return jsonschema::json::unique::is_unique(&values);
                }
            }
        }
        if strings.is_sorted_by(|a, b| a < b) {
            return true;
        }
        strings.sort_unstable();
        strings.windows(2).all(|pair| pair.first() != pair.get(1))
    }
}

#[cfg(test)]
mod tests {
    use super::Item;
    use jsonschema::json::Array;

    /// `uniqueItems` on the tree says what `jsonschema`'s own comparison of the same values says:
    /// strings in order, out of order, repeated next to each other or apart, and lists that mix
    /// strings with other values.
    #[test]
    fn unique_items_are_told_as_jsonschema_tells_them() {
        let lists = [
            r#"[]"#,
            r#"["a"]"#,
            r#"["a", "b", "c"]"#,
            r#"["b", "a", "c"]"#,
            r#"["a", "a"]"#,
            r#"["a", "b", "a"]"#,
            r#"["c", "b", "a", "b"]"#,
            r#"["", ""]"#,
            r#"["a", 1, "a"]"#,
            r#"["1", 1]"#,
            r#"[1, 2, 1]"#,
            r#"[{"k": "v"}, {"k": "v"}]"#,
            r#"[["a"], ["a"], "a"]"#,
            r#"[true, "true"]"#,
        ];
        for text in lists {
            let arena = bumpalo::Bump::new();
            let item = super::json(&arena, text).expect("a list");
            let Item::Array(items) = &item else {
                panic!("{text} is not a list");
            };
            let values: Vec<serde_json::Value> = items.iter().map(Item::to_value).collect();
            assert_eq!(
                Array::is_unique(items),
                jsonschema::json::unique::is_unique(&values),
                "{text}"
            );
        }
    }
}
