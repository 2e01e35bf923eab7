"""The README's "all Milvus access goes through ``MilvusHook``", checked on the source (``ast``).

Outside the hook (``plugins/milvus_provider/hooks``) and the toolkit's one owner of chunk rows
(``include/milvus_toolkit/chunk_store.py``), no module of ``include/``, ``dags/`` or
``plugins/`` imports pymilvus, names ``MilvusClient`` / ``AsyncMilvusClient``, or reaches for a
client with ``.get_conn()``, ``.aclient`` or ``.client``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCANNED = ("include", "dags", "plugins")
OWNERS = {"plugins/milvus_provider/hooks/milvus.py", "include/milvus_toolkit/chunk_store.py"}
CLIENT_ATTRIBUTES = {"get_conn", "aclient", "client"}
CLIENT_CLASSES = {"MilvusClient", "AsyncMilvusClient"}
# pymilvus's exception classes only (no client, no call to Milvus): the write path sorts the
# errors langchain-milvus raises into transient (retried) and permanent.
EXCEPTION_IMPORTS = {"include/milvus_toolkit/ingest/writing.py": {"pymilvus.exceptions"}}
# The benchmark measures raw pymilvus clients on purpose (the "raw" layer, the floor that
# langchain-milvus and LlamaIndex are compared with) and closes the clients of the stores it
# times. It gets every client from the hook (``hook.get_conn()``) or from a store made on the
# hook's connection. Exactly these modules, and nothing else, may do that.
BENCHMARK = {f"include/milvus_toolkit/benchmark/{name}.py" for name in ("cells", "llama", "search_metrics", "timing")}


def client_touches(path: Path) -> list[str]:
    """Each place in ``path`` that imports pymilvus or touches a pymilvus client."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        modules = []
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            modules = [node.module or ""]
        found += [(node.lineno, f"import {m}") for m in modules if m.split(".")[0] == "pymilvus"]
        if isinstance(node, ast.Attribute) and node.attr in CLIENT_ATTRIBUTES:
            found.append((node.lineno, f".{node.attr}"))
        elif isinstance(node, ast.Name) and node.id in CLIENT_CLASSES:
            found.append((node.lineno, node.id))
    return [f"{line}: {what}" for line, what in sorted(found)]


def allowed(relative: str, touch: str) -> bool:
    if relative in OWNERS or relative.startswith("plugins/milvus_provider/hooks/") or relative in BENCHMARK:
        return True
    return any(touch.endswith(f"import {module}") for module in EXCEPTION_IMPORTS.get(relative, ()))


def scanned_files() -> list[tuple[str, Path]]:
    return [(p.relative_to(ROOT).as_posix(), p) for d in SCANNED for p in sorted((ROOT / d).rglob("*.py"))]


def test_no_module_outside_the_hook_and_the_chunk_store_touches_a_pymilvus_client():
    offending = [
        f"{relative}:{touch}"
        for relative, path in scanned_files()
        for touch in client_touches(path)
        if not allowed(relative, touch)
    ]
    assert offending == [], "go through MilvusHook (or chunk_store for chunk rows):\n" + "\n".join(offending)


@pytest.mark.parametrize("relative", sorted(OWNERS | BENCHMARK | set(EXCEPTION_IMPORTS)))
def test_every_exception_is_still_needed(relative):
    """An allowed module that no longer touches a client leaves the list (it stays tight)."""
    assert client_touches(ROOT / relative), f"{relative} touches no pymilvus client now: remove it from the list"


def test_the_scan_sees_what_it_looks_for(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import pymilvus\nfrom pymilvus import MilvusClient\nc = hook.get_conn()\nstore.aclient.query()\n"
        "store.client.close()\nAsyncMilvusClient(uri='x')\n"
    )
    assert [t.split(": ", 1)[1] for t in client_touches(sample)] == [
        "import pymilvus",
        "import pymilvus",
        ".get_conn",
        ".aclient",
        ".client",
        "AsyncMilvusClient",
    ]
