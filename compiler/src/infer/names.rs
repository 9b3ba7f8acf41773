//! Names and labels as a program can say them: Kubernetes names made DNS labels, and the label
//! keys and values Kubernetes accepts (a selector says no other).

/// A Kubernetes name as a warden name (a DNS-1123 label: at most 63 letters, digits and `-`,
/// starting with a letter and not ending with `-`).
pub fn program_name(name: &str) -> String {
    let mapped: String = name
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let trimmed = mapped.trim_matches('-');
    let mut out = if trimmed.starts_with(|c: char| c.is_ascii_alphabetic()) {
        trimmed.to_string()
    } else if trimmed.is_empty() {
        "w".to_string()
    } else {
        format!("w-{trimmed}")
    };
    out.truncate(63);
    out.trim_end_matches('-').to_string()
}

pub(super) fn protocol(p: &str) -> String {
    p.to_ascii_lowercase()
}

/// Kubernetes' rule for a label key, as `check` holds a program to it: a name after an optional
/// prefix that is a DNS subdomain and a `/`. (Anything else could even read as a comment in a
/// program: `//app`.)
pub(crate) fn label_key_ok(k: &str) -> bool {
    crate::check::label_key_problem(k).is_none()
}

/// Kubernetes' rule for a label value, as `check` holds a program to it.
pub(crate) fn label_value_ok(v: &str) -> bool {
    crate::check::label_value_problem(v).is_none()
}

/// A label a program can say.
pub(super) fn label_ok((k, v): (&String, &String)) -> bool {
    label_key_ok(k) && label_value_ok(v)
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_are_dns_labels_and_label_keys_are_kubernetes_keys() {
        for (from, to) in [
            ("Web_API", "web-api"),
            ("-", "w"),
            ("", "w"),
            ("9lives", "w-9lives"),
        ] {
            assert_eq!(super::program_name(from), to);
        }
        let long = super::program_name(&format!("1{}", "a".repeat(80)));
        assert!(long.len() <= 63 && long.starts_with("w-1"), "{long}");
        assert!(super::label_key_ok("app.kubernetes.io/name"));
        for bad in ["//app", "/app", "Example.com/app", "app/", "a/b/c", "-app"] {
            assert!(!super::label_key_ok(bad), "{bad}");
        }
    }
}
