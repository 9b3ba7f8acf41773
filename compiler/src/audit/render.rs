//! The report as Markdown and as one self-contained HTML page, from the templates in
//! `compiler/templates/audit/`.
//!
//! Every value is escaped for its format where the template writes it: HTML by minijinja's HTML
//! auto-escape, Markdown by `markdown_text` (every character Markdown could read as syntax, and
//! line breaks, which would end a table row), so no name or reason in a program can add a row, a
//! link or an element to a report.

use super::Report;
use minijinja::value::Value;
use minijinja::{AutoEscape, Environment, Error, ErrorKind, Output, State};
use std::sync::OnceLock;

const MARKDOWN: &str = include_str!("../../templates/audit/report.md");
const HTML: &str = include_str!("../../templates/audit/report.html");

fn env() -> Result<&'static Environment<'static>, String> {
    static ENV: OnceLock<Result<Environment<'static>, String>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
        env.set_auto_escape_callback(|name| {
            if name.ends_with(".html") {
                AutoEscape::Html
            } else {
                AutoEscape::None
            }
        });
        env.set_formatter(format_value);
        env.add_filter("code", code);
        env.add_filter("codespans", codespans);
        for (name, source) in [("report.md", MARKDOWN), ("report.html", HTML)] {
            env.add_template(name, source)
                .map_err(|e| format!("template `{name}`: {e}"))?;
        }
        Ok(env)
    })
    .as_ref()
    .map_err(Clone::clone)
}

/// HTML values as minijinja escapes them; Markdown ones through `markdown_text`.
fn format_value(out: &mut Output, state: &mut State, value: &Value) -> Result<(), Error> {
    if *state.auto_escape() == AutoEscape::Html || value.is_safe() {
        return minijinja::escape_formatter(out, state, value);
    }
    let text = if value.is_none() || value.is_undefined() {
        String::new()
    } else {
        value.to_string()
    };
    out.write_str(&markdown_text(&text)).map_err(Error::from)
}

/// Text that Markdown (CommonMark and GitHub's tables) shows as it is.
pub fn markdown_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '#' | '!' | '~' | '&' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' | '\u{2028}' | '\u{2029}' | '\u{85}' => out.push(' '),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// `value|code`: a Markdown code span holding the text as it is, with a fence longer than any
/// run of backticks in it. In HTML, the escaped text in `<code>`.
fn code(state: &State, value: Value) -> Result<Value, Error> {
    let text = value.to_string();
    if *state.auto_escape() == AutoEscape::Html {
        let escaped = minijinja::HtmlEscape(&text).to_string();
        return Ok(Value::from_safe_string(format!("<code>{escaped}</code>")));
    }
    Ok(Value::from_safe_string(markdown_code(&text)))
}

/// A Markdown code span of `text`, one line, `|` escaped for a table.
fn markdown_code(text: &str) -> String {
    let flat: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .replace('|', "\\|");
    let longest = flat.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest + 1);
    let pad = if flat.starts_with('`') || flat.ends_with('`') || flat.is_empty() {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{flat}{pad}{fence}")
}

#[derive(serde::Serialize)]
struct Context<'a> {
    r: &'a Report,
}

/// `value|codespans`: the text with each `…` pair as code (`<code>…</code>` in HTML, a code span
/// in Markdown) and the rest escaped.
fn codespans(state: &State, value: Value) -> Value {
    let html = *state.auto_escape() == AutoEscape::Html;
    let text = value.to_string();
    let parts: Vec<&str> = text.split('`').collect();
    let closed = parts.len() % 2 == 1;
    let plain = |t: &str| {
        if html {
            minijinja::HtmlEscape(t).to_string()
        } else {
            markdown_text(t)
        }
    };
    let mut out = String::with_capacity(text.len() + 16);
    for (i, part) in parts.iter().enumerate() {
        if i % 2 == 0 {
            out.push_str(&plain(part));
        } else if !closed {
            // An odd backtick with no partner stays as it is.
            out.push_str(&plain(&format!("`{part}")));
        } else if html {
            out.push_str("<code>");
            out.push_str(&plain(part));
            out.push_str("</code>");
        } else {
            out.push_str(&markdown_code(part));
        }
    }
    Value::from_safe_string(out)
}

fn render(name: &str, report: &Report) -> Result<String, Error> {
    let env = env().map_err(|e| Error::new(ErrorKind::InvalidOperation, e))?;
    let mut text = env
        .get_template(name)?
        .render(minijinja::value::Serde(Context { r: report }))?;
    if !text.ends_with('\n') {
        text.push('\n');
    }
    Ok(text)
}

/// The report as Markdown, for a pull request or a repository.
pub fn markdown(report: &Report) -> Result<String, String> {
    render("report.md", report).map_err(|e| format!("the Markdown report: {e:#}"))
}

/// The report as one HTML page: no script, no external asset; readable on screen and printable.
pub fn html(report: &Report) -> Result<String, String> {
    render("report.html", report).map_err(|e| format!("the HTML report: {e:#}"))
}

#[cfg(test)]
mod tests {
    use super::markdown_text;

    #[test]
    fn markdown_text_cannot_add_rows_links_or_html() {
        let hostile = "a | b\n| c | d |\n[x](http://e) <script>*y*</script> `z`";
        let escaped = markdown_text(hostile);
        assert!(!escaped.contains('\n'));
        assert!(!escaped.contains(" | "));
        assert!(escaped.contains("\\|"));
        assert!(escaped.contains("\\[x\\]"));
        assert!(escaped.contains("\\<script\\>"));
    }
}
