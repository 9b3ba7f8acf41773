//! `warden lsp`: a language server over standard input and output.
//!
//! One thread reads frames (`transport`) and hands them over; this one handles them in order.
//! Edits that arrive together are applied together and the program is checked once after them,
//! so a fast typist does not queue a check per key; a request that needs the program checks it
//! first. Diagnostics are `warden check`'s (the same codes, spans, notes and help), for every file
//! of the workspace folder, open or not, since a name one file declares is used in others.
//!
//! Whatever arrives, the server answers and goes on: a frame that is not JSON gets a parse error
//! (-32700), a message that is not JSON-RPC an invalid request (-32600), a request before
//! `initialize` -32002, an unknown method -32601, parameters of the wrong shape -32602.

mod features;
mod symbols;
pub mod transport;
mod workspace;

use crate::diag::{Diagnostic, Severity};
use lsp_types::{DiagnosticRelatedInformation, DiagnosticSeverity, Location, NumberOrString, Uri};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::io::Write;
use std::process::ExitCode;
use std::sync::mpsc;
use transport::Incoming;
use workspace::{Doc, Workspace};

const PARSE_ERROR: i64 = -32700;
const INVALID_REQUEST: i64 = -32600;
const METHOD_NOT_FOUND: i64 = -32601;
const INVALID_PARAMS: i64 = -32602;
const SERVER_NOT_INITIALIZED: i64 = -32002;
const REQUEST_FAILED: i64 = -32803;

pub fn run() -> ExitCode {
    let (tx, rx) = mpsc::channel();
    // The reader stops at the end of input; the process ends when `exit` is handled.
    std::thread::spawn(move || {
        let mut stdin = std::io::stdin().lock();
        while let Some(incoming) = transport::read(&mut stdin) {
            if tx.send(incoming).is_err() {
                return;
            }
        }
    });
    let stdout = std::io::stdout();
    let mut server = Server::new(stdout.lock());
    loop {
        let Ok(first) = rx.recv() else {
            // The client went away without `exit`.
            return ExitCode::from(1);
        };
        let mut batch = vec![first];
        batch.extend(rx.try_iter());
        for incoming in batch {
            if let Some(code) = server.handle(incoming) {
                return code;
            }
        }
        server.settle();
    }
}

/// The server, writing its answers and notifications to `out`; `run` feeds it standard input.
pub struct Server<W: Write> {
    out: W,
    workspace: Workspace,
    initialized: bool,
    shutdown: bool,
    /// A file changed since the last check.
    dirty: bool,
    /// The files diagnostics were last published for (to clear them when they have none).
    published: BTreeSet<String>,
}

/// An error answer: its code and message.
type Failure = (i64, String);

fn invalid_params(e: serde_json::Error) -> Failure {
    (INVALID_PARAMS, format!("invalid parameters: {e}"))
}

impl<W: Write> Server<W> {
    pub fn new(out: W) -> Server<W> {
        Server {
            out,
            workspace: Workspace::default(),
            initialized: false,
            shutdown: false,
            dirty: false,
            published: BTreeSet::new(),
        }
    }

    /// Checks the program if a file changed since the last check, and publishes.
    pub fn settle(&mut self) {
        if self.dirty && self.initialized {
            self.analyze();
        }
    }

    fn send(&mut self, message: &Value) {
        // A client that stopped reading is gone; the reader's end of input ends the loop.
        let _ = transport::write(&mut self.out, message);
    }

    fn respond(&mut self, id: Value, result: Result<Value, Failure>) {
        let message = match result {
            Ok(result) => json!({ "jsonrpc": "2.0", "id": id, "result": result }),
            Err((code, message)) => json!({
                "jsonrpc": "2.0", "id": id, "error": { "code": code, "message": message }
            }),
        };
        self.send(&message);
    }

    /// Handles one message; `Some` when the server must stop, with its exit code.
    pub fn handle(&mut self, incoming: Incoming) -> Option<ExitCode> {
        let message = match incoming {
            Incoming::Message(m) => m,
            Incoming::Malformed(why) => {
                self.respond(Value::Null, Err((PARSE_ERROR, why)));
                return None;
            }
        };
        let id = message.get("id").cloned();
        let method = message
            .get("method")
            .and_then(Value::as_str)
            .map(str::to_string);
        let params = message.get("params").cloned().unwrap_or(Value::Null);
        let valid_id = id
            .as_ref()
            .is_none_or(|i| i.is_string() || i.is_number() || i.is_null());
        match (method, id) {
            (Some(method), Some(id)) if valid_id => {
                let result = self.request(&method, params);
                self.respond(id, result);
                None
            }
            (Some(method), None) => self.notification(&method, params),
            // A response to a request of ours: the server sends none that need one.
            (None, Some(_))
                if message.get("result").is_some() || message.get("error").is_some() =>
            {
                None
            }
            (_, id) => {
                let id = id.filter(|_| valid_id).unwrap_or(Value::Null);
                self.respond(
                    id,
                    Err((
                        INVALID_REQUEST,
                        "not a JSON-RPC request or notification".into(),
                    )),
                );
                None
            }
        }
    }

    fn request(&mut self, method: &str, params: Value) -> Result<Value, Failure> {
        if method == "initialize" {
            if self.initialized {
                return Err((INVALID_REQUEST, "already initialized".into()));
            }
            return self.initialize(params);
        }
        if !self.initialized {
            return Err((
                SERVER_NOT_INITIALIZED,
                format!("`{method}` before `initialize`"),
            ));
        }
        if self.shutdown {
            return Err((INVALID_REQUEST, format!("`{method}` after `shutdown`")));
        }
        if self.dirty {
            self.analyze();
        }
        let ws = &self.workspace;
        match method {
            "shutdown" => {
                self.shutdown = true;
                Ok(Value::Null)
            }
            "textDocument/hover" => {
                let p: lsp_types::HoverParams =
                    serde_json::from_value(params).map_err(invalid_params)?;
                let at = &p.text_document_position_params;
                Ok(json!(features::hover(
                    ws,
                    &at.text_document.uri,
                    at.position
                )))
            }
            "textDocument/definition" => {
                let p: lsp_types::GotoDefinitionParams =
                    serde_json::from_value(params).map_err(invalid_params)?;
                let at = &p.text_document_position_params;
                let found = occurrences(ws, &at.text_document.uri, at.position, true);
                Ok(json!(
                    found.into_iter().next().map(|(location, _)| location)
                ))
            }
            "textDocument/references" => {
                let p: lsp_types::ReferenceParams =
                    serde_json::from_value(params).map_err(invalid_params)?;
                let at = &p.text_document_position;
                let all = occurrences(ws, &at.text_document.uri, at.position, false);
                let keep = p.context.include_declaration;
                Ok(json!(
                    all.into_iter()
                        .filter(|(_, decl)| keep || !decl)
                        .map(|(l, _)| l)
                        .collect::<Vec<_>>()
                ))
            }
            "textDocument/completion" => {
                let p: lsp_types::CompletionParams =
                    serde_json::from_value(params).map_err(invalid_params)?;
                let at = &p.text_document_position;
                Ok(json!(features::completion(
                    ws,
                    &at.text_document.uri,
                    at.position
                )))
            }
            "textDocument/codeAction" => {
                let p: lsp_types::CodeActionParams =
                    serde_json::from_value(params).map_err(invalid_params)?;
                Ok(json!(features::code_actions(
                    ws,
                    &p.text_document.uri,
                    p.range
                )))
            }
            "textDocument/formatting" => {
                let p: lsp_types::DocumentFormattingParams =
                    serde_json::from_value(params).map_err(invalid_params)?;
                let doc = ws
                    .doc(&p.text_document.uri)
                    .ok_or((INVALID_PARAMS, "the document is not open".to_string()))?;
                features::formatting(doc)
                    .map(|e| json!(e))
                    .map_err(|e| (REQUEST_FAILED, e))
            }
            _ => Err((METHOD_NOT_FOUND, format!("no method `{method}`"))),
        }
    }

    fn initialize(&mut self, params: Value) -> Result<Value, Failure> {
        let p: lsp_types::InitializeParams =
            serde_json::from_value(params).map_err(invalid_params)?;
        #[allow(deprecated)] // root_uri: clients that send no workspace folders still send it
        let root = p
            .workspace_folders
            .as_ref()
            .and_then(|f| f.first())
            .map(|f| f.uri.clone())
            .or(p.root_uri.clone())
            .and_then(|u| workspace::path_of(&u));
        if let Some(root) = root {
            self.workspace.open_folder(root);
        }
        self.initialized = true;
        self.dirty = true;
        Ok(json!({
            "capabilities": {
                "positionEncoding": "utf-16",
                "textDocumentSync": { "openClose": true, "change": 1, "save": {} },
                "hoverProvider": true,
                "definitionProvider": true,
                "referencesProvider": true,
                "completionProvider": { "triggerCharacters": [" ", "/", ","] },
                "codeActionProvider": { "codeActionKinds": ["quickfix"] },
                "documentFormattingProvider": true,
            },
            "serverInfo": { "name": "warden", "version": env!("CARGO_PKG_VERSION") },
        }))
    }

    fn notification(&mut self, method: &str, params: Value) -> Option<ExitCode> {
        if method == "exit" {
            return Some(if self.shutdown {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            });
        }
        if !self.initialized || self.shutdown {
            return None;
        }
        // A notification gets no answer, even when its parameters are wrong: it is dropped.
        match method {
            "textDocument/didOpen" => {
                if let Ok(p) =
                    serde_json::from_value::<lsp_types::DidOpenTextDocumentParams>(params)
                {
                    self.workspace
                        .set(p.text_document.uri, p.text_document.text);
                    self.dirty = true;
                }
            }
            "textDocument/didChange" => {
                if let Ok(p) =
                    serde_json::from_value::<lsp_types::DidChangeTextDocumentParams>(params)
                    && self.workspace.find(&p.text_document.uri).is_some()
                    && let Some(change) = p.content_changes.into_iter().last()
                {
                    // Full synchronisation: each change is the whole text.
                    self.workspace.set(p.text_document.uri, change.text);
                    self.dirty = true;
                }
            }
            "textDocument/didClose" => {
                if let Ok(p) =
                    serde_json::from_value::<lsp_types::DidCloseTextDocumentParams>(params)
                {
                    self.workspace.close(&p.text_document.uri);
                    self.dirty = true;
                }
            }
            "workspace/didChangeWatchedFiles" => {
                if let Ok(p) =
                    serde_json::from_value::<lsp_types::DidChangeWatchedFilesParams>(params)
                {
                    for change in p.changes {
                        self.workspace.reload(&change.uri);
                    }
                    self.dirty = true;
                }
            }
            _ => {}
        }
        None
    }

    /// Checks the program and publishes every file's diagnostics (an empty list where a file
    /// had some and has none now).
    fn analyze(&mut self) {
        self.dirty = false;
        self.workspace.analyze();
        let Some(analysis) = &self.workspace.analysis else {
            return;
        };
        let mut by_file: Vec<Vec<lsp_types::Diagnostic>> =
            vec![Vec::new(); self.workspace.docs.len()];
        for d in &analysis.diagnostics {
            if let Some(span) = d.span()
                && let (Some(list), Some(doc)) = (
                    by_file.get_mut(span.file),
                    self.workspace.docs.get(span.file),
                )
            {
                let mut lsp = lsp_diagnostic(doc, d);
                lsp.related_information = related(&self.workspace, d);
                list.push(lsp);
            }
        }
        let mut now = BTreeSet::new();
        let mut messages = Vec::new();
        for (doc, diagnostics) in self.workspace.docs.iter().zip(by_file) {
            let uri = doc.uri.as_str().to_string();
            if diagnostics.is_empty() && !self.published.contains(&uri) {
                continue;
            }
            if !diagnostics.is_empty() {
                now.insert(uri.clone());
            }
            messages.push(json!({
                "jsonrpc": "2.0",
                "method": "textDocument/publishDiagnostics",
                "params": { "uri": uri, "diagnostics": diagnostics },
            }));
        }
        // Files that are gone from the workspace: cleared too.
        for uri in self.published.difference(&now) {
            if !self.workspace.docs.iter().any(|d| d.uri.as_str() == uri) {
                messages.push(json!({
                    "jsonrpc": "2.0",
                    "method": "textDocument/publishDiagnostics",
                    "params": { "uri": uri, "diagnostics": [] },
                }));
            }
        }
        self.published = now;
        for m in messages {
            self.send(&m);
        }
    }
}

/// A diagnostic as LSP says one: the primary span's range, the message with its notes and help
/// as `warden check` prints them; an accepted warning as a hint with its reason.
pub(super) fn lsp_diagnostic(doc: &Doc, d: &Diagnostic) -> lsp_types::Diagnostic {
    let mut message = d.message.clone();
    for note in &d.notes {
        message.push_str(&format!("\nnote: {note}"));
    }
    if let Some(help) = &d.help {
        message.push_str(&format!("\nhelp: {help}"));
    }
    if let Some(reason) = &d.accepted {
        message.push_str(&format!("\naccepted: {reason}"));
    }
    let severity = match (d.severity, &d.accepted) {
        (Severity::Error, _) => DiagnosticSeverity::ERROR,
        (Severity::Warning, None) => DiagnosticSeverity::WARNING,
        (Severity::Warning, Some(_)) => DiagnosticSeverity::HINT,
        (Severity::Note, _) => DiagnosticSeverity::INFORMATION,
    };
    lsp_types::Diagnostic {
        range: d.span().map(|s| doc.range(s)).unwrap_or_default(),
        severity: Some(severity),
        code: Some(NumberOrString::String(d.code.to_string())),
        source: Some("warden".to_string()),
        message,
        ..lsp_types::Diagnostic::default()
    }
}

/// The other labels of a diagnostic, as locations with their messages.
fn related(ws: &Workspace, d: &Diagnostic) -> Option<Vec<DiagnosticRelatedInformation>> {
    let primary = d.span();
    let out: Vec<DiagnosticRelatedInformation> = d
        .labels
        .iter()
        .filter(|l| Some(l.span) != primary)
        .filter_map(|l| {
            let doc = ws.docs.get(l.span.file)?;
            Some(DiagnosticRelatedInformation {
                location: Location::new(doc.uri.clone(), doc.range(l.span)),
                message: l.message.clone(),
            })
        })
        .collect();
    (!out.is_empty()).then_some(out)
}

/// Where the name at `position` is declared (`declarations`) or every place it occurs, each
/// with whether it is the declaration.
fn occurrences(
    ws: &Workspace,
    uri: &Uri,
    position: lsp_types::Position,
    declarations: bool,
) -> Vec<(Location, bool)> {
    let Some(id) = ws.find(uri) else {
        return Vec::new();
    };
    let Some(doc) = ws.docs.get(id) else {
        return Vec::new();
    };
    let index = symbols::index(&ws.asts);
    let Some(at) = symbols::at(&index, id, doc.offset(position)) else {
        return Vec::new();
    };
    index
        .iter()
        .filter(|o| o.symbol == at.symbol && (!declarations || o.declaration))
        .filter_map(|o| {
            let doc = ws.docs.get(o.span.file)?;
            Some((
                Location::new(doc.uri.clone(), doc.range(o.span)),
                o.declaration,
            ))
        })
        .collect()
}
