// Starts `warden lsp` for the workspace and hands it the `.warden` files; the server does the rest
// (diagnostics, hover, definition, references, completion, formatting, quick fixes).
const vscode = require("vscode");
const { LanguageClient } = require("vscode-languageclient/node");

let client;

function activate(context) {
  const command = vscode.workspace.getConfiguration("warden").get("path") || "warden";
  client = new LanguageClient(
    "warden",
    "warden",
    { command, args: ["lsp"] },
    {
      documentSelector: [{ scheme: "file", language: "warden" }],
      synchronize: { fileEvents: vscode.workspace.createFileSystemWatcher("**/*.warden") },
    },
  );
  context.subscriptions.push({ dispose: () => client && client.stop() });
  return client.start();
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
