//! Rendering: the templates of `targets/` filled with the views `lower` builds.
//!
//! Every template is `.yaml` or `.json`, so minijinja's JSON auto-escape turns every value into a
//! JSON scalar, list or map: no name, label or message can add a key, a list item or a document.
//! Templates are compiled into the binary so that the output never depends on the working directory.

use minijinja::Environment;
use serde::Serialize;
use std::sync::OnceLock;

const TEMPLATES: &[(&str, &str)] = &[
    (
        "netpol/networkpolicy.yaml",
        include_str!("../../targets/netpol/networkpolicy.yaml"),
    ),
    (
        "netpol/peer.yaml",
        include_str!("../../targets/netpol/peer.yaml"),
    ),
    (
        "netpol/ports.yaml",
        include_str!("../../targets/netpol/ports.yaml"),
    ),
    (
        "cilium/policy.yaml",
        include_str!("../../targets/cilium/policy.yaml"),
    ),
    (
        "cilium/ports.yaml",
        include_str!("../../targets/cilium/ports.yaml"),
    ),
    (
        "kyverno/clusterpolicy.yaml",
        include_str!("../../targets/kyverno/clusterpolicy.yaml"),
    ),
    (
        "gatekeeper/template.yaml",
        include_str!("../../targets/gatekeeper/template.yaml"),
    ),
    (
        "gatekeeper/constraint.yaml",
        include_str!("../../targets/gatekeeper/constraint.yaml"),
    ),
    (
        "spo/seccompprofile.yaml",
        include_str!("../../targets/spo/seccompprofile.yaml"),
    ),
    (
        "seccomp/profile.json",
        include_str!("../../targets/seccomp/profile.json"),
    ),
    (
        "vap/policy.yaml",
        include_str!("../../targets/vap/policy.yaml"),
    ),
    (
        "vap/binding.yaml",
        include_str!("../../targets/vap/binding.yaml"),
    ),
    (
        "kustomization.yaml",
        include_str!("../../targets/kustomization.yaml"),
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
    // Most values are plain strings (names, labels, sources): written as they are, quoted.
    if let Some(s) = value.as_str()
        && s.bytes()
            .all(|b| (b' '..=b'~').contains(&b) && b != b'"' && b != b'\\')
    {
        out.write_str("\"").map_err(Error::from)?;
        out.write_str(s).map_err(Error::from)?;
        return out.write_str("\"").map_err(Error::from);
    }
    let json = serde_json::to_string(value)
        .map_err(|e| Error::new(ErrorKind::BadSerialization, e.to_string()))?;
    let yaml = state.name().ends_with(".yaml");
    let mut escaped = String::with_capacity(json.len());
    for c in json.chars() {
        if c.is_ascii() && c != '\u{7f}' {
            escaped.push(c);
        } else if u32::from(c) <= 0xffff {
            escaped.push_str(&format!("\\u{:04x}", u32::from(c)));
        } else if yaml {
            escaped.push_str(&format!("\\U{:08x}", u32::from(c)));
        } else {
            for unit in c.encode_utf16(&mut [0; 2]) {
                escaped.push_str(&format!("\\u{:04x}", unit));
            }
        }
    }
    out.write_str(&escaped).map_err(Error::from)
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
