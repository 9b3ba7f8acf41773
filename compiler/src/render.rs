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
        for (name, source) in TEMPLATES {
            env.add_template(name, source)
                .map_err(|e| format!("template `{name}`: {e}"))?;
        }
        Ok(env)
    })
    .as_ref()
    .map_err(Clone::clone)
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
