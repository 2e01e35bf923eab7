"""Heavy optional libraries are first imported in the main thread, never by a worker thread.

Importing llama_index for the first time from several threads at once can fail with "cannot
import name 'NodeWithScore' from partially initialized module 'llama_index.core.schema'"
(issue 17). Whether the race bites depends on timing; *where* the first import happens does
not. So this test does not wait for the race: in a fresh interpreter it records, with an
import hook installed before anything else, which thread first imports each module of
llama_index, langchain_milvus, sentence_transformers and great_expectations, runs a small
benchmark (the cell loop prepares its collections on a thread pool; the async cells and the
search metrics open stores inside event loops and threads), and requires every first import
to have happened in the main thread. The benchmark runs against the session's Milvus Lite
server: which thread imports what does not depend on the server, and Lite builds the search
metrics' collections in a fraction of 2.3.5's ~8 s flush and load each."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.integration

RECORDER = textwrap.dedent(
    """
    import sys, threading

    HEAVY = ("llama_index", "langchain_milvus", "sentence_transformers", "great_expectations")
    first_imports = []  # (module, thread name, in the main thread?)

    class Recorder:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in HEAVY and name not in sys.modules:
                current = threading.current_thread()
                first_imports.append((name, current.name, current is threading.main_thread()))
            return None  # the real finders import it

    sys.meta_path.insert(0, Recorder())
    """
)


def run_fresh(script: str, conn_uri: str, tmp_path) -> dict:
    """Run ``script`` after the recorder in a fresh interpreter, ``milvus_default`` at ``conn_uri``."""
    env = dict(os.environ, AIRFLOW_CONN_MILVUS_DEFAULT=conn_uri, HOME=str(tmp_path), NLTK_DATA=str(tmp_path / "nltk"))
    proc = subprocess.run(
        [sys.executable, "-c", RECORDER + textwrap.dedent(script)], env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_a_benchmark_in_a_fresh_process_imports_its_heavy_libraries_in_the_main_thread(lite_conn_uri, tmp_path):
    out = run_fresh(
        """
        import json
        from milvus_provider.hooks.milvus import MilvusHook
        from milvus_toolkit.benchmark import build_record, run_benchmark

        cheap = [name for name, _, _ in first_imports]  # importing the benchmark loads none of them
        hook = MilvusHook()
        record = build_record(run_benchmark(hook, {
            "counts": [3], "dim": 8, "layers": ["langchain", "llamaindex"], "operations": ["add", "search"],
            "concurrency": ["all"], "consistency_levels": ["Session"], "search_rows": 20,
            "sweep_concurrency": [2], "sweep_seconds": 0.2,
            # real text, as by default, but the sample corpus only (its vectors are not cached in
            # this fresh HOME) and one ef value: the imports are the point, not the figures
            "search_data": "text", "search_corpus": ["sample"], "ef_values": [4], "ef_seconds": 0.1,
        }))
        hook.close()
        print(json.dumps({"cheap": cheap, "imports": first_imports, "cells": len(record["cells"]),
                          "left": record["collections_left"]}))
        """,
        lite_conn_uri,
        tmp_path,
    )
    assert out["cheap"] == [], "importing milvus_toolkit.benchmark must not import the heavy libraries"
    assert out["cells"] == 8 and out["left"] == []
    imported = {name for name, _, _ in out["imports"]}
    assert {"llama_index.core.schema", "llama_index.vector_stores.milvus", "langchain_milvus"} <= imported
    in_threads = [(name, thread) for name, thread, main in out["imports"] if not main]
    assert in_threads == [], f"first imported by a worker thread: {in_threads[:20]}"
