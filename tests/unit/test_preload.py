"""milvus_toolkit.preload: heavy libraries imported once, in the calling thread, under one lock
(tiny generated packages here; the real libraries in tests/integration/test_preload.py)."""

from __future__ import annotations

import importlib.util
import logging
import os
import subprocess
import sys
import textwrap
import threading
import uuid
from pathlib import Path

import pytest

from milvus_toolkit.preload import GROUPS, benchmark_groups, modules_of, preload


@pytest.fixture
def package(tmp_path, monkeypatch):
    """A fresh package ``<name>`` with a slow submodule ``<name>.schema`` whose body records the
    thread that runs it and how often it ran (in ``<name>_log``)."""
    name = f"heavy_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{name}_log.py").write_text("threads = []\n")
    (tmp_path / name).mkdir()
    (tmp_path / name / "__init__.py").write_text("")
    (tmp_path / name / "schema.py").write_text(
        textwrap.dedent(f"""
        import threading, time
        import {name}_log
        {name}_log.threads.append(threading.current_thread().name)
        time.sleep(0.2)  # long enough for every other caller to arrive meanwhile
        class NodeWithScore:
            pass
    """)
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield name
    for module in [m for m in sys.modules if m.split(".")[0] in (name, f"{name}_log")]:
        del sys.modules[module]


def test_groups_expand_to_their_modules_in_order_without_repeats():
    assert modules_of(["llamaindex"]) == list(GROUPS["llamaindex"])
    assert modules_of(["langchain", "langchain_milvus", "json"]) == [
        "langchain_core.documents",
        "langchain_milvus",
        "json",
    ]


def test_the_benchmark_preloads_what_its_layers_and_embedding_use():
    assert benchmark_groups(["raw"], "deterministic") == []
    assert benchmark_groups(["raw", "llamaindex", "langchain"], "deterministic") == ["langchain", "llamaindex"]
    assert benchmark_groups(["langchain"], "local") == ["langchain", "local_embeddings"]


def test_a_module_is_imported_in_the_calling_thread_once_and_logged(package, caplog):
    caplog.set_level(logging.INFO, logger="milvus_toolkit.preload")
    done = preload(f"{package}.schema")
    assert list(done) == [f"{package}.schema"] and done[f"{package}.schema"] > 0
    assert sys.modules[f"{package}_log"].threads == [threading.current_thread().name]
    assert f"Preloaded in thread {threading.current_thread().name}: {package}.schema" in caplog.text
    assert preload(f"{package}.schema") == {}  # already imported: nothing to do, nothing logged
    assert caplog.text.count("Preloaded") == 1


def test_threads_preloading_at_once_import_once_and_each_sees_the_whole_module(package):
    callers = 8
    start = threading.Barrier(callers)
    seen: dict[int, bool] = {}
    reports: list[dict] = []

    def caller(i: int) -> None:
        start.wait()
        reports.append(preload(f"{package}.schema"))
        seen[i] = hasattr(sys.modules[f"{package}.schema"], "NodeWithScore")

    threads = [threading.Thread(target=caller, args=(i,)) for i in range(callers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen == {i: True for i in range(callers)}, "a caller got a half-initialized module"
    assert len(sys.modules[f"{package}_log"].threads) == 1, "the module body ran once"
    assert sum(1 for r in reports if r) == 1, "one caller imported it, the others found it done"


def test_a_missing_library_fails_in_the_caller_before_any_thread_starts():
    with pytest.raises(ModuleNotFoundError, match="no_such_library_here"):
        preload("no_such_library_here")


def _module_exists(dotted: str) -> bool:
    """Whether ``dotted`` can be imported, found on disk without importing anything (a
    submodule's ``find_spec`` would import its parents)."""
    top, *rest = dotted.split(".")
    spec = importlib.util.find_spec(top)
    if spec is None:
        return False
    paths = [Path(p) for p in (spec.submodule_search_locations or [])]
    for i, part in enumerate(rest):
        last = i == len(rest) - 1
        nxt = [p / part for p in paths if (p / part).is_dir()]
        if last:
            return bool(nxt) or any((p / f"{part}.py").exists() for p in paths)
        paths = nxt
    return True


@pytest.mark.parametrize("group", sorted(GROUPS))
def test_every_module_of_every_group_is_installed(group):
    missing = [m for m in GROUPS[group] if not _module_exists(m)]
    assert missing == []


def test_importing_the_benchmark_package_imports_no_heavy_library():
    script = (
        "import sys, milvus_toolkit.benchmark, milvus_toolkit.chunk_store, milvus_toolkit.embeddings, "
        "milvus_toolkit.preload\n"
        "heavy = ('llama_index', 'langchain_milvus', 'sentence_transformers', 'langchain_huggingface', "
        "'great_expectations')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, env=dict(os.environ)
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip() == "[]"
