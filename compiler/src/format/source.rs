//! `warden fmt`: a program file in the canonical layout, every comment kept where it was.
//!
//! ```text
//! namespace shop{isolate   // parsed                namespace shop {
//!   allow dns labels team=ops}                        isolate // parsed
//!                                                     allow dns
//!                                                     labels team = ops
//!                                                   }
//! ```
//!
//! The layout is of the tokens as written, in the order written: each declaration and each item of
//! a block on a line of its own (the parser says where they start), two spaces per block, one
//! space between tokens but none inside `pods(…)`, before `,` and `)` or after `(` and `!`, at
//! most one blank line where the source had any, and one after a block. Comments stay in order:
//! one that followed code on its line still does; one on a line of its own still is, indented as
//! the code around it; one inside an item breaks the item there and the item goes on, indented
//! four more. Nothing is reordered, so nothing moves away from the comment that explains it.
//!
//! A formatted file is checked before it is returned: it must parse to the same program (the
//! canonical printing of both syntax trees is compared) with the same comments in the same
//! order. If not, that is a bug in this file, and the source is left as it was (E0806).

use crate::diag::Diagnostic;
use crate::span::FileId;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    /// A name, keyword, number, CIDR, port, label key: anything between punctuation.
    Word,
    Str,
    Punct,
    LineComment,
    BlockComment,
}

#[derive(Clone, Copy, Debug)]
struct Token<'a> {
    kind: Kind,
    text: &'a str,
    start: usize,
    end: usize,
}

impl Token<'_> {
    fn is_comment(&self) -> bool {
        matches!(self.kind, Kind::LineComment | Kind::BlockComment)
    }
}

const PUNCT2: [&str; 5] = ["->", "==", "!=", "<=", ">="];
const PUNCT1: &[u8] = b"{}(),=!|<>";

fn is_word_byte(rest: &[u8]) -> bool {
    match rest {
        [] | [b'-', b'>', ..] => false,
        // Any other `/` or `-` is part of a word (`ns/name`, `10.0.0.0/8`, `8000-8100/tcp`,
        // `kill-process`, a label key `a//b`): comments are known from the parser.
        [b, ..] => !b.is_ascii_whitespace() && !PUNCT1.contains(b) && *b != b'"',
    }
}

/// The tokens and comments of a file that parses (so every string ends), given the spans of its
/// comments, which only the parser can tell from a label key such as `a//b`.
fn lex<'a>(text: &'a str, comments: &[(usize, usize)]) -> Vec<Token<'a>> {
    let mut out = Vec::new();
    let mut at = 0;
    for &(start, end) in comments
        .iter()
        .chain(std::iter::once(&(text.len(), text.len())))
    {
        lex_code(text, at, start, &mut out);
        if start < end {
            let body = text.get(start..end).unwrap_or_default();
            let kind = if body.starts_with("//") {
                Kind::LineComment
            } else {
                Kind::BlockComment
            };
            out.push(Token {
                kind,
                text: if kind == Kind::LineComment {
                    body.trim_end()
                } else {
                    body
                },
                start,
                end,
            });
        }
        at = end;
    }
    join_control_ids(text, out)
}

/// A control id such as `SC-7(5)` is one token of the grammar (`control_id`): a word, `(`, a word
/// and `)` written without a space between them stay one word, as written.
fn join_control_ids<'a>(text: &'a str, tokens: Vec<Token<'a>>) -> Vec<Token<'a>> {
    let mut out: Vec<Token<'a>> = Vec::with_capacity(tokens.len());
    let mut i = 0;
    while let Some(t) = tokens.get(i) {
        if let [w, open, inner, close] = tokens.get(i..i + 4).unwrap_or_default()
            && w.kind == Kind::Word
            && open.text == "("
            && inner.kind == Kind::Word
            && close.text == ")"
            && open.start == w.end
            && inner.start == open.end
            && close.start == inner.end
        {
            out.push(Token {
                kind: Kind::Word,
                text: text.get(w.start..close.end).unwrap_or_default(),
                start: w.start,
                end: close.end,
            });
            i += 4;
            continue;
        }
        out.push(*t);
        i += 1;
    }
    out
}

/// The tokens of `text[from..to]`, which holds no comment.
fn lex_code<'a>(text: &'a str, from: usize, to: usize, out: &mut Vec<Token<'a>>) {
    let bytes = text.as_bytes().get(..to).unwrap_or_default();
    let mut i = from;
    while i < bytes.len() {
        let rest = bytes.get(i..).unwrap_or_default();
        let start = i;
        let kind = if rest.first().is_some_and(u8::is_ascii_whitespace) {
            i += 1;
            continue;
        } else if rest.first() == Some(&b'"') {
            i += 1;
            while let Some(&b) = bytes.get(i) {
                i += 1;
                match b {
                    b'\\' => i += 1,
                    b'"' | b'\n' => break,
                    _ => {}
                }
            }
            Kind::Str
        } else if PUNCT2.iter().any(|p| rest.starts_with(p.as_bytes())) {
            i += 2;
            Kind::Punct
        } else if rest.first().is_some_and(|b| PUNCT1.contains(b)) {
            i += 1;
            Kind::Punct
        } else {
            while is_word_byte(bytes.get(i..).unwrap_or_default()) {
                i += 1;
            }
            // Not a byte any rule of a parsed file begins with: kept as a token of its own.
            if i == start {
                i += text
                    .get(i..)
                    .and_then(|r| r.chars().next())
                    .map_or(1, char::len_utf8);
            }
            Kind::Word
        };
        let end = i.min(bytes.len());
        out.push(Token {
            kind,
            text: text.get(start..end).unwrap_or_default(),
            start,
            end,
        });
    }
}

/// Whether one space goes between `prev` and `next` on one line. Two words always keep theirs:
/// without it they would be one (`/ notin` is a label key `/` and an operator; `/notin` a key).
fn spaced(prev: &Token<'_>, next: &Token<'_>) -> bool {
    if prev.is_comment() || next.is_comment() {
        return true;
    }
    match (prev.text, next.text) {
        (_, "," | ")") | ("(" | "!", _) => false,
        ("pods" | "namespaces", "(") => prev.kind != Kind::Word,
        _ => true,
    }
}

struct Layout<'a> {
    text: &'a str,
    out: String,
    depth: usize,
    /// Whether the last line written is still open (text may follow on it).
    open: bool,
    /// Whether the open line must end before the next token (it ends in a `//` comment).
    must_break: bool,
    /// The last line written opened a block (`{` and maybe a comment): no blank line after it.
    after_open: bool,
    /// The last line written closed a declaration (`}` at the outermost level).
    after_declaration: bool,
    /// Where the source's previous token or comment ended.
    last_end: usize,
    /// Where the open line starts in `out`.
    line_start: usize,
}

/// Where a list is wrapped: after the last comma that keeps a line within this many columns.
pub(crate) const WIDTH: usize = 100;

impl Layout<'_> {
    fn newlines_before(&self, start: usize) -> usize {
        self.text
            .get(self.last_end..start)
            .map_or(0, |gap| gap.bytes().filter(|&b| b == b'\n').count())
    }

    /// Ends the open line and starts another at `indent`, with a blank line between where the
    /// source had one (or a declaration just ended), but not after a line that opened a block,
    /// nor inside an item (`within`).
    fn line(&mut self, start: usize, indent: usize, within: bool) {
        let blank = !within
            && !self.out.is_empty()
            && !self.after_open
            && (self.newlines_before(start) >= 2 || (self.after_declaration && self.depth == 0));
        if self.open {
            self.out.push('\n');
        }
        if blank {
            self.out.push('\n');
        }
        self.line_start = self.out.len();
        for _ in 0..indent {
            self.out.push(' ');
        }
        self.open = true;
        self.must_break = false;
        self.after_open = false;
        self.after_declaration = false;
    }
}

/// The tokens of `text` laid out; `starts` are where declarations and items begin.
fn layout(text: &str, tokens: &[Token<'_>], starts: &[usize]) -> String {
    let mut l = Layout {
        text,
        out: String::with_capacity(text.len() + text.len() / 8),
        depth: 0,
        open: false,
        must_break: false,
        after_open: false,
        after_declaration: false,
        last_end: 0,
        line_start: 0,
    };
    let mut prev: Option<Token<'_>> = None;
    for (i, t) in tokens.iter().enumerate() {
        let begins = starts.binary_search(&t.start).is_ok();
        let closes = t.kind == Kind::Punct && t.text == "}";
        // `{ }`: an empty block stays on its line.
        let empty = closes && prev.is_some_and(|p| p.kind == Kind::Punct && p.text == "{");
        if closes {
            l.depth = l.depth.saturating_sub(1);
        }
        let trailing = t.is_comment() && l.open && l.newlines_before(t.start) == 0;
        if t.is_comment() && !trailing {
            // A comment on a line of its own: indented as the items of its block, or as the rest
            // of the item it interrupts.
            let next = tokens
                .get(i + 1..)
                .unwrap_or_default()
                .iter()
                .find(|n| !n.is_comment());
            let inside = next.is_some_and(|n| {
                starts.binary_search(&n.start).is_err() && !(n.kind == Kind::Punct && n.text == "}")
            }) && l.open;
            l.line(t.start, l.depth * 2 + if inside { 4 } else { 0 }, inside);
            l.out.push_str(t.text);
            l.must_break = true;
        } else if t.is_comment() {
            l.out.push(' ');
            l.out.push_str(t.text);
            l.must_break = t.kind == Kind::LineComment;
        } else if (begins || (closes && !empty)) || l.must_break || !l.open {
            let continues = !(begins || closes) && l.open;
            l.line(
                t.start,
                l.depth * 2 + if continues { 4 } else { 0 },
                continues,
            );
            l.out.push_str(t.text);
        } else if prev.is_some_and(|p| p.text == "," && p.kind == Kind::Punct)
            && l.out
                .get(l.line_start..)
                .map_or(0, |line| line.chars().count())
                + 1
                + t.text.chars().count()
                > WIDTH
        {
            l.line(t.start, l.depth * 2 + 4, true);
            l.out.push_str(t.text);
        } else {
            if prev.is_none_or(|p| spaced(&p, t)) {
                l.out.push(' ');
            }
            l.out.push_str(t.text);
        }
        if t.kind == Kind::Punct && t.text == "{" {
            l.depth += 1;
            l.after_open = true;
        } else if !t.is_comment() {
            l.after_open = false;
        }
        if closes {
            l.after_declaration = l.depth == 0;
        }
        l.last_end = t.end;
        prev = Some(*t);
    }
    if l.open {
        l.out.push('\n');
    }
    l.out
}

/// `text` laid out, without reading the result back as `format` does: for text warden wrote
/// itself (`infer`, `import`), which is compiled before it is written and whose meaning the
/// oracles check, so that a draft of thousands of services is not parsed and printed twice more.
pub fn lay_out(file: FileId, text: &str) -> Result<String, Vec<Diagnostic>> {
    laid_out(file, text).map(|(out, _)| out)
}

fn laid_out(file: FileId, text: &str) -> Result<(String, crate::parse::Laid), Vec<Diagnostic>> {
    let before = crate::parse::parse_for_layout(file, text)?;
    if before.diags.iter().any(Diagnostic::is_error) {
        return Err(before.diags);
    }
    let tokens = lex(text, &before.comments);
    let out = layout(text, &tokens, &before.starts);
    Ok((out, before))
}

/// `text` in the canonical layout, or the diagnostics of a file that does not parse (E0001), or
/// E0806 where the layout would change the program or its comments (a bug: nothing is lost).
pub fn format(file: FileId, text: &str) -> Result<String, Vec<Diagnostic>> {
    let (out, before) = laid_out(file, text)?;
    // The comments as the parser finds them in each text, not as `lex` was told they are.
    let comments = |text: &str, spans: &[(usize, usize)]| -> Vec<String> {
        spans
            .iter()
            .map(|&(s, e)| text.get(s..e).unwrap_or_default().trim_end().to_string())
            .collect()
    };
    let (same_program, same_comments) = match crate::parse::parse_for_layout(file, &out) {
        Ok(after) => (
            super::file(&after.file) == super::file(&before.file),
            comments(&out, &after.comments) == comments(text, &before.comments),
        ),
        Err(_) => (false, true),
    };
    if same_program && same_comments {
        Ok(out)
    } else {
        Err(vec![
            Diagnostic::error(
                "E0806",
                "formatting would change this file's program or comments; it is left as it is",
            )
            .primary(
                crate::span::Span::new(file, 0, text.find('\n').unwrap_or(text.len())),
                "in this file",
            )
            .note(if same_program {
                "a comment would be lost or moved out of order"
            } else {
                "the formatted text would mean another program"
            })
            .help("this is a bug in warden: please report it with the file"),
        ])
    }
}

/// `format` of every file of `sources`, in order, on every core.
pub fn format_all(sources: &crate::span::SourceMap) -> Vec<Result<String, Vec<Diagnostic>>> {
    let ids: Vec<FileId> = (0..sources.len()).collect();
    crate::parallel::map(&ids, |&id| format(id, sources.text(id)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fmt(text: &str) -> String {
        match format(0, text) {
            Ok(out) => out,
            Err(d) => panic!("{text}: {d:?}"),
        }
    }

    #[test]
    fn lays_out_items_one_per_line() {
        let text = "namespace shop{isolate   // why\n  allow dns labels team=ops}\nservice web in shop { pods app=\"web\" to pods( app = \"x\" ) , cart on 80 }";
        assert_eq!(
            fmt(text),
            "namespace shop {\n  isolate // why\n  allow dns\n  labels team = ops\n}\n\n\
             service web in shop {\n  pods app = \"web\"\n  to pods(app = \"x\"), cart on 80\n}\n"
        );
    }

    #[test]
    fn keeps_comments_in_place_and_in_order() {
        let text = "// head\n\n\nnamespace a {\n// before\nisolate /* inline */ ingress\n  // last\n}\n// tail\n";
        assert_eq!(
            fmt(text),
            "// head\n\nnamespace a {\n  // before\n  isolate /* inline */ ingress\n  // last\n}\n\n// tail\n"
        );
    }

    #[test]
    fn a_comment_inside_an_item_breaks_it() {
        let text = "service w in a { pods x = \"1\"\n to b, // first\n c on 80 }";
        assert_eq!(
            fmt(text),
            "service w in a {\n  pods x = \"1\"\n  to b, // first\n      c on 80\n}\n"
        );
    }
}
