//! Rendering: the templates of `targets/` filled with the views `lower` builds, and the quoting
//! that both they and the targets written without a template (one document per service: `netpol`,
//! `cilium`, `seccomp`, `spo`) use for every value.
//!
//! Every template is `.yaml` or `.json`, so minijinja's JSON auto-escape turns every value into a
//! JSON scalar, list or map: no name, label or message can add a key, a list item or a document.
//! Templates are compiled into the binary so that the output never depends on the working directory.

use minijinja::Environment;
use serde::Serialize;
use std::sync::OnceLock;

const TEMPLATES: &[(&str, &str)] = &[
    (
        "kyverno/clusterpolicy.yaml",
        include_str!("../../../targets/kyverno/clusterpolicy.yaml"),
    ),
    (
        "gatekeeper/template.yaml",
        include_str!("../../../targets/gatekeeper/template.yaml"),
    ),
    (
        "gatekeeper/constraint.yaml",
        include_str!("../../../targets/gatekeeper/constraint.yaml"),
    ),
    (
        "vap/policy.yaml",
        include_str!("../../../targets/vap/policy.yaml"),
    ),
    (
        "vap/binding.yaml",
        include_str!("../../../targets/vap/binding.yaml"),
    ),
    (
        "kustomization.yaml",
        include_str!("../../../targets/kustomization.yaml"),
    ),
];

fn env() -> Result<&'static Environment<'static>, String> {
    static ENV: OnceLock<Result<Environment<'static>, String>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
        env.set_formatter(format_value);
        for (name, source) in TEMPLATES {
            env.add_template(name, source)
                .map_err(|e| format!("template `{name}`: {e}"))?;
        }
        Ok(env)
    })
    .as_ref()
    .map_err(Clone::clone)
}

/// Writes every `{{ value }}` as JSON (a scalar, list or map, never structure of the document)
/// with every character outside printable ASCII escaped. minijinja's own JSON escaping leaves
/// them raw, but YAML readers fold U+2028, U+2029 and U+0085 into spaces and reject DEL, so a raw
/// one would change a value or break the document. Astral characters are `\UXXXXXXXX` in YAML and
/// a surrogate pair in JSON, the escapes each format defines.
fn format_value(
    out: &mut minijinja::Output,
    state: &mut minijinja::State,
    value: &minijinja::Value,
) -> Result<(), minijinja::Error> {
    use minijinja::{AutoEscape, Error, ErrorKind};
    if *state.auto_escape() != AutoEscape::Json {
        return Err(Error::new(
            ErrorKind::InvalidOperation,
            "every template must be .yaml or .json, so that values are JSON-escaped",
        ));
    }
    if let Some(s) = value.as_str() {
        return write_quoted(out, s, state.name().ends_with(".yaml")).map_err(Error::from);
    }
    let json = serde_json::to_string(value)
        .map_err(|e| Error::new(ErrorKind::BadSerialization, e.to_string()))?;
    let mut escaped = String::with_capacity(json.len());
    push_ascii(&mut escaped, &json, state.name().ends_with(".yaml"));
    out.write_str(&escaped).map_err(Error::from)
}

/// Appends `s` as a JSON string literal in printable ASCII, as every template value is written:
/// the writers of documents that have no template (`lower/netpol.rs`) write their values with it.
/// `yaml`: the document is YAML (astral characters as `\UXXXXXXXX`), else JSON.
pub(crate) fn push_quoted(out: &mut String, s: &str, yaml: bool) {
    out.reserve(s.len() + 2);
    // Writing to a String cannot fail.
    let _ = write_quoted(out, s, yaml);
}

/// `push_quoted` of `prefix` + `name` (a label key and the prefix a target writes before it),
/// without joining them first when they need no escape.
pub(crate) fn push_quoted_parts(out: &mut String, prefix: &str, name: &str, yaml: bool) {
    if is_plain(prefix) && is_plain(name) {
        out.reserve(prefix.len() + name.len() + 2);
        out.push('"');
        out.push_str(prefix);
        out.push_str(name);
        out.push('"');
    } else {
        push_quoted(out, &format!("{prefix}{name}"), yaml);
    }
}

/// Writes `s` as a JSON string literal in printable ASCII: what `serde_json` writes for it (`\"`,
/// `\\`, the short escapes of `\b \f \n \r \t`, `\u00XX` for other control characters), with
/// every character outside printable ASCII then escaped too (`\uXXXX`; astral characters as YAML's
/// `\UXXXXXXXX` or JSON's surrogate pair). In one pass over `s`, runs of plain characters
/// written at once: an admission rule's CEL is kilobytes of quoted text, worth one pass rather
/// than escaping it as JSON first and as ASCII after.
fn write_quoted(out: &mut impl std::fmt::Write, s: &str, yaml: bool) -> std::fmt::Result {
    out.write_char('"')?;
    let mut rest = s;
    loop {
        let run = plain_prefix(rest);
        // `run` counts ASCII bytes only, so the split cannot fail.
        let (plain, tail) = rest.split_at_checked(run).unwrap_or(("", rest));
        out.write_str(plain)?;
        let mut chars = tail.chars();
        let Some(c) = chars.next() else {
            break;
        };
        rest = chars.as_str();
        match c {
            '"' => out.write_str("\\\"")?,
            '\\' => out.write_str("\\\\")?,
            '\u{8}' => out.write_str("\\b")?,
            '\u{c}' => out.write_str("\\f")?,
            '\n' => out.write_str("\\n")?,
            '\r' => out.write_str("\\r")?,
            '\t' => out.write_str("\\t")?,
            _ if u32::from(c) <= 0xffff => write!(out, "\\u{:04x}", u32::from(c))?,
            _ if yaml => write!(out, "\\U{:08x}", u32::from(c))?,
            _ => {
                for unit in c.encode_utf16(&mut [0; 2]) {
                    write!(out, "\\u{unit:04x}")?;
                }
            }
        }
    }
    out.write_char('"')
}

/// Appends what every object written without a template starts with: `apiVersion` and `kind` (as
/// `head` writes them), then the metadata — name, namespace, warden's label and the annotations
/// saying where the object came from (`flows` left out when empty) and the warnings its
/// declaration accepts (`accepted`, left out when empty). No newline after it.
pub(crate) fn push_object_head(
    out: &mut String,
    head: &str,
    name: &str,
    namespace: &str,
    source: &str,
    flows: &str,
    accepted: &str,
) {
    out.push_str(head);
    out.push_str("\nmetadata:\n  name: ");
    push_quoted(out, name, true);
    out.push_str("\n  namespace: ");
    push_quoted(out, namespace, true);
    out.push_str("\n  labels:\n    app.kubernetes.io/managed-by: warden\n  annotations:");
    out.push_str("\n    warden.dev/source: ");
    push_quoted(out, source, true);
    if !flows.is_empty() {
        out.push_str("\n    warden.dev/flows: ");
        push_quoted(out, flows, true);
    }
    if !accepted.is_empty() {
        out.push_str("\n    warden.dev/accepted: ");
        push_quoted(out, accepted, true);
    }
    out.push_str("\n    warden.dev/version: ");
    push_quoted(out, crate::document::VERSION, true);
}

/// Appends `value` as one line of JSON in printable ASCII, as a template writes a value that is a
/// list or a map: compact, the keys of every map in order (minijinja's maps are ordered, and so
/// are serde_json's without its `preserve_order` feature, which nothing here enables).
pub(crate) fn push_json(
    out: &mut String,
    value: &impl Serialize,
    yaml: bool,
) -> Result<(), String> {
    let value = serde_json::to_value(value).map_err(|e| e.to_string())?;
    push_ascii(out, &value.to_string(), yaml);
    Ok(())
}

/// Most values are plain strings (names, labels, sources): written as they are, quoted.
fn is_plain(s: &str) -> bool {
    plain_prefix(s) == s.len()
}

/// How many bytes `s` starts with that a quoted string holds as they are: printable ASCII but
/// for the quote and the backslash.
fn plain_prefix(s: &str) -> usize {
    // A table: one load a byte instead of three comparisons, for the millions of short names a
    // large program's policies quote.
    #[expect(clippy::indexing_slicing, reason = "a byte indexes a table of 256")]
    const PLAIN: [bool; 256] = {
        let mut table = [false; 256];
        let mut b = b' ';
        while b <= b'~' {
            table[b as usize] = b != b'"' && b != b'\\';
            b += 1;
        }
        table
    };
    let bytes = s.as_bytes();
    // Eight bytes at a time while none of them needs an escape (the usual bit tricks for "a byte
    // below", "a byte above" and "a byte equal to"), then byte by byte from the word that has
    // one: rules' CEL is kilobytes a string, and a table lookup a byte was most of quoting it.
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGH: u64 = u64::from_ne_bytes([0x80; 8]);
    let zero_byte = |w: u64| w.wrapping_sub(ONES) & !w & HIGH != 0;
    let mut start = 0;
    for word in bytes.chunks_exact(8) {
        let w = u64::from_ne_bytes(word.try_into().unwrap_or([0; 8]));
        let below_space = w.wrapping_sub(ONES * 0x20) & !w & HIGH != 0;
        let above_tilde = (w.wrapping_add(ONES) | w) & HIGH != 0;
        if below_space
            || above_tilde
            || zero_byte(w ^ (ONES * u64::from(b'"')))
            || zero_byte(w ^ (ONES * u64::from(b'\\')))
        {
            break;
        }
        start += 8;
    }
    let rest = bytes.get(start..).unwrap_or_default();
    start
        + rest
            .iter()
            .position(|&b| !PLAIN.get(usize::from(b)).copied().unwrap_or(false))
            .unwrap_or(rest.len())
}

/// Appends JSON text with every character outside printable ASCII escaped.
fn push_ascii(out: &mut String, json: &str, yaml: bool) {
    use std::fmt::Write;
    let kept = |b: u8| b.is_ascii() && b != 0x7f;
    let mut rest = json;
    while !rest.is_empty() {
        // Runs of characters kept as they are, copied at once: the admission rules' CEL is tens
        // of kilobytes of quoted text per document.
        let run = rest.bytes().position(|b| !kept(b)).unwrap_or(rest.len());
        // `run` follows ASCII bytes only, so the split cannot fail; were it to, nothing is
        // copied unescaped.
        let (copied, tail) = rest.split_at_checked(run).unwrap_or(("", rest));
        out.push_str(copied);
        let mut chars = tail.chars();
        let Some(c) = chars.next() else {
            break;
        };
        rest = chars.as_str();
        // Writing to a String cannot fail.
        let _ = if u32::from(c) <= 0xffff {
            write!(out, "\\u{:04x}", u32::from(c))
        } else if yaml {
            write!(out, "\\U{:08x}", u32::from(c))
        } else {
            c.encode_utf16(&mut [0; 2])
                .iter()
                .try_for_each(|unit| write!(out, "\\u{unit:04x}"))
        };
    }
}

/// Renders one template. An error here is a defect of a template, never of the user's program.
pub fn render(template: &str, ctx: impl Serialize) -> Result<String, String> {
    let env = env()?;
    let tmpl = env.get_template(template).map_err(|e| e.to_string())?;
    // Templates drop their final newline (so that included ones do not leave blank lines); every
    // file warden writes ends with exactly one.
    let mut text = tmpl
        .render(minijinja::value::Serde(ctx))
        .map_err(|e| format!("template `{template}`: {e}"))?;
    text.push('\n');
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::{push_ascii, push_quoted};

    /// Quoting in one pass writes what it wrote in two, `serde_json`'s escaping and then the
    /// escaping of every character outside printable ASCII: every character up to U+00FF, those
    /// YAML folds or rejects, astral ones, and strings made of them at random.
    #[test]
    fn quoting_in_one_pass_writes_serde_json_escaped_as_ascii() {
        let mut strings: Vec<String> = (0u32..=0xff)
            .filter_map(char::from_u32)
            .map(String::from)
            .collect();
        strings.extend(
            [
                "\u{2028}",
                "\u{2029}",
                "\u{85}",
                "\u{feff}",
                "\u{fffd}",
                "😀",
                "\u{10ffff}",
                "",
                "plain",
            ]
            .map(String::from),
        );
        // Each of those characters at every place of a longer string, so that it falls in each
        // byte of a word that the search reads eight bytes at a time.
        for c in (0u32..=0xff).filter_map(char::from_u32) {
            for at in 0..20 {
                let mut s: String = "abcdefghijklmnopqrstuvw".chars().take(at).collect();
                s.push(c);
                s.push_str("xyz0123456789");
                strings.push(s);
            }
        }
        let alphabet: Vec<char> = "ab \"\\\n\t\r\u{8}\u{c}\u{1}\u{1f}\u{7f}é\u{2028}😀{}:-#'"
            .chars()
            .collect();
        let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
        for _ in 0..2000 {
            let mut s = String::new();
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            for k in 0..(seed % 40) {
                let pick = (seed >> (k % 48)) as usize % alphabet.len();
                s.push(alphabet[pick]);
            }
            strings.push(s);
        }
        for s in &strings {
            for yaml in [false, true] {
                let mut expected = String::new();
                push_ascii(&mut expected, &serde_json::to_string(s).unwrap(), yaml);
                let mut out = String::new();
                push_quoted(&mut out, s, yaml);
                assert_eq!(out, expected, "{s:?}, yaml {yaml}");
            }
        }
    }

    /// A quoted string is printable ASCII and reads back, as JSON and as YAML, to the string
    /// itself: runs of plain characters, escapes, characters of the basic plane and beyond, at
    /// the start, middle and end.
    #[test]
    fn quoted_strings_are_ascii_and_read_back_to_themselves() {
        let strings = [
            "",
            "plain",
            "say \"hi\"",
            "back\\slash",
            "tab\tand\nnewline",
            "\u{7f}del",
            "café",
            "line\u{2028}separator",
            "\u{feff}bom",
            "😀 astral 😀",
            "mixed é \"q\" \u{1f600}\\ end\u{7f}",
            "has(c.securityContext) && c.image.startsWith(\"registry/\")",
        ];
        for s in strings {
            for yaml in [false, true] {
                let mut out = String::new();
                push_quoted(&mut out, s, yaml);
                assert!(
                    out.bytes().all(|b| (b' '..=b'~').contains(&b)),
                    "{s:?} → {out}"
                );
                let back: String = if yaml {
                    serde_yaml::from_str(&out).expect("YAML reads it")
                } else {
                    serde_json::from_str(&out).expect("JSON reads it")
                };
                assert_eq!(back, s, "{out}");
            }
        }
    }
}
