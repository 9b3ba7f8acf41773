"""warden lsp, driven by pytest-lsp's client over stdio as an editor drives it.

Run by compiler/tests/oracles/editors.rs with WARDEN_BIN set to the binary under test. Each test
starts a server on a fresh copy of examples/online-boutique.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient

WARDEN = os.environ["WARDEN_BIN"]
EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "online-boutique"


def workspace() -> Path:
    root = Path(tempfile.mkdtemp(prefix="warden-lsp-"))
    shutil.copytree(EXAMPLE, root / "policy")
    return root / "policy"


ROOT = workspace()
BACKEND = (ROOT / "backend.warden").as_uri()
FRONTEND = (ROOT / "frontend.warden").as_uri()


@pytest_lsp.fixture(config=ClientServerConfig(server_command=[WARDEN, "lsp"]))
async def client(lsp_client: LanguageClient):
    await lsp_client.initialize_session(
        types.InitializeParams(
            capabilities=types.ClientCapabilities(),
            root_uri=ROOT.as_uri(),
            workspace_folders=[types.WorkspaceFolder(uri=ROOT.as_uri(), name="policy")],
        )
    )
    yield
    await lsp_client.shutdown_session()


def text_of(uri: str) -> str:
    return Path(uri.removeprefix("file://")).read_text()


def position_of(text: str, needle: str, nth: int = 0, delta: int = 1) -> types.Position:
    at = -1
    for _ in range(nth + 1):
        at = text.index(needle, at + 1)
    at += delta
    line = text.count("\n", 0, at)
    column = at - (text.rfind("\n", 0, at) + 1)
    return types.Position(line=line, character=column)


def open_doc(client: LanguageClient, uri: str, text: str, version: int = 1):
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(uri=uri, language_id="warden", version=version, text=text)
        )
    )


def change(client: LanguageClient, uri: str, text: str, version: int):
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)],
        )
    )


async def diagnostics_after(client: LanguageClient, uri: str, edit):
    """Applies `edit` and waits for the diagnostics of `uri` that follow it."""
    client.diagnostics.pop(uri, None)
    edit()
    for _ in range(50):
        await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        if uri in client.diagnostics:
            return client.diagnostics[uri]
    raise AssertionError(f"no diagnostics for {uri}")


@pytest.mark.asyncio(loop_scope="function")
async def test_diagnostics_follow_edits_with_the_cli_codes(client: LanguageClient):
    text = text_of(FRONTEND)
    broken = text.replace("to productcatalogservice,", "to productcatalogservis,", 1)
    found = await diagnostics_after(client, FRONTEND, lambda: open_doc(client, FRONTEND, broken))
    assert [d.code for d in found] == ["E0102"], found
    d = found[0]
    assert "productcatalogservis" in d.message and "did you mean `productcatalogservice`?" in d.message
    assert d.range.start == position_of(broken, "productcatalogservis", delta=0)
    # The quick fix applies the suggestion.
    actions = await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=FRONTEND),
            range=d.range,
            context=types.CodeActionContext(diagnostics=[d]),
        )
    )
    assert len(actions) == 1 and actions[0].title == "Replace with `productcatalogservice`"
    edit = actions[0].edit.changes[FRONTEND][0]
    assert edit.new_text == "productcatalogservice" and edit.range == d.range
    # Fixed: the diagnostics are cleared.
    found = await diagnostics_after(client, FRONTEND, lambda: change(client, FRONTEND, text, 2))
    assert list(found) == []
    # A syntax error names what was expected, as the CLI does.
    found = await diagnostics_after(
        client, FRONTEND, lambda: change(client, FRONTEND, text + "\nservice x in {", 3)
    )
    assert [d.code for d in found] == ["E0001"]


@pytest.mark.asyncio(loop_scope="function")
async def test_a_name_declared_in_another_file_is_found(client: LanguageClient):
    text = text_of(BACKEND)
    open_doc(client, BACKEND, text)
    # `cartservice` is used in frontend.warden and declared in backend.warden.
    front = text_of(FRONTEND)
    open_doc(client, FRONTEND, front)
    at = position_of(front, "cartservice")
    found = await client.text_document_definition_async(
        types.DefinitionParams(text_document=types.TextDocumentIdentifier(uri=FRONTEND), position=at)
    )
    assert found.uri == BACKEND
    assert found.range.start == position_of(text, "service cartservice", delta=len("service "))
    refs = await client.text_document_references_async(
        types.ReferenceParams(
            text_document=types.TextDocumentIdentifier(uri=FRONTEND),
            position=at,
            context=types.ReferenceContext(include_declaration=False),
        )
    )
    # Every file that names it, and never the declaration.
    assert len(refs) >= 2 and all(r.range.start != found.range.start or r.uri != BACKEND for r in refs)
    assert {r.uri for r in refs} >= {FRONTEND, BACKEND}


@pytest.mark.asyncio(loop_scope="function")
async def test_hover_says_what_a_name_means(client: LanguageClient):
    text = text_of(BACKEND)
    open_doc(client, BACKEND, text)
    hover = await client.text_document_hover_async(
        types.HoverParams(
            text_document=types.TextDocumentIdentifier(uri=BACKEND),
            position=position_of(text, "service cartservice", delta=len("service ")),
        )
    )
    value = hover.contents.value
    assert "service `online-boutique/cartservice`" in value
    assert 'pods app = "cartservice"' in value
    assert "flows others declare with it" in value and "frontend" in value
    assert "netpol/online-boutique/cartservice.yaml" in value
    # A system call: its groups and what the service's profile does with it.
    at = text.index("syscalls {")
    call = text.index("clone", at)
    hover = await client.text_document_hover_async(
        types.HoverParams(
            text_document=types.TextDocumentIdentifier(uri=BACKEND),
            position=position_of(text, "clone", nth=text.count("clone", 0, call), delta=1),
        )
    )
    assert "system call `clone`" in hover.contents.value
    # A Pod Security check.
    adm = text_of((ROOT / "admission.warden").as_uri())
    if "exempt " in adm:
        check = adm.split("exempt ", 1)[1].split()[0]
        open_doc(client, (ROOT / "admission.warden").as_uri(), adm)
        hover = await client.text_document_hover_async(
            types.HoverParams(
                text_document=types.TextDocumentIdentifier(uri=(ROOT / "admission.warden").as_uri()),
                position=position_of(adm, "exempt " + check, delta=len("exempt ") + 1),
            )
        )
        assert "Pod Security check" in hover.contents.value
    # A diagnostic code.
    program = "namespace n {\n  isolate\n  allow dns\n  accept W0306 \"reviewed\"\n}\n"
    uri = (ROOT / "scratch.warden").as_uri()
    open_doc(client, uri, program)
    hover = await client.text_document_hover_async(
        types.HoverParams(text_document=types.TextDocumentIdentifier(uri=uri), position=position_of(program, "W0306"))
    )
    assert hover.contents.value.startswith("# W0306")


@pytest.mark.asyncio(loop_scope="function")
async def test_completion_offers_what_fits_there(client: LanguageClient):
    uri = (ROOT / "scratch.warden").as_uri()
    async def labels(text: str) -> set[str]:
        open_doc(client, uri, text)
        end = types.Position(line=text.count("\n"), character=len(text.rsplit("\n", 1)[-1]))
        items = await client.text_document_completion_async(
            types.CompletionParams(text_document=types.TextDocumentIdentifier(uri=uri), position=end)
        )
        items = items.items if hasattr(items, "items") else items
        return {i.label for i in items}

    top = await labels("")
    assert {"namespace", "service", "admission", "expect"} <= top
    inside = await labels('service web in online-boutique {\n  pods app = "web"\n  ')
    assert {"pods", "port", "to", "from", "syscalls", "accept"} <= inside
    peers = await labels('service web in online-boutique {\n  pods app = "web"\n  to ')
    assert {"cartservice", "world", "cidr"} <= peers
    ports = await labels('service web in online-boutique {\n  pods app = "web"\n  to cartservice on ')
    assert "grpc" in ports, ports
    calls = await labels('service web in online-boutique {\n  pods app = "web"\n  syscalls {\n    allow ')
    assert {"read", "clone", "group"} <= calls
    groups = await labels('service web in online-boutique {\n  pods app = "web"\n  syscalls {\n    allow group ')
    assert "runtime-core" in groups
    checks = await labels("admission a {\n  exempt ")
    assert "privileged" in checks and "images" in checks
    codes = await labels("namespace n {\n  accept ")
    assert "W0306" in codes and "E0102" not in codes


@pytest.mark.asyncio(loop_scope="function")
async def test_formatting_returns_the_canonical_layout(client: LanguageClient):
    uri = (ROOT / "scratch.warden").as_uri()
    open_doc(client, uri, "namespace shop{isolate // why\nallow dns}")
    edits = await client.text_document_formatting_async(
        types.DocumentFormattingParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            options=types.FormattingOptions(tab_size=2, insert_spaces=True),
        )
    )
    assert len(edits) == 1
    assert edits[0].new_text == "namespace shop {\n  isolate // why\n  allow dns\n}\n"


def frame(payload: bytes) -> bytes:
    return b"Content-Length: %d\r\n\r\n%s" % (len(payload), payload)


def message(obj) -> bytes:
    return frame(json.dumps(obj).encode())


def responses(raw: bytes) -> list:
    out = []
    while raw:
        header, _, rest = raw.partition(b"\r\n\r\n")
        length = int(header.split(b":")[1])
        out.append(json.loads(rest[:length]))
        raw = rest[length:]
    return out


def test_malformed_and_out_of_order_messages_get_errors_not_a_crash():
    init = {"jsonrpc": "2.0", "id": 2, "method": "initialize", "params": {"capabilities": {}, "rootUri": ROOT.as_uri()}}
    stream = b"".join(
        [
            frame(b"{not json"),
            message({"jsonrpc": "2.0", "id": 1, "method": "textDocument/hover", "params": {}}),
            b"Content-Length: zzz\r\n\r\n",
            message([1, 2, 3]),
            message(init),
            message(init | {"id": 3}),
            message({"jsonrpc": "2.0", "id": 4, "method": "no/such/method", "params": {}}),
            message({"jsonrpc": "2.0", "id": 5, "method": "textDocument/hover", "params": {"nope": 1}}),
            message({"jsonrpc": "2.0", "method": "textDocument/didChange", "params": {"garbage": True}}),
            message({"jsonrpc": "2.0", "id": 6, "method": "shutdown"}),
            message({"jsonrpc": "2.0", "id": 7, "method": "textDocument/hover", "params": {}}),
            message({"jsonrpc": "2.0", "method": "exit"}),
        ]
    )
    done = subprocess.run([WARDEN, "lsp"], input=stream, capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr
    got = [r for r in responses(done.stdout) if "id" in r]
    codes = [(r["id"], r.get("error", {}).get("code")) for r in got]
    assert codes == [
        (None, -32700),
        (1, -32002),
        (None, -32700),
        (None, -32600),
        (2, None),
        (3, -32600),
        (4, -32601),
        (5, -32602),
        (6, None),
        (7, -32600),
    ], codes
    # End of input without `exit`: the server stops, with a failure code, rather than hang.
    done = subprocess.run([WARDEN, "lsp"], input=message(init), capture_output=True, timeout=60)
    assert done.returncode == 1


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
