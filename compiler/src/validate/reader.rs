//! Reads back the YAML that warden's templates write, for the schema check.
//!
//! warden's documents use a small part of YAML: block mappings and block sequences indented with
//! spaces, a sequence allowed at its key's indentation, and on each line a scalar that is either a
//! JSON value (every value from a program, through `render`'s formatter, plus flow lists such as
//! `["v1"]` in templates), `true` or `false`, or a plain word from a template (`NetworkPolicy`,
//! `networking.k8s.io/v1`); and whole-line comments. This reader accepts exactly that and refuses
//! everything else — comments after a value, anchors, tags, block scalars, tabs, blank lines,
//! duplicate keys, plain words YAML would read as booleans or nulls, numbers that are not
//! integers, characters outside printable ASCII — so a template that strays from it fails the
//! build as a defect of warden instead of producing a document some reader might take differently.
//!
//!     metadata:                 accepted: keys, a nested mapping
//!       labels: {"app": "x"}    accepted: a JSON value
//!     policyTypes: yes          refused: YAML 1.1 reads `yes` as true
//!
//! Over that subset it reads what libyaml reads (tests compare it with serde_yaml on every
//! example's output and on random documents); it is a single pass over the lines, where a
//! general YAML parser was the largest cost of a build.

use super::tree::{Item, repeated};
use bumpalo::Bump;
use bumpalo::collections::Vec as ArenaVec;
use serde_json::Value;
use std::collections::HashSet;

struct Line<'a> {
    number: usize,
    indent: usize,
    text: &'a str,
}

/// Parses one document of the subset; the error names the line.
pub fn read(text: &str) -> Result<Value, String> {
    tree(&Bump::new(), text).map(|t| t.to_value())
}

/// `read`, as a tree borrowing `text`, built in `arena`: what the schema check walks.
pub fn tree<'a>(arena: &'a Bump, text: &'a str) -> Result<Item<'a>, String> {
    let printable = |b: u8| b == b'\n' || (b' '..=b'~').contains(&b);
    // Without an early exit the test runs on many bytes at a time: a byte-by-byte search was a
    // sixth of the schema check. Only a document that fails it is searched for the byte.
    if !text.bytes().fold(true, |all, b| all & printable(b))
        && let Some(bad) = text.bytes().position(|b| !printable(b))
    {
        return Err(format!("byte {bad}: a character outside printable ASCII"));
    }
    let body = text.strip_suffix('\n').unwrap_or(text);
    // Most lines are short, but an admission rule's CEL is kilobytes on one line. The `memchr`
    // crate's search costs no more than a byte-by-byte one on the first and far less on the
    // second.
    // As many as there are: a guess from the length fell short of NetworkPolicies' 22 bytes a
    // line and grew the vector by a copy of it.
    let mut lines = ArenaVec::with_capacity_in(
        memchr::memchr_iter(b'\n', body.as_bytes()).count() + 1,
        arena,
    );
    let mut start = 0;
    let ends = memchr::memchr_iter(b'\n', body.as_bytes()).chain(std::iter::once(body.len()));
    for (i, end) in ends.enumerate() {
        let number = i + 1;
        // The text is ASCII (checked above): every byte offset is a character boundary.
        let raw = body.get(start..end).unwrap_or_default();
        start = end + 1;
        let indent = raw.bytes().take_while(|&b| b == b' ').count();
        let content = raw.get(indent..).unwrap_or_default();
        if content == "#" || content.starts_with("# ") {
            continue;
        }
        if content.is_empty() {
            return Err(format!("line {number}: blank line"));
        }
        if content.ends_with(' ') {
            return Err(format!("line {number}: trailing space"));
        }
        lines.push(Line {
            number,
            indent,
            text: content,
        });
    }
    let mut reader = Reader {
        lines,
        pos: 0,
        arena,
        members: ArenaVec::new_in(arena),
        items: ArenaVec::new_in(arena),
    };
    let value = reader.node(0)?;
    match reader.lines.get(reader.pos) {
        None => Ok(value),
        Some(line) => Err(format!("line {}: unexpected indentation", line.number)),
    }
}

struct Reader<'a> {
    lines: ArenaVec<'a, Line<'a>>,
    pos: usize,
    arena: &'a Bump,
    /// The members and items of the mappings and sequences being read, innermost last: each
    /// moves into the arena at its exact size when it is complete.
    members: ArenaVec<'a, (&'a str, Item<'a>)>,
    items: ArenaVec<'a, Item<'a>>,
}

impl<'a> Reader<'a> {
    fn current(&self) -> Option<&Line<'a>> {
        self.lines.get(self.pos)
    }

    /// The node that starts at the current line, which must be indented by `indent`.
    fn node(&mut self, indent: usize) -> Result<Item<'a>, String> {
        let Some(line) = self.current() else {
            return Err("unexpected end of document".to_string());
        };
        if line.indent != indent {
            return Err(format!("line {}: unexpected indentation", line.number));
        }
        if is_item(line.text) {
            return self.sequence(indent);
        }
        // The commonest line of all, a list's string without escapes: read with one search
        // rather than searched as a key first.
        if let Some(inner) = plain_string(line.text) {
            self.pos += 1;
            return Ok(Item::Str(inner));
        }
        if is_key(line.text) {
            return self.mapping(indent);
        }
        // A scalar on its own line: only as a sequence item, which `sequence` turned into this.
        let value = scalar(self.arena, line.text, line.number)?;
        self.pos += 1;
        Ok(value)
    }

    fn sequence(&mut self, indent: usize) -> Result<Item<'a>, String> {
        let start = self.items.len();
        while let Some(line) = self.lines.get_mut(self.pos) {
            if line.indent != indent || !is_item(line.text) {
                break;
            }
            // `- x` is read as `x` indented two further, which is where the rest of a mapping
            // item's keys stand.
            line.text = line.text.get(2..).unwrap_or("");
            line.indent = indent + 2;
            if line.text.is_empty() || line.text.starts_with(' ') {
                return Err(format!("line {}: empty or misaligned item", line.number));
            }
            let item = self.node(indent + 2)?;
            self.items.push(item);
        }
        let items = self.items.drain(start..);
        Ok(Item::Array(self.arena.alloc_slice_fill_iter(items)))
    }

    fn mapping(&mut self, indent: usize) -> Result<Item<'a>, String> {
        let start = self.members.len();
        let mut seen = HashSet::new();
        while let Some(line) = self.current() {
            if line.indent != indent || is_item(line.text) {
                break;
            }
            let number = line.number;
            let Some((key, rest)) = split_key(self.arena, line.text, number)? else {
                return Err(format!("line {number}: expected a key"));
            };
            self.pos += 1;
            let value = if let Some(rest) = rest {
                scalar(self.arena, rest, number)?
            } else {
                match self.current() {
                    Some(next) if next.indent > indent => {
                        let nested = next.indent;
                        self.node(nested)?
                    }
                    Some(next) if next.indent == indent && is_item(next.text) => {
                        self.sequence(indent)?
                    }
                    _ => return Err(format!("line {number}: key `{key}` has no value")),
                }
            };
            // Nested mappings have taken their members off the stack: this one's are above
            // `start`.
            if repeated(
                self.members.get(start..).unwrap_or_default(),
                &mut seen,
                key,
            ) {
                return Err(format!("line {number}: duplicate key `{key}`"));
            }
            self.members.push((key, value));
        }
        let members = self.members.drain(start..);
        Ok(Item::Object(self.arena.alloc_slice_fill_iter(members)))
    }
}

fn is_item(text: &str) -> bool {
    text == "-" || text.starts_with("- ")
}

/// Whether the line is `key: …` (without reading the key; `split_key` does).
fn is_key(text: &str) -> bool {
    if text.starts_with('"') {
        quoted_end(text).is_some_and(|end| text.get(end..).is_some_and(|r| r.starts_with(':')))
    } else {
        !text.starts_with(['[', '{']) && text.bytes().any(|b| b == b':')
    }
}

/// A line's key and the text of its value, if the value is on the line.
type KeyLine<'a> = (&'a str, Option<&'a str>);

/// `key: value` or `key:` → the key and the value's text, if on the line; a line that is not a
/// key → `None`.
fn split_key<'a>(
    arena: &'a Bump,
    text: &'a str,
    number: usize,
) -> Result<Option<KeyLine<'a>>, String> {
    if text.starts_with(['[', '{']) {
        return Ok(None);
    }
    let (key, rest) = if text.starts_with('"') {
        let end = quoted_end(text).ok_or_else(|| format!("line {number}: unterminated string"))?;
        let (quoted, rest) = text.split_at(end);
        if !rest.starts_with(':') {
            return Ok(None);
        }
        match json(arena, quoted, number)? {
            Item::Str(s) => (s, rest),
            _ => return Err(format!("line {number}: a key must be a string")),
        }
    } else {
        let end = text.bytes().position(|b| b == b':').unwrap_or(text.len());
        let (word, rest) = text.split_at(end);
        if rest.is_empty() {
            return Ok(None);
        }
        if !is_plain_word(word) {
            return Err(format!(
                "line {number}: `{word}` is not a plain key warden writes"
            ));
        }
        (word, rest)
    };
    match rest {
        ":" => Ok(Some((key, None))),
        _ => match rest.strip_prefix(": ") {
            Some(value) if !value.is_empty() && !value.starts_with(' ') => {
                Ok(Some((key, Some(value))))
            }
            _ => Err(format!("line {number}: expected `: ` after the key")),
        },
    }
}

/// The byte just past the closing quote of the JSON string `text` starts with.
fn quoted_end(text: &str) -> Option<usize> {
    // Bytes: neither a backslash nor a quote occurs inside the UTF-8 encoding of another character.
    // From one to the next of them, the bytes between skipped at once: every quoted scalar of a
    // document is searched here to tell it from a quoted key.
    let bytes = text.as_bytes();
    let mut i = 1;
    loop {
        i += special(bytes.get(i..)?)?;
        match bytes.get(i)? {
            b'"' => return Some(i + 1),
            // A backslash escapes the byte after it.
            _ => i += 2,
        }
    }
}

/// The string `text` quotes, if it is all of `text` and has no escape.
fn plain_string(text: &str) -> Option<&str> {
    let inner = text.strip_prefix('"')?.strip_suffix('"')?;
    special(inner.as_bytes()).is_none().then_some(inner)
}

/// The offset of the first quote or backslash in `bytes`.
fn special(bytes: &[u8]) -> Option<usize> {
    // Most strings are names of a few bytes, which a plain loop searches sooner than `memchr`
    // sets up; a rule's CEL is kilobytes, which `memchr` searches many bytes at a time.
    if bytes.len() < 32 {
        bytes.iter().position(|&b| b == b'"' || b == b'\\')
    } else {
        memchr::memchr2(b'"', b'\\', bytes)
    }
}

fn scalar<'a>(arena: &'a Bump, text: &'a str, number: usize) -> Result<Item<'a>, String> {
    if text.starts_with(['"', '[', '{']) {
        return json(arena, text, number);
    }
    if let Some(b) = [("true", true), ("false", false)]
        .iter()
        .find_map(|(word, b)| (text == *word).then_some(*b))
    {
        return Ok(Item::Bool(b));
    }
    if is_plain_word(text) {
        return Ok(Item::Str(text));
    }
    if is_plain_integer(text) {
        return json(arena, text, number);
    }
    Err(format!(
        "line {number}: `{text}` is not a scalar warden writes"
    ))
}

/// A word YAML reads as itself: starts with a letter, has only letters, digits and `._/-`, and is
/// none of the words YAML 1.1 reads as a boolean or null.
fn is_plain_word(word: &str) -> bool {
    const SPECIAL: &[&str] = &[
        "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "true", "True", "TRUE", "false",
        "False", "FALSE", "on", "On", "ON", "off", "Off", "OFF", "null", "Null", "NULL",
    ];
    // Bytes, not chars: a byte outside ASCII is no letter, digit or mark either way, and most
    // words are keys, read once per line of every document. No special word is over 5 bytes.
    word.as_bytes().first().is_some_and(u8::is_ascii_alphabetic)
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'/' | b'-'))
        && (word.len() > 5 || !SPECIAL.contains(&word))
}

fn is_plain_integer(text: &str) -> bool {
    let digits = text.strip_prefix('-').unwrap_or(text);
    !digits.is_empty()
        && digits.chars().all(|c| c.is_ascii_digit())
        && (digits == "0" || !digits.starts_with('0'))
}

/// A JSON value as YAML reads it: the same, except that YAML writes an astral character as
/// `\UXXXXXXXX`, which `render` does in YAML documents. Numbers must be integers: YAML and JSON
/// disagree on the rest.
fn json<'a>(arena: &'a Bump, text: &'a str, number: usize) -> Result<Item<'a>, String> {
    // Most values are strings without escapes: no JSON parser needed for them.
    if let Some(inner) = plain_string(text) {
        return Ok(Item::Str(inner));
    }
    let error = |e: serde_json::Error| format!("line {number}: {e}");
    if !text.contains("\\U") {
        return super::tree::json(arena, text).map_err(error);
    }
    let translated =
        long_escapes(text).ok_or_else(|| format!("line {number}: bad `\\U` escape"))?;
    // The tree borrows what it keeps of the translated text: it goes into the arena too.
    super::tree::json(arena, arena.alloc_str(&translated)).map_err(error)
}

/// Replaces each `\UXXXXXXXX` inside a string by its character, JSON-escaped; `None` if one does
/// not name a character.
fn long_escapes(text: &str) -> Option<String> {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    let mut in_string = false;
    while let Some(c) = chars.next() {
        if in_string && c == '\\' {
            let next = chars.next()?;
            if next == 'U' {
                let hex: String = chars.by_ref().take(8).collect();
                let code = u32::from_str_radix(&hex, 16)
                    .ok()
                    .filter(|_| hex.len() == 8)?;
                let c = char::from_u32(code)?;
                for unit in c.encode_utf16(&mut [0; 2]) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            } else {
                out.push('\\');
                out.push(next);
            }
            continue;
        }
        if c == '"' {
            in_string = !in_string;
        }
        out.push(c);
    }
    Some(out)
}
