//! JSON-RPC over a byte stream, framed as the Language Server Protocol frames it
//! (`Content-Length: N`, a blank line, N bytes of JSON).
//!
//! Written here rather than taken from `lsp-server`, whose reader ends the connection at the first
//! malformed message and reads any announced length: here a frame that is not JSON is answered
//! with a parse error (-32700) and the connection goes on, a header without a length or with one
//! over `MAX_BODY` is reported and skipped, and a header line longer than `MAX_HEADER` ends the
//! connection instead of growing a buffer without bound.

use serde_json::Value;
use std::io::{BufRead, Read, Write};

/// The largest message body read: a program file is at most 32 MiB (`load::MAX_FILE`), and its
/// text travels JSON-escaped, which can double it.
pub const MAX_BODY: usize = 80 << 20;
const MAX_HEADER: usize = 8 << 10;

/// What the reader got from the client.
pub enum Incoming {
    Message(Value),
    /// A frame whose body is not JSON, or a header that announced no usable length.
    Malformed(String),
}

/// Reads the next frame. `None` at the end of the stream, or when the stream cannot be framed
/// any longer (a header line without an end).
pub fn read(input: &mut impl BufRead) -> Option<Incoming> {
    let mut length: Option<Result<usize, String>> = None;
    let mut any_header = false;
    loop {
        let mut line = Vec::new();
        let n = input
            .by_ref()
            .take(MAX_HEADER as u64)
            .read_until(b'\n', &mut line)
            .ok()?;
        if n == 0 {
            return None;
        }
        if !line.ends_with(b"\n") {
            // A header line of MAX_HEADER bytes: no client writes that; the stream is not LSP.
            return None;
        }
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end_matches(['\r', '\n']);
        if text.is_empty() {
            if any_header {
                break;
            }
            continue;
        }
        any_header = true;
        if let Some((name, value)) = text.split_once(':')
            && name.trim().eq_ignore_ascii_case("content-length")
        {
            length = Some(
                value
                    .trim()
                    .parse::<usize>()
                    .map_err(|e| format!("Content-Length `{}`: {e}", value.trim())),
            );
        }
    }
    let length = match length {
        None => {
            return Some(Incoming::Malformed(
                "a header without Content-Length".into(),
            ));
        }
        Some(Err(e)) => return Some(Incoming::Malformed(e)),
        Some(Ok(n)) if n > MAX_BODY => {
            // Skipped, not kept: the next frame starts after it.
            let skipped = std::io::copy(&mut input.by_ref().take(n as u64), &mut std::io::sink());
            if skipped.ok() != Some(n as u64) {
                return None;
            }
            return Some(Incoming::Malformed(format!(
                "a message of {n} bytes, over the limit of {MAX_BODY}"
            )));
        }
        Some(Ok(n)) => n,
    };
    let mut body = vec![0; length];
    input.read_exact(&mut body).ok()?;
    Some(match serde_json::from_slice::<Value>(&body) {
        Ok(value) => Incoming::Message(value),
        Err(e) => Incoming::Malformed(format!("not JSON: {e}")),
    })
}

/// Writes one message, framed.
pub fn write(output: &mut impl Write, message: &Value) -> std::io::Result<()> {
    let body = serde_json::to_vec(message)?;
    write!(output, "Content-Length: {}\r\n\r\n", body.len())?;
    output.write_all(&body)?;
    output.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(bytes: &[u8]) -> Vec<String> {
        let mut input = std::io::BufReader::new(bytes);
        let mut out = Vec::new();
        while let Some(incoming) = read(&mut input) {
            out.push(match incoming {
                Incoming::Message(v) => v.to_string(),
                Incoming::Malformed(e) => format!("malformed: {e}"),
            });
        }
        out
    }

    #[test]
    fn a_malformed_frame_does_not_end_the_stream() {
        let got = frames(
            b"Content-Length: 3\r\n\r\n{x}Content-Length: 2\r\n\r\n{}\
              X-Other: 1\r\n\r\nContent-Length: abc\r\n\r\nContent-Length: 2\r\n\r\n[]",
        );
        assert_eq!(got.len(), 5, "{got:?}");
        assert!(got[0].starts_with("malformed: not JSON"));
        assert_eq!(got[1], "{}");
        assert!(got[2].contains("without Content-Length"));
        assert!(got[3].contains("abc"));
        assert_eq!(got[4], "[]");
    }

    #[test]
    fn a_huge_length_is_not_allocated() {
        let got = frames(format!("Content-Length: {}\r\n\r\n{{}}", usize::MAX).as_bytes());
        // Announced but not sent: the stream ends while skipping it.
        assert!(got.is_empty(), "{got:?}");
        let long = vec![b'a'; MAX_HEADER * 2];
        assert!(frames(&long).is_empty());
    }
}
