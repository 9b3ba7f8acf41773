//! Values from user input can never change the structure of a generated document.
//!
//! Every position a user controls (names, label keys and values, annotation keys, messages,
//! reasons, image patterns, host paths, host names, HTTP paths) is filled once with a benign value
//! and once with each hostile string: YAML keywords and numbers of other types, indicators, tags,
//! anchors, template syntax, a document separator, quotes, backslashes, U+2028, a BOM, NUL, very
//! long strings. The hostile program is either refused by a check (an error with a span, never a
//! compiler bug) or compiles to the same documents as the benign one, parsed independently
//! (libyaml, serde_json), with exactly the hostile value wherever the benign one was: no extra key,
//! element or document. Where a value lands inside CEL or Rego code, the literal there is read back
//! by the real CEL and Rego engines and must be the hostile value.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "in tests a panic is a failed test"
)]

use crate::common;

use serde_json::Value;
use std::collections::BTreeMap;
use warden::document::Target;
use warden::span::SourceMap;

const BENIGN: &str = "benign7q";

const HOSTILE: &[&str] = &[
    "yes",
    "no",
    "on",
    "off",
    "y",
    "null",
    "true",
    "False",
    "~",
    "0777",
    "012",
    "1e3",
    "0x1F",
    "1_000",
    ".inf",
    "-.inf",
    ".nan",
    "2026-11-27",
    ": ",
    "a: b",
    "- item",
    "# comment",
    "a #b",
    "&anchor",
    "*alias",
    "!!python/object:os.system",
    "!tag x",
    "{{ secret }}",
    "{% raw %}",
    "${HOME}",
    "\n---\nkind: Secret\n",
    "---",
    "...",
    "\"quoted\"",
    "'single'",
    "back\\slash\\n",
    "tab\there",
    "line\nbreak",
    "cr\rlf",
    "line\u{2028}separator",
    "\u{feff}bom",
    "nul\0byte",
    "[flow, seq]",
    "{flow: map}",
    "| literal",
    "> folded",
    "%YAML 1.1",
    "@at",
    "`tick`",
    "ünïcödé ✓ 🦀",
    "' + object.metadata.name + '",
    "\") || true || (\"",
    "\"; allow := true; x := \"",
];

fn long_strings() -> Vec<String> {
    vec!["x".repeat(300), "a".repeat(70_000), "\\\"".repeat(500)]
}

/// A position a user controls: the program with `{v}` where the value goes, whether it goes in
/// as a string literal (else as a bare word), and the targets that use it.
struct Position {
    name: &'static str,
    program: &'static str,
    quoted: bool,
    /// Put before the value: a host path must start with `/`.
    prefix: &'static str,
    targets: &'static [Target],
}

const ADMISSION: &[Target] = &[Target::Vap, Target::Kyverno, Target::Gatekeeper];
const NETWORK: &[Target] = &[Target::Netpol, Target::Cilium];

const POSITIONS: &[Position] = &[
    Position {
        name: "namespace label value",
        program: "namespace shop { isolate  allow dns  labels team = {v} }\nservice w in shop { pods app = \"w\"  port http 80/tcp  from namespace shop on http }",
        quoted: true,
        prefix: "",
        targets: NETWORK,
    },
    Position {
        name: "pod label value",
        program: "namespace shop { isolate  allow dns }\nservice w in shop { pods app = {v}  port http 80/tcp  from pods() on http }",
        quoted: true,
        prefix: "",
        targets: NETWORK,
    },
    Position {
        name: "bare pod label value",
        program: "namespace shop { isolate  allow dns }\nservice w in shop { pods app = {v}  port http 80/tcp  from pods() on http }",
        quoted: false,
        prefix: "",
        targets: NETWORK,
    },
    Position {
        name: "pod label key",
        program: "namespace shop { isolate  allow dns }\nservice w in shop { pods {v} = \"w\"  port http 80/tcp  from pods() on http }",
        quoted: false,
        prefix: "",
        targets: NETWORK,
    },
    Position {
        name: "set of label values",
        program: "namespace shop { isolate  allow dns }\nservice w in shop { pods app in ({v}, \"z\")  port http 80/tcp  from pods(tier notin ({v})) on http }",
        quoted: true,
        prefix: "",
        targets: NETWORK,
    },
    Position {
        name: "service name",
        program: "namespace shop { isolate  allow dns }\nservice {v} in shop { pods app = \"w\"  port http 80/tcp  from pods() on http  syscalls { allow group runtime-core } }",
        quoted: false,
        prefix: "",
        targets: &[
            Target::Netpol,
            Target::Cilium,
            Target::Seccomp,
            Target::Spo,
            Target::Vap,
        ],
    },
    Position {
        name: "namespace name",
        program: "namespace {v} { isolate  allow dns }\nservice w in {v} { pods app = \"w\"  port http 80/tcp  from pods() on http }\nadmission a { applies to workloads in namespace {v}  forbid privileged }",
        quoted: false,
        prefix: "",
        targets: &[
            Target::Netpol,
            Target::Cilium,
            Target::Vap,
            Target::Kyverno,
            Target::Gatekeeper,
        ],
    },
    Position {
        name: "port name",
        program: "namespace shop { isolate  allow dns }\nservice w in shop { pods app = \"w\"  port {v} 80/tcp  from pods() on {v} }",
        quoted: false,
        prefix: "",
        targets: NETWORK,
    },
    Position {
        name: "admission name",
        program: "namespace shop { }\nadmission {v} { applies to workloads in namespace shop  forbid privileged }",
        quoted: false,
        prefix: "",
        targets: ADMISSION,
    },
    Position {
        name: "required annotation",
        program: "namespace shop { }\nadmission a { applies to workloads in namespace shop  require annotations {v} }",
        quoted: false,
        prefix: "",
        targets: ADMISSION,
    },
    Position {
        name: "required label",
        program: "namespace shop { }\nadmission a { applies to workloads in namespace shop  require labels {v} }",
        quoted: false,
        prefix: "",
        targets: ADMISSION,
    },
    Position {
        name: "CEL rule message",
        program: "namespace shop { }\nadmission a { applies to workloads in namespace shop  require cel \"object.metadata.name != ''\" message {v} }",
        quoted: true,
        prefix: "",
        targets: &[Target::Vap, Target::Kyverno],
    },
    Position {
        name: "exemption reason",
        program: "namespace shop { }\nadmission a { applies to workloads in namespace shop  pod-security baseline  exempt privileged {v} }",
        quoted: true,
        prefix: "",
        targets: ADMISSION,
    },
    Position {
        name: "exempt images reason",
        program: "namespace shop { }\nadmission a { applies to workloads in namespace shop  forbid privileged  exempt images \"registry.example.com/*\" because {v} }",
        quoted: true,
        prefix: "",
        targets: ADMISSION,
    },
    Position {
        name: "image pattern",
        program: "namespace shop { }\nadmission a { applies to workloads in namespace shop  images from {v} }",
        quoted: true,
        prefix: "",
        targets: ADMISSION,
    },
    Position {
        name: "exempt image pattern",
        program: "namespace shop { }\nadmission a { applies to workloads in namespace shop  forbid privileged  exempt images {v} because \"vendor\" }",
        quoted: true,
        prefix: "",
        targets: ADMISSION,
    },
    Position {
        name: "host path",
        program: "namespace shop { }\nadmission a { applies to workloads in namespace shop  forbid host-paths {v} }",
        quoted: true,
        prefix: "/",
        targets: ADMISSION,
    },
    Position {
        name: "host name",
        program: "namespace shop { isolate  allow dns }\nservice w in shop { pods app = \"w\"  to host {v} on 443/tcp }",
        quoted: true,
        prefix: "",
        targets: &[Target::Cilium],
    },
    Position {
        name: "HTTP path",
        program: "namespace shop { isolate  allow dns }\nservice w in shop { pods app = \"w\"  port http 80/tcp  from pods() on http only GET {v} }",
        quoted: true,
        prefix: "/",
        targets: &[Target::Cilium],
    },
];

/// The documents of `text`, path and parsed value; `None` when a check refuses the program, which
/// must then say why with an error that points into it.
fn compile(text: &str, targets: &[Target], what: &str) -> Option<Vec<(String, Value)>> {
    let mut sources = SourceMap::new();
    sources.add("p.warden".to_string(), text.to_string());
    let c = warden::compile(sources, targets);
    let Some(docs) = c.documents else {
        let errors: Vec<_> = c.diagnostics.iter().filter(|d| d.is_error()).collect();
        assert!(!errors.is_empty(), "{what}: no documents and no error");
        for e in errors {
            assert_ne!(e.code, "E0805", "{what}: {}: {:?}", e.message, e.notes);
            assert!(e.span().is_some(), "{what}: {} has no span", e.code);
        }
        return None;
    };
    Some(
        docs.iter()
            .map(|d| (d.path.clone(), common::parse(d)))
            .collect(),
    )
}

/// The value of a string literal as the CEL engine reads it.
fn cel_literal(literal: &str) -> Option<String> {
    let program = cel::Program::compile(literal).ok()?;
    match program.execute(&cel::Context::default()).ok()? {
        cel::Value::String(s) => Some(s.to_string()),
        _ => None,
    }
}

/// The value of a string literal as the Rego engine reads it. regorus refuses lines over 1,024
/// columns (OPA does not); a longer literal is read as what Rego defines its strings to be, a JSON
/// string.
fn rego_literal(literal: &str) -> Option<String> {
    if literal.len() > 1000 {
        return serde_json::from_str(literal).ok();
    }
    let mut engine = regorus::Engine::new();
    engine
        .add_policy("t.rego".to_string(), format!("package t\nx := {literal}\n"))
        .ok()?;
    let value = engine.eval_rule("data.t.x".to_string()).ok()?;
    value.as_string().ok().map(|s| s.to_string())
}

/// Code split into its string literals (decoded by the engine) and the text between them.
#[derive(Debug, PartialEq)]
enum Piece {
    Code(String),
    Literal(String),
}

/// Splits CEL (`'…'`, `"…"`) or Rego (`"…"`, `#` comments) into pieces; `None` if a literal does
/// not decode.
fn pieces(code: &str, rego: bool) -> Option<Vec<Piece>> {
    let mut out = Vec::new();
    let mut text = String::new();
    let mut chars = code.char_indices().peekable();
    while let Some((start, c)) = chars.next() {
        if rego && c == '#' {
            text.push(c);
            while let Some(&(_, n)) = chars.peek() {
                if n == '\n' {
                    break;
                }
                text.push(n);
                chars.next();
            }
            continue;
        }
        let quote = c == '"' || (!rego && c == '\'');
        if !quote {
            text.push(c);
            continue;
        }
        let mut end = None;
        while let Some((i, n)) = chars.next() {
            if n == '\\' {
                chars.next();
            } else if n == c {
                end = Some(i);
                break;
            }
        }
        let literal = code.get(start..=end?)?;
        let value = if rego {
            rego_literal(literal)?
        } else {
            cel_literal(literal)?
        };
        out.push(Piece::Code(std::mem::take(&mut text)));
        out.push(Piece::Literal(value));
    }
    out.push(Piece::Code(text));
    Some(out)
}

/// Whether a regular expression matches `value` and nothing longer: an image pattern's `*` may
/// match more before it, so only the end is pinned.
fn matches_exactly(re: &str, value: &str) -> bool {
    regex::Regex::new(re).is_ok_and(|r| r.is_match(value) && !r.is_match(&format!("{value}x")))
}

/// Whether `hostile` is `benign` with the benign value replaced by the hostile one: as text, or,
/// in CEL or Rego code (`code`), in string literals the engines read back as the hostile value
/// (or as a regular expression matching exactly it, where the benign literal is one).
fn same_string(benign: &str, hostile: &str, value: &str, code: Option<bool>) -> bool {
    if hostile == benign.replace(BENIGN, value) {
        return true;
    }
    // Gatekeeper's kinds are names in CamelCase: `WardenBenign7q`.
    if hostile == benign.replace(&capitalized(BENIGN), &capitalized(value)) {
        return true;
    }
    let Some(rego) = code else {
        return false;
    };
    let (Some(b), Some(h)) = (pieces(benign, rego), pieces(hostile, rego)) else {
        return false;
    };
    b.len() == h.len()
        && b.iter().zip(&h).all(|pair| match pair {
            (Piece::Code(b), Piece::Code(h)) => b == h,
            (Piece::Literal(b), Piece::Literal(h)) => {
                *h == b.replace(BENIGN, value)
                    || (matches_exactly(b, BENIGN) && matches_exactly(h, value))
            }
            _ => false,
        })
}

fn same(benign: &Value, hostile: &Value, value: &str, at: &str) -> Result<(), String> {
    match (benign, hostile) {
        (Value::Object(b), Value::Object(h)) => {
            let keys = |m: &serde_json::Map<String, Value>| -> Vec<String> {
                let mut k: Vec<String> = m.keys().cloned().collect();
                k.sort();
                k
            };
            let mut expected: Vec<String> = b.keys().map(|k| k.replace(BENIGN, value)).collect();
            expected.sort();
            if expected != keys(h) {
                return Err(format!("{at}: keys {:?}, expected {expected:?}", keys(h)));
            }
            for (k, bv) in b {
                let hk = k.replace(BENIGN, value);
                same(bv, &h[&hk], value, &format!("{at}.{hk}"))?;
            }
            Ok(())
        }
        (Value::Array(b), Value::Array(h)) => {
            if b.len() != h.len() {
                return Err(format!("{at}: {} elements, expected {}", h.len(), b.len()));
            }
            let in_order = b
                .iter()
                .zip(h)
                .enumerate()
                .try_for_each(|(i, (bv, hv))| same(bv, hv, value, &format!("{at}[{i}]")));
            if in_order.is_ok() {
                return in_order;
            }
            // Sorted lists (label values, names) may sort the hostile value elsewhere.
            let mut expected: Vec<String> = b
                .iter()
                .map(|v| v.to_string().replace(BENIGN, &escaped(value)))
                .collect();
            let mut actual: Vec<String> = h.iter().map(Value::to_string).collect();
            expected.sort();
            actual.sort();
            if expected == actual { Ok(()) } else { in_order }
        }
        (Value::String(b), Value::String(h)) => {
            let key = at.rsplit('.').next().unwrap_or("");
            let code = match key {
                "rego" => Some(true),
                k if k.starts_with("expression") || k.starts_with("messageExpression") => {
                    Some(false)
                }
                _ => None,
            };
            if same_string(b, h, value, code) {
                Ok(())
            } else {
                let expected = b.replace(BENIGN, value);
                let from = expected
                    .chars()
                    .zip(h.chars())
                    .take_while(|(x, y)| x == y)
                    .count()
                    .saturating_sub(20);
                let window = |t: &str| t.chars().skip(from).take(80).collect::<String>();
                Err(format!(
                    "{at}: from character {from}, {:?} where plain replacement gives {:?}",
                    window(h),
                    window(&expected)
                ))
            }
        }
        (b, h) if b == h => Ok(()),
        (b, h) => Err(format!("{at}: {h}, expected {b}")),
    }
}

fn capitalized(word: &str) -> String {
    let mut chars = word.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// `value` as it appears inside a JSON string.
fn escaped(value: &str) -> String {
    let json = Value::String(value.to_string()).to_string();
    json[1..json.len() - 1].to_string()
}

#[test]
fn hostile_values_are_refused_or_arrive_intact() {
    let long = long_strings();
    let hostile: Vec<&str> = HOSTILE
        .iter()
        .copied()
        .chain(long.iter().map(String::as_str))
        .collect();
    let mut report = Vec::new();
    let mut total_accepted = 0;
    for pos in POSITIONS {
        let fill = |value: &str| -> String {
            let value = format!("{}{value}", pos.prefix);
            let text = if pos.quoted {
                warden::format::quote(&value)
            } else {
                value
            };
            pos.program.replace("{v}", &text)
        };
        let benign = compile(&fill(BENIGN), pos.targets, pos.name)
            .unwrap_or_else(|| panic!("{}: the benign program does not compile", pos.name));
        let mut accepted = 0;
        for value in &hostile {
            // In image patterns and host names `*` is the wildcard, and changes the rule on
            // purpose.
            let wildcard = pos.name.ends_with("image pattern") || pos.name == "host name";
            if wildcard && value.contains('*') {
                continue;
            }
            let what = format!("{} = {value:?}", pos.name);
            let Some(docs) = compile(&fill(value), pos.targets, &what) else {
                continue;
            };
            accepted += 1;
            // A bare `"quoted"` is a string literal: what the program says is its content.
            let said = match value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
                Some(inner) if !pos.quoted => inner,
                _ => value,
            };
            // Both programs carry the prefix: what replaces the benign value is the rest. DNS
            // names are written in lower case, as DNS compares them.
            let lower = said.to_lowercase();
            let full = if pos.name == "host name" {
                lower.as_str()
            } else {
                said
            };
            // Names are in paths: documents are matched by the path the benign one would have.
            let expected: BTreeMap<String, &Value> = benign
                .iter()
                .map(|(p, v)| (p.replace(BENIGN, full), v))
                .collect();
            let actual: BTreeMap<String, &Value> =
                docs.iter().map(|(p, v)| (p.clone(), v)).collect();
            assert!(
                expected.keys().eq(actual.keys()),
                "{what}: documents {:?}, expected {:?}",
                actual.keys(),
                expected.keys()
            );
            for (path, b) in &expected {
                if let Err(e) = same(b, actual[path], full, path) {
                    panic!("{what}: {e}");
                }
            }
        }
        total_accepted += accepted;
        report.push(format!(
            "{:>24}: {accepted:>2} of {} accepted and intact, the rest refused",
            pos.name,
            hostile.len()
        ));
    }
    eprintln!("{}", report.join("\n"));
    // Refusing everything would pass vacuously: free text (messages, reasons) must get through.
    assert!(
        total_accepted >= 100,
        "only {total_accepted} hostile values compiled"
    );
}
