//! warden's own YAML reader (validate::reader), which the schema check uses, against libyaml
//! (serde_yaml): on every document the examples generate, on random documents full of hostile
//! strings, and on mutations of both — wherever the reader accepts a text, libyaml must read the
//! same value from it.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "a test: a panic is a failed test"
)]

use crate::common;

use serde_json::{Map, Value, json};
use warden::validate::reader;

fn libyaml(text: &str) -> Result<Value, String> {
    let mut docs = Vec::new();
    for d in serde_yaml::Deserializer::from_str(text) {
        // Through serde_yaml's own value, which refuses a duplicate key as Kubernetes does.
        let v: serde_yaml::Value =
            serde::Deserialize::deserialize(d).map_err(|e: serde_yaml::Error| e.to_string())?;
        docs.push(serde_json::to_value(v).map_err(|e| e.to_string())?);
    }
    match <[Value; 1]>::try_from(docs) {
        Ok([v]) => Ok(v),
        Err(d) => Err(format!("{} documents", d.len())),
    }
}

fn yaml_documents() -> Vec<(String, String)> {
    let mut out = Vec::new();
    for dir in common::examples() {
        for doc in common::compile_ok(std::slice::from_ref(&dir)) {
            if doc.schema != warden::document::Schema::SeccompProfile {
                out.push((format!("{}: {}", dir.display(), doc.path), doc.text));
            }
        }
    }
    out
}

#[test]
fn the_reader_reads_every_generated_document_as_libyaml_does() {
    let docs = yaml_documents();
    assert!(docs.len() > 150, "{} documents", docs.len());
    for (name, text) in &docs {
        let ours = reader::read(text).unwrap_or_else(|e| panic!("{name}: {e}"));
        let theirs = libyaml(text).unwrap_or_else(|e| panic!("{name}: libyaml: {e}"));
        assert_eq!(ours, theirs, "{name}");
    }
    println!("{} documents read alike", docs.len());
}

const HOSTILE: &[&str] = &[
    "yes",
    "no",
    "on",
    "off",
    "null",
    "~",
    "true",
    "0777",
    "1e3",
    ".inf",
    "-.nan",
    "0x1f",
    "1:20",
    ": ",
    "- ",
    "#",
    "&a",
    "*a",
    "!!python/object",
    "{{ }}",
    "\n---\n",
    "\"",
    "'",
    "\\",
    "\\U0001F600",
    "\u{2028}",
    "\u{2029}",
    "\u{85}",
    "\u{feff}",
    "\0",
    "\u{7f}",
    "\u{1F600}",
    "a: b",
    "[1, 2]",
    "{a: 1}",
    "%YAML 1.2",
    "? x",
    "|",
    ">",
    "@",
    "`",
    "",
    " ",
    "  lead",
    "trail  ",
    "\t",
    "\r\n",
];

/// A value as `render` writes it: JSON, with every character outside printable ASCII escaped
/// (`\UXXXXXXXX` for astral ones, as in YAML documents).
fn scalar(v: &Value) -> String {
    let mut out = String::new();
    for c in serde_json::to_string(v).unwrap().chars() {
        if c.is_ascii() && c != '\u{7f}' {
            out.push(c);
        } else if u32::from(c) <= 0xffff {
            out.push_str(&format!("\\u{:04x}", u32::from(c)));
        } else {
            out.push_str(&format!("\\U{:08x}", u32::from(c)));
        }
    }
    out
}

fn random_string(rng: &mut common::Rng) -> String {
    let mut s = String::new();
    for _ in 0..rng.below(3) + 1 {
        match rng.below(3) {
            0 => s.push_str(HOSTILE[rng.below(HOSTILE.len())]),
            1 => s.push_str(&"x".repeat(rng.below(300))),
            _ => s.push_str("app.kubernetes.io/name"),
        }
    }
    s
}

fn random_value(rng: &mut common::Rng, depth: u32) -> Value {
    match if depth > 3 {
        rng.below(4)
    } else {
        rng.below(7)
    } {
        0 | 1 => Value::String(random_string(rng)),
        2 => json!(rng.below(70_000) as i64 - 100),
        3 => json!(rng.below(2) == 0),
        4 => Value::Array(
            (0..rng.below(4))
                .map(|_| random_value(rng, depth + 1))
                .collect(),
        ),
        _ => {
            let mut map = Map::new();
            for _ in 0..rng.below(4) {
                map.insert(random_string(rng), random_value(rng, depth + 1));
            }
            Value::Object(map)
        }
    }
}

/// Writes `value` in the layout of warden's templates: block collections, keys as plain words
/// where a template would have one, a value inline as JSON half the time.
fn write(value: &Value, indent: usize, rng: &mut common::Rng, out: &mut String) {
    let pad = " ".repeat(indent);
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (k, v) in map {
                out.push_str(&pad);
                out.push_str(&scalar(&Value::String(k.clone())));
                out.push(':');
                block_or_inline(v, indent, rng, out);
            }
        }
        Value::Array(items) if !items.is_empty() => {
            for v in items {
                out.push_str(&pad);
                out.push_str("- ");
                let mut item = String::new();
                write(v, indent + 2, rng, &mut item);
                out.push_str(item.trim_start_matches(' '));
            }
        }
        v => {
            out.push_str(&pad);
            out.push_str(&scalar(v));
            out.push('\n');
        }
    }
}

fn block_or_inline(v: &Value, indent: usize, rng: &mut common::Rng, out: &mut String) {
    let nested = match v {
        Value::Object(m) => !m.is_empty(),
        Value::Array(a) => !a.is_empty(),
        _ => false,
    };
    if nested && rng.below(2) == 0 {
        out.push('\n');
        // A sequence may stand at its key's indentation, as the templates write it.
        let deeper = if v.is_array() && rng.below(2) == 0 {
            indent
        } else {
            indent + 2
        };
        write(v, deeper, rng, out);
    } else {
        out.push(' ');
        out.push_str(&scalar(v));
        out.push('\n');
    }
}

fn random_document(seed: u64) -> (Value, String) {
    let mut rng = common::Rng(seed);
    let mut map = Map::new();
    map.insert("apiVersion".into(), json!("networking.k8s.io/v1"));
    for _ in 0..rng.below(5) + 1 {
        map.insert(random_string(&mut rng), random_value(&mut rng, 0));
    }
    let value = Value::Object(map);
    let mut text = String::new();
    write(&value, 0, &mut rng, &mut text);
    (value, text)
}

#[test]
fn random_documents_read_back_exactly() {
    for seed in 1..=2_000 {
        let (value, text) = random_document(seed);
        let ours = reader::read(&text).unwrap_or_else(|e| panic!("seed {seed}: {e}\n{text}"));
        assert_eq!(ours, value, "seed {seed}:\n{text}");
        let theirs = libyaml(&text).unwrap_or_else(|e| panic!("seed {seed}: libyaml: {e}\n{text}"));
        assert_eq!(theirs, value, "seed {seed}:\n{text}");
    }
}

/// One random edit of the kind a wrong template makes: a character dropped, doubled or replaced
/// by one that means something to YAML, a line indented differently, a line repeated.
fn mutate(text: &str, rng: &mut common::Rng) -> String {
    const MEANINGFUL: &[&str] = &[
        " ", "  ", ":", "- ", "-", "\"", "'", "#", " #", "&", "*", "!", "|", ">", "[", "]", "{",
        "}", ",", "?", "\n", "\t", "yes", "no", "~", "%", "@", "`", "\\", "0", "1e3", "---\n",
    ];
    let chars: Vec<char> = text.chars().collect();
    let at = rng.below(chars.len());
    let mut out: String = chars[..at].iter().collect();
    let rest: String = chars[at..].iter().collect();
    match rng.below(5) {
        0 => out.push_str(rest.get(1..).unwrap_or("")),
        1 => {
            out.push_str(MEANINGFUL[rng.below(MEANINGFUL.len())]);
            out.push_str(&rest);
        }
        2 => {
            out.push_str(MEANINGFUL[rng.below(MEANINGFUL.len())]);
            out.push_str(rest.get(1..).unwrap_or(""));
        }
        3 => {
            let lines: Vec<&str> = text.lines().collect();
            let n = rng.below(lines.len());
            let mut lines: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
            lines.insert(n, lines[n].clone());
            return lines.join("\n") + "\n";
        }
        _ => {
            let lines: Vec<&str> = text.lines().collect();
            let n = rng.below(lines.len());
            let mut lines: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
            lines[n] = if rng.below(2) == 0 {
                format!("  {}", lines[n])
            } else {
                lines[n].trim_start_matches(' ').to_string()
            };
            return lines.join("\n") + "\n";
        }
    }
    out
}

#[test]
fn whatever_the_reader_accepts_libyaml_reads_the_same() {
    let mut bases: Vec<String> = yaml_documents()
        .into_iter()
        .map(|(_, text)| text)
        .step_by(3)
        .collect();
    bases.extend((1..=300).map(|seed| random_document(seed).1));
    let mut rng = common::Rng(0x5eed);
    let (mut accepted, mut refused) = (0, 0);
    for (i, base) in bases.iter().enumerate() {
        for _ in 0..40 {
            let text = mutate(base, &mut rng);
            match reader::read(&text) {
                Ok(ours) => {
                    accepted += 1;
                    let theirs = libyaml(&text).unwrap_or_else(|e| {
                        panic!("base {i}: accepted what libyaml refuses ({e}):\n{text}")
                    });
                    assert_eq!(ours, theirs, "base {i}: read differently:\n{text}");
                }
                Err(_) => refused += 1,
            }
        }
    }
    println!("{accepted} mutations accepted and read alike, {refused} refused");
    assert!(
        accepted > 1_000 && refused > 1_000,
        "{accepted} / {refused}"
    );
}

/// A flow value is read straight into the tree, not through `serde_json::Value`, which keeps the
/// last of two equal keys and reads fractions: the reader must still refuse both, as it does in
/// block mappings, and read escaped keys and strings as libyaml does.
#[test]
fn flow_values_are_read_as_strictly_as_block_ones() {
    for text in [
        "labels: {\"app\": \"a\", \"app\": \"b\"}\n",
        "labels: {\"app\": {\"x\": 1, \"x\": 1}}\n",
        "ports: [1.5]\n",
        "ports: [{\"port\": 1e3}]\n",
    ] {
        assert!(reader::read(text).is_err(), "accepted:\n{text}");
    }
    assert!(libyaml("labels: {\"app\": \"a\", \"app\": \"b\"}\n").is_err());
    for text in [
        "labels: {\"a\\\"b\": \"c\\\\d\", \"e\": [\"\\u00e9\", 1, -2, true, null, {}]}\n",
        "name: [\"\\U0001F600\", {\"\\U0001F600\": \"x\"}]\n",
    ] {
        let ours = reader::read(text).unwrap_or_else(|e| panic!("{e}:\n{text}"));
        assert_eq!(ours, libyaml(text).unwrap(), "{text}");
    }
}
