#!/usr/bin/env python
"""Ingest benchmark: how close does the ``milvus_ingest`` DAG come to a plain pymilvus loop?

One run, back to back, against the same Milvus server (``milvus_default``):

(a) ceiling: read + split + hash (``milvus_toolkit.ingest.documents`` / ``splitting``, the
    same work as the DAG), ``DeterministicFakeEmbedding``, then plain ``MilvusClient.insert``
    in batches of ``--insert-batch`` into a collection made by ``MilvusHook.ensure_collection``
    (same ``CollectionSpec``, same rows as langchain-milvus writes). One process, no Airflow,
    no vector store. The insert calls alone give the Milvus-only insert rate.
(b) the DAG end to end: ``airflow dags test milvus_ingest -c {...}`` as a subprocess, wall
    clock from start to finish (process start, parse, every task, validation, report). Run
    on the full corpus and on a smaller one (``--small-chunks``) to show that memory per
    mapped task does not grow with the corpus.
(c) the seeds' approach: one ``aadd_documents([chunk])`` call per chunk, all gathered at
    once, through a langchain-milvus store from ``MilvusHook.avector_store``, on the first
    ``--slice`` chunks (scaled to chunks/s).

Peak RSS per write task and the run's XCom bytes are read from the Airflow database
($AIRFLOW_HOME/airflow.db). Prints a table and writes .local/benchmarks/ingest-<ts>.json.
Benchmark collections are dropped at the end. Expects ``source scripts/dev-env.sh`` (``make
bench-ingest`` does it).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LOCAL = Path(os.environ.get("LOCAL_HOME") or REPO / ".local")
CORPUS_ROOT = LOCAL / "bench-corpus"
RESULTS = LOCAL / "benchmarks"
CHUNK_SIZE, CHUNK_OVERLAP = 1000, 150  # the DAG's defaults; the corpus is sized for them

# ---------------------------------------------------------------------------------------------
# Corpus: Markdown files of generated prose, deterministic given the seed. Every file is
# seeded by (seed, file index) alone, so the first M files of a bigger corpus are exactly a
# smaller corpus (hard links: no extra disk).
# ---------------------------------------------------------------------------------------------

COMMON = """the of and to in a is that for it as was with be by on not he this are or his from at
which but have an they you were her she there been one all we their has would when if so no will
more can out about up into them some could time these two may then do first any my now such like
our over man me even most made after also did many before must through back years where much your
way well down should because each just those people how too little state good very make world
still own see men work long get here between both life being under never day same another know
while last might us great old year off come since against go came right used take three""".split()
NOUNS = """vector index collection segment partition replica query shard embedding chunk document
corpus pipeline task schedule worker executor server client cluster node memory disk batch stream
buffer cache latency throughput harvest orchard tractor sprayer nozzle valve pump irrigation soil
seed field greenhouse season frost pruning grafting apple pear cherry vineyard compost mulch
fertilizer yield sensor weather forecast rainfall drought invoice supplier contract warehouse
pallet shipment forklift inventory ledger audit budget forecast storage network gateway""".split()
VERBS = """stores loads writes reads splits indexes searches returns holds builds checks repairs
measures moves sends drains fills covers protects tracks reports improves reduces doubles handles
replaces updates""".split()
ADJECTIVES = """fast slow large small early late dry wet cold warm new old heavy light sharp clean
robust careful daily weekly seasonal local remote stable""".split()
SECTIONS_PER_FILE = 20  # about 50 chunks per file at chunk_size 1000 / overlap 150


def _vocabulary():
    import numpy as np

    words = COMMON + NOUNS + VERBS + ADJECTIVES + [n.capitalize() for n in NOUNS]
    weights = np.concatenate([
        np.full(len(COMMON), 3.0), np.full(len(NOUNS), 1.5), np.full(len(VERBS), 1.5),
        np.full(len(ADJECTIVES), 1.0), np.full(len(NOUNS), 0.2),
    ])
    return np.array(words, dtype=object), weights / weights.sum()


def generate_file(seed: int, index: int, vocab, weights) -> str:
    """One Markdown document: a title, sections with headers, paragraphs of sentences."""
    import numpy as np

    rng = np.random.default_rng([seed, index])
    pick = lambda n: vocab[rng.choice(len(vocab), n, p=weights)]  # noqa: E731
    out = [f"# {' '.join(pick(4)).title()} {index}\n"]
    for section in range(SECTIONS_PER_FILE):
        out.append(f"\n## {' '.join(pick(3)).capitalize()} ({section + 1})\n")
        for _ in range(int(rng.integers(3, 7))):
            lengths = rng.integers(8, 22, size=int(rng.integers(3, 7)))
            words = pick(int(lengths.sum()))
            sentences, pos = [], 0
            for length in lengths:
                text = " ".join(words[pos : pos + length])
                pos += length
                sentences.append(text[0].upper() + text[1:] + ".")
            out.append("\n" + " ".join(sentences) + "\n")
    return "".join(out)


def _count_chunks(text: str, name: str) -> int:
    from milvus_toolkit.ingest.documents import read_document
    from milvus_toolkit.ingest.splitting import SplitSettings, split_document

    return len(split_document(read_document(name, text.encode()), SplitSettings("auto", CHUNK_SIZE, CHUNK_OVERLAP)))


@dataclass
class CorpusInfo:
    folder: Path
    files: int
    bytes: int
    estimated_chunks: int
    seconds: float
    reused: bool


def make_corpus(seed: int, min_chunks: int) -> CorpusInfo:
    """Generate (or reuse) ``.local/bench-corpus/seed<seed>/full`` with >= ``min_chunks`` chunks
    (estimated from the first files; the exact count comes from the split in (a))."""
    folder = CORPUS_ROOT / f"seed{seed}" / "full"
    marker = folder.parent / "corpus.json"
    started = time.perf_counter()
    vocab, weights = _vocabulary()
    if marker.exists():
        info = json.loads(marker.read_text())
        if info.get("estimated_chunks", 0) >= min_chunks * 1.03 and folder.is_dir():
            files = sorted(folder.glob("doc-*.md"))
            if len(files) == info["files"]:
                return CorpusInfo(folder, info["files"], info["bytes"], info["estimated_chunks"], 0.0, True)
    shutil.rmtree(folder.parent, ignore_errors=True)
    folder.mkdir(parents=True)
    probe = [generate_file(seed, i, vocab, weights) for i in range(20)]
    per_file = sum(_count_chunks(t, f"doc-{i:05d}.md") for i, t in enumerate(probe)) / len(probe)
    n_files = int(min_chunks * 1.05 / per_file) + 1  # 5 % margin over the estimate
    total = 0
    for i in range(n_files):
        text = probe[i] if i < len(probe) else generate_file(seed, i, vocab, weights)
        data = text.encode("utf-8")
        (folder / f"doc-{i:05d}.md").write_bytes(data)
        total += len(data)
    info = {"seed": seed, "files": n_files, "bytes": total, "chunks_per_file": per_file,
            "estimated_chunks": int(per_file * n_files)}
    marker.write_text(json.dumps(info, indent=1))
    return CorpusInfo(folder, n_files, total, info["estimated_chunks"], time.perf_counter() - started, False)


def subset_corpus(full: CorpusInfo, chunks: int) -> Path:
    """The first files of the full corpus holding about ``chunks`` chunks (hard links)."""
    per_file = full.estimated_chunks / full.files
    n_files = min(full.files, int(chunks / per_file) + 1)
    folder = full.folder.parent / f"first-{n_files}-files"
    if not (folder.is_dir() and len(list(folder.glob("doc-*.md"))) == n_files):
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        for i in range(n_files):
            name = f"doc-{i:05d}.md"
            try:
                os.link(full.folder / name, folder / name)
            except OSError:
                shutil.copyfile(full.folder / name, folder / name)
    return folder


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------


def peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def milvus_process(uri: str):
    """The server process listening on the connection's port (to watch its CPU), or None."""
    import psutil
    from urllib.parse import urlsplit

    port = urlsplit(uri).port
    try:
        for conn in psutil.net_connections(kind="tcp"):
            if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port and conn.pid:
                return psutil.Process(conn.pid)
    except (psutil.Error, OSError):
        pass
    return None


def settle(server, *, below_cores: float = 0.3, window: float = 3.0, max_wait: float = 120.0) -> dict:
    """Wait until the Milvus server is nearly idle (it builds HNSW indexes of sealed segments
    in the background), so one measurement does not pay for the previous one's index."""
    import psutil

    started = time.perf_counter()
    busy = None
    if server is not None:
        while time.perf_counter() - started < max_wait:
            try:
                before = sum(server.cpu_times()[:2])
                time.sleep(window)
                busy = (sum(server.cpu_times()[:2]) - before) / window
            except psutil.Error:
                break
            if busy < below_cores:
                break
    return {"waited_s": round(time.perf_counter() - started, 1),
            "server_cores_busy": None if busy is None else round(busy, 2)}


class PhaseMeter:
    """CPU seconds spent during a phase by this process (+ children), by the Milvus server and by
    the whole machine: shows how contended a measurement was on the shared machine."""

    def __init__(self, server) -> None:
        self.server = server

    def __enter__(self) -> PhaseMeter:
        import psutil

        self.t = time.perf_counter()
        self.sys0 = psutil.cpu_times()
        self.self0 = resource.getrusage(resource.RUSAGE_SELF)
        self.kids0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        self.srv0 = self._server_cpu()
        self.load0 = load_average()
        return self

    def _server_cpu(self) -> float | None:
        try:
            return sum(self.server.cpu_times()[:2]) if self.server is not None else None
        except Exception:
            return None

    def __exit__(self, *exc) -> None:
        import psutil

        wall = time.perf_counter() - self.t
        sys1 = psutil.cpu_times()
        busy = lambda t: t.user + t.nice + t.system + getattr(t, "irq", 0) + getattr(t, "softirq", 0)  # noqa: E731
        total = lambda t: sum(t)  # noqa: E731
        me = resource.getrusage(resource.RUSAGE_SELF)
        kids = resource.getrusage(resource.RUSAGE_CHILDREN)
        srv1 = self._server_cpu()
        client = (me.ru_utime + me.ru_stime - self.self0.ru_utime - self.self0.ru_stime
                  + kids.ru_utime + kids.ru_stime - self.kids0.ru_utime - self.kids0.ru_stime)
        server = None if srv1 is None or self.srv0 is None else srv1 - self.srv0
        machine = busy(sys1) - busy(self.sys0)
        self.figures = {
            "wall_s": round(wall, 2),
            "client_cpu_s": round(client, 1),
            "milvus_cpu_s": None if server is None else round(server, 1),
            "machine_cpu_s": round(machine, 1),
            "others_cpu_s": None if server is None else round(machine - client - server, 1),
            "machine_busy_pct": round(100 * machine / max(total(sys1) - total(self.sys0), 1e-9), 1),
            "load_avg_before": self.load0, "load_avg_after": load_average(),
        }


def drop(hook, name: str, keep: bool) -> None:
    """Drop a benchmark collection as soon as it is measured: its background index build must
    not steal CPU from the next measurement."""
    if not keep and hook.has_collection(name):
        hook.drop_collection(name)


def collection_spec(name: str, dim: int):
    # The DAG's own spec (pipeline.collection_spec): same schema, index and consistency level.
    from milvus_provider.config import CollectionSpec

    return CollectionSpec(name=name, dim=dim, description="milvus-toolkit chunks")


def iter_chunks(source: str, limit: int | None = None):
    """Read, split and hash exactly like split_corpus (auto splitter, DAG defaults)."""
    from milvus_toolkit.ingest.documents import BadFile, discover, load
    from milvus_toolkit.ingest.splitting import SplitSettings, split_document

    settings = SplitSettings("auto", CHUNK_SIZE, CHUNK_OVERLAP)
    produced = 0
    for doc in load(discover(source)):
        if isinstance(doc, BadFile):
            raise RuntimeError(f"generated corpus has a bad file: {doc}")
        for chunk in split_document(doc, settings):
            yield chunk
            produced += 1
            if limit is not None and produced >= limit:
                return


def row_of(chunk, vector, spec) -> dict:
    """The row langchain-milvus writes (``Milvus._prepare_insert_list``): pk, text, vector and
    every metadata key flat (``source`` is a real field, the others go to the dynamic field)."""
    return {spec.primary_field: chunk.id, spec.text_field: chunk.page_content, spec.vector_field: vector, **chunk.metadata}


def warm_up(client, spec) -> None:
    """The first insert into a fresh collection is slow (segment allocation); not timed."""
    row = {spec.primary_field: "bench-warmup", spec.text_field: "warm up", spec.vector_field: [0.1] * spec.dim,
           spec.source_field: "bench-warmup"}
    client.insert(spec.name, [row])
    client.delete(spec.name, ids=["bench-warmup"])


# ---------------------------------------------------------------------------------------------
# (a) the ceiling
# ---------------------------------------------------------------------------------------------


def run_ceiling(hook, source: str, name: str, dim: int, insert_batch: int) -> dict:
    from langchain_core.embeddings import DeterministicFakeEmbedding

    spec = collection_spec(name, dim)
    t = time.perf_counter()
    hook.ensure_collection(spec)
    client = hook.get_conn()
    warm_up(client, spec)
    setup_s = time.perf_counter() - t
    embedding = DeterministicFakeEmbedding(size=dim)
    split_s = embed_s = rows_s = insert_s = 0.0
    chunks_total = 0
    pending: list = []

    def flush() -> None:
        nonlocal embed_s, rows_s, insert_s, chunks_total, pending
        if not pending:
            return
        t0 = time.perf_counter()
        vectors = embedding.embed_documents([c.page_content for c in pending])
        t1 = time.perf_counter()
        rows = [row_of(c, v, spec) for c, v in zip(pending, vectors)]
        t2 = time.perf_counter()
        client.insert(name, rows)
        t3 = time.perf_counter()
        embed_s += t1 - t0
        rows_s += t2 - t1
        insert_s += t3 - t2
        chunks_total += len(pending)
        pending = []

    print(f"(a) ceiling: read+split+hash+embed+insert into '{name}' ...", flush=True)
    load_before = load_average()
    started = time.perf_counter()
    chunks = iter_chunks(source)
    while True:
        t0 = time.perf_counter()
        chunk = next(chunks, None)
        split_s += time.perf_counter() - t0
        if chunk is None:
            break
        pending.append(chunk)
        if len(pending) >= insert_batch:
            flush()
    flush()
    seconds = time.perf_counter() - started
    t0 = time.perf_counter()
    counted = hook.count(name)  # Strong: every acknowledged insert is visible
    count_s = time.perf_counter() - t0
    if counted != chunks_total:
        raise RuntimeError(f"(a) wrote {chunks_total} chunks but '{name}' holds {counted} rows")
    result = {
        "collection": name, "chunks": chunks_total, "seconds": round(seconds, 2),
        "chunks_per_s": round(chunks_total / seconds, 1),
        "read_split_hash_s": round(split_s, 2), "embed_s": round(embed_s, 2), "build_rows_s": round(rows_s, 2),
        "insert_s": round(insert_s, 2), "insert_rows_per_s": round(chunks_total / insert_s, 1),
        "insert_batch": insert_batch, "client": "pymilvus MilvusClient.insert (sync)",
        "setup_s_untimed": round(setup_s, 2), "strong_count_s_untimed": round(count_s, 2),
        "rows_counted": counted, "peak_rss_mb_process": peak_rss_mb(),
        "load_avg_before": load_before, "load_avg_after": load_average(),
    }
    print(f"    {chunks_total} chunks in {seconds:.1f} s = {result['chunks_per_s']:.0f} chunks/s; inserts alone "
          f"{insert_s:.1f} s = {result['insert_rows_per_s']:.0f} rows/s", flush=True)
    return result


def run_async_ceiling(hook, source: str, name: str, dim: int, insert_batch: int, in_flight: int) -> dict:
    """(a2) The same work with ``AsyncMilvusClient.insert``, ``in_flight`` batches in flight: the
    client splits and converts the next batch while the server ingests the previous ones. Not
    part of the targets; it shows how much a sync loop leaves on the table on this machine."""
    from langchain_core.embeddings import DeterministicFakeEmbedding

    spec = collection_spec(name, dim)
    hook.ensure_collection(spec)
    warm_up(hook.get_conn(), spec)
    embedding = DeterministicFakeEmbedding(size=dim)

    async def main() -> dict:
        async with hook.async_client() as client:
            semaphore = asyncio.Semaphore(in_flight)
            pending: list = []
            tasks: list = []
            total = 0

            async def insert(rows: list) -> None:
                try:
                    await client.insert(name, rows)
                finally:
                    semaphore.release()

            async def flush() -> None:
                nonlocal pending, total
                if not pending:
                    return
                vectors = embedding.embed_documents([c.page_content for c in pending])
                rows = [row_of(c, v, spec) for c, v in zip(pending, vectors)]
                total += len(pending)
                pending = []
                await semaphore.acquire()
                tasks.append(asyncio.ensure_future(insert(rows)))
                await asyncio.sleep(0)  # let the request go out before splitting on

            started = time.perf_counter()
            for chunk in iter_chunks(source):
                pending.append(chunk)
                if len(pending) >= insert_batch:
                    await flush()
            await flush()
            await asyncio.gather(*tasks)
            return {"chunks": total, "seconds": time.perf_counter() - started}

    print(f"(a2) async ceiling: same work, AsyncMilvusClient.insert, {in_flight} batches in flight ...", flush=True)
    r = asyncio.run(main())
    counted = hook.count(name)
    if counted != r["chunks"]:
        raise RuntimeError(f"(a2) wrote {r['chunks']} chunks but '{name}' holds {counted} rows")
    result = {"collection": name, "chunks": r["chunks"], "seconds": round(r["seconds"], 2),
              "chunks_per_s": round(r["chunks"] / r["seconds"], 1), "insert_batch": insert_batch,
              "in_flight": in_flight, "client": "pymilvus AsyncMilvusClient.insert", "rows_counted": counted}
    print(f"    {r['chunks']} chunks in {r['seconds']:.1f} s = {result['chunks_per_s']:.0f} chunks/s", flush=True)
    return result


# ---------------------------------------------------------------------------------------------
# (b) the DAG
# ---------------------------------------------------------------------------------------------


class TreeRssSampler(threading.Thread):
    """Samples the RSS of a process and its children (the peak over the run)."""

    def __init__(self, pid: int, every: float = 0.25) -> None:
        super().__init__(daemon=True)
        self.pid, self.every, self.peak_mb, self._stop_event = pid, every, 0.0, threading.Event()

    def run(self) -> None:
        import psutil

        try:
            root = psutil.Process(self.pid)
        except psutil.Error:
            return
        while not self._stop_event.is_set():
            try:
                procs = [root, *root.children(recursive=True)]
                rss = 0
                for p in procs:
                    try:
                        rss += p.memory_info().rss
                    except psutil.Error:
                        pass
                self.peak_mb = max(self.peak_mb, rss / 2**20)
            except psutil.Error:
                return
            self._stop_event.wait(self.every)

    def stop(self) -> float:
        self._stop_event.set()
        self.join(timeout=2)
        return round(self.peak_mb, 1)


def airflow_db() -> Path:
    url = os.environ.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "")
    if url.startswith("sqlite:///"):
        return Path(url.removeprefix("sqlite:///"))
    return Path(os.environ["AIRFLOW_HOME"]) / "airflow.db"


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def run_facts(collection: str, since: datetime) -> dict:
    """The run's facts from the Airflow DB: state, task durations, XCom bytes, write results."""
    with sqlite3.connect(airflow_db()) as db:
        runs = db.execute(
            "select id, run_id, state, conf, start_date, end_date from dag_run where dag_id='milvus_ingest' "
            "and start_date >= ? order by id", (since.strftime("%Y-%m-%d %H:%M:%S"),)
        ).fetchall()
        runs = [r for r in runs if json.loads(_text(r[3]) or "{}").get("collection") == collection]
        if not runs:
            raise RuntimeError(f"no milvus_ingest run for collection '{collection}' in {airflow_db()}")
        run_pk, run_id, state, _, start, end = runs[-1]
        tis = db.execute(
            "select task_id, map_index, start_date, end_date, duration, state, pid from task_instance "
            "where dag_id='milvus_ingest' and run_id=?", (run_id,)
        ).fetchall()
        xcoms = db.execute("select task_id, map_index, key, value from xcom where dag_run_id=?", (run_pk,)).fetchall()
    xcom_bytes = sum(len(_text(v).encode("utf-8")) for *_, v in xcoms)
    per_task: dict[str, dict] = {}
    for task_id, map_index, *_, duration, ti_state, pid in tis:
        entry = per_task.setdefault(task_id, {"count": 0, "seconds": 0.0, "max_s": 0.0, "states": set(), "pids": set()})
        entry["count"] += 1
        entry["seconds"] += duration or 0.0
        entry["max_s"] = max(entry["max_s"], duration or 0.0)
        entry["states"].add(ti_state)
        entry["pids"].add(pid)
    for entry in per_task.values():
        entry["seconds"] = round(entry["seconds"], 2)
        entry["max_s"] = round(entry["max_s"], 2)
        entry["states"] = sorted(s or "none" for s in entry["states"])
        entry["pids"] = len(entry["pids"])
    values = {(t, m, k): _text(v) for t, m, k, v in xcoms}
    writes = [json.loads(v) for (t, m, k), v in sorted(values.items()) if t == "write_batch" and k == "return_value"]
    manifest = json.loads(values.get(("split_corpus", -1, "return_value"), "{}") or "{}")
    report = json.loads(values.get(("report", -1, "return_value"), "{}") or "{}")
    by_task_bytes: dict[str, int] = {}
    for (t, _, _), v in values.items():
        by_task_bytes[t] = by_task_bytes.get(t, 0) + len(v.encode("utf-8"))
    rss = [w["peak_rss_mb"] for w in writes]
    return {
        "run_id": run_id, "state": state, "db_start": start, "db_end": end,
        "tasks": per_task, "xcom_bytes": xcom_bytes, "xcom_rows": len(xcoms), "xcom_bytes_by_task": by_task_bytes,
        "write_tasks": len(writes),
        "peak_rss_mb_per_write_task": {"min": min(rss, default=0), "median": statistics.median(rss) if rss else 0,
                                       "max": max(rss, default=0)},
        "write_task_seconds": {"sum": round(sum(w["seconds"] for w in writes), 2),
                               "max": max((w["seconds"] for w in writes), default=0)},
        "write_in_task_chunks_per_s": round(sum(w["chunks"] for w in writes) / max(sum(w["seconds"] for w in writes), 1e-9), 1),
        "split_seconds": manifest.get("seconds"), "chunks": manifest.get("chunks"), "files": manifest.get("files_loaded"),
        "report": report,
    }


def run_dag(source: str, name: str, batch_size: int, concurrency: int, mode: str, log_path: Path) -> dict:
    conf = {"source": source, "collection": name, "embedding": "deterministic",
            "batch_size": batch_size, "concurrency": concurrency, "mode": mode}
    command = ["airflow", "dags", "test", "milvus_ingest", "-c", json.dumps(conf)]
    print(f"(b) {' '.join(command[:4])} -c '{json.dumps(conf)}'  (log: {log_path})", flush=True)
    since = datetime.now(timezone.utc).replace(tzinfo=None) - timedelta(seconds=2)
    load_before = load_average()
    with open(log_path, "w") as log:
        started = time.perf_counter()
        # Through a small shell that forks: a child forked straight from this (large) process
        # would inherit its peak RSS (Linux keeps ru_maxrss across fork and exec), and the
        # tasks' peak_rss_mb would report this benchmark's memory instead of their own.
        proc = subprocess.Popen(["/bin/sh", "-c", '"$@"; exit $?', "sh", *command], stdout=log, stderr=subprocess.STDOUT)
        sampler = TreeRssSampler(proc.pid)
        sampler.start()
        returncode = proc.wait()
        wall = time.perf_counter() - started
        tree_peak = sampler.stop()
    if returncode != 0:
        tail = log_path.read_text(errors="replace")[-4000:]
        raise RuntimeError(f"airflow dags test failed (exit {returncode}); log {log_path}:\n{tail}")
    facts = run_facts(name, since)
    if facts["state"] != "success":
        raise RuntimeError(f"DAG run {facts['run_id']} ended {facts['state']}; log {log_path}")
    chunks = facts["chunks"]
    task_seconds = sum(t["seconds"] for t in facts["tasks"].values())
    result = {
        "collection": name, "conf": conf, "command": command, "chunks": chunks, "seconds": round(wall, 2),
        "chunks_per_s": round(chunks / wall, 1), "process_tree_peak_rss_mb": tree_peak,
        "outside_tasks_s": round(wall - task_seconds, 2), "log": str(log_path),
        "load_avg_before": load_before, "load_avg_after": load_average(), **facts,
    }
    print(f"    {chunks} chunks in {wall:.1f} s = {result['chunks_per_s']:.0f} chunks/s; {facts['write_tasks']} write "
          f"tasks; XCom {facts['xcom_bytes']} bytes", flush=True)
    return result


# ---------------------------------------------------------------------------------------------
# (c) the seeds' approach
# ---------------------------------------------------------------------------------------------


def run_seeds(hook, source: str, name: str, dim: int, slice_size: int) -> dict:
    from langchain_core.documents import Document
    from langchain_core.embeddings import DeterministicFakeEmbedding

    spec = collection_spec(name, dim)
    embedding = DeterministicFakeEmbedding(size=dim)

    async def main() -> dict:
        t = time.perf_counter()
        async with hook.avector_store(spec, embedding) as store:
            warm = Document("warm up", metadata={"source": "bench-warmup"})
            await store.aadd_documents([warm], ids=["bench-warmup"])
            await store.adelete(ids=["bench-warmup"])
            setup_s = time.perf_counter() - t
            print(f"(c) seeds: one aadd_documents([chunk]) per chunk, all gathered, first {slice_size} chunks "
                  f"into '{name}' ...", flush=True)
            load_before = load_average()
            started = time.perf_counter()
            chunks = list(iter_chunks(source, limit=slice_size))
            split_s = time.perf_counter() - started
            outcomes = await asyncio.gather(
                *(store.aadd_documents([c], ids=[c.id]) for c in chunks), return_exceptions=True
            )
            seconds = time.perf_counter() - started
            closing = time.perf_counter()
        errors = [o for o in outcomes if isinstance(o, BaseException)]
        return {"chunks": len(chunks), "seconds": seconds, "split_s": split_s, "errors": errors,
                "setup_s": setup_s, "load_before": load_before, "close_s": time.perf_counter() - closing}

    import logging

    rpc_log = logging.getLogger("pymilvus.decorators")  # one traceback per failed call otherwise
    level = rpc_log.level
    rpc_log.setLevel(logging.CRITICAL)
    try:
        r = asyncio.run(main())
    finally:
        rpc_log.setLevel(level)
    t0 = time.perf_counter()
    counted = hook.count(name)
    count_s = time.perf_counter() - t0
    ok = r["chunks"] - len(r["errors"])
    result = {
        "collection": name, "chunks": r["chunks"], "seconds": round(r["seconds"], 2),
        "chunks_per_s": round(ok / r["seconds"], 1), "calls": r["chunks"], "failed_calls": len(r["errors"]),
        "first_errors": sorted({f"{type(e).__name__}: {e}"[:200] for e in r["errors"]})[:3],
        "read_split_hash_s": round(r["split_s"], 2), "write_s": round(r["seconds"] - r["split_s"], 2),
        "rows_counted": counted, "setup_s_untimed": round(r["setup_s"], 2), "peak_rss_mb_process": peak_rss_mb(),
        "store_close_s_untimed": round(r["close_s"], 2), "strong_count_s_untimed": round(count_s, 2),
        "load_avg_before": r["load_before"], "load_avg_after": load_average(),
    }
    print(f"    {r['chunks']} chunks ({len(r['errors'])} failed calls) in {r['seconds']:.1f} s = "
          f"{result['chunks_per_s']:.0f} chunks/s", flush=True)
    return result


# ---------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------


def verdict(value: float, target: float) -> str:
    return f"{'MET' if value >= target else 'NOT MET'} (target >= {target:g})"


def table(result: dict) -> str:
    a, b, c, small = result["a"], result["b"], result["c"], result.get("b_small")
    s = result["settings"]
    lines = [
        "",
        f"Ingest benchmark {result['timestamp']}  (SHARED machine: {os.cpu_count()} cores; other sessions may run "
        f"tests at the same time; load avg at start {result['load_avg_start']})",
        f"Milvus {result['milvus']['server_version']} at {result['milvus']['uri']}; corpus {result['corpus']['files']} "
        f"Markdown files, {result['corpus']['bytes'] / 1e6:.0f} MB, seed {s['seed']}; chunk_size {CHUNK_SIZE} / "
        f"overlap {CHUNK_OVERLAP}; deterministic embeddings, {s['dim']} dims",
        "",
        f"{'run':<76}{'chunks':>9}{'seconds':>10}{'chunks/s':>11}",
        "-" * 106,
    ]

    def row(label: str, chunks, seconds, rate) -> None:
        lines.append(f"{label:<76}{chunks:>9}{seconds:>10.1f}{rate:>11.0f}")

    row(f"(a) ceiling: read+split+hash+embed + MilvusClient.insert x{s['insert_batch']}", a["chunks"], a["seconds"], a["chunks_per_s"])
    row("    Milvus-only insert rate of (a) (insert calls alone)", a["chunks"], a["insert_s"], a["insert_rows_per_s"])
    if "a2" in result:
        a2 = result["a2"]
        row(f"(a2) same work, AsyncMilvusClient.insert x{s['insert_batch']}, {a2['in_flight']} in flight (reference)",
            a2["chunks"], a2["seconds"], a2["chunks_per_s"])
    row(f"(b) airflow dags test milvus_ingest, batch_size {s['batch_size']}, concurrency {s['concurrency']}, {s['mode']}",
        b["chunks"], b["seconds"], b["chunks_per_s"])
    if small:
        row("    (b) on the smaller corpus (same settings)", small["chunks"], small["seconds"], small["chunks_per_s"])
    row(f"(c) seeds: aadd_documents([chunk]) x{c['chunks']}, all gathered", c["chunks"], c["seconds"], c["chunks_per_s"])
    if c["failed_calls"]:
        lines.append(f"    (c): {c['failed_calls']} of {c['calls']} calls FAILED ({'; '.join(c['first_errors'])[:160]}); "
                     f"rows in Milvus {c['rows_counted']}; chunks/s counts successful calls only")
    lines += [
        "-" * 106,
        f"b/a = {result['ratios']['b_over_a']:.3f}   {verdict(result['ratios']['b_over_a'], 0.8)}",
        f"b/c = {result['ratios']['b_over_c']:.1f}   {verdict(result['ratios']['b_over_c'], 10)}"
        f"   (a/c = {result['ratios']['a_over_c']:.1f}: the ceiling bounds what b/c can reach)",
    ]
    if "b_over_a2" in result["ratios"]:
        lines.append(f"b/a2 = {result['ratios']['b_over_a2']:.3f}   (against the async ceiling; no target)")
    for label, run in (("full", b), ("small", small)):
        if not run:
            continue
        rss = run["peak_rss_mb_per_write_task"]
        lines.append(
            f"peak RSS per write task ({label}, {run['chunks']} chunks, {run['write_tasks']} tasks): min {rss['min']:.0f} / "
            f"median {rss['median']:.0f} / max {rss['max']:.0f} MB (process tree peak {run['process_tree_peak_rss_mb']:.0f} MB); "
            f"XCom {run['xcom_bytes']} bytes in {run['xcom_rows']} rows"
        )
    if small:
        grow = b["peak_rss_mb_per_write_task"]["max"] - small["peak_rss_mb_per_write_task"]["max"]
        lines.append(f"memory growth with corpus x{b['chunks'] / small['chunks']:.1f}: {grow:+.0f} MB peak RSS per write task")
    lines += ["", "CPU seconds during each phase (client = benchmark/airflow process, milvus = server, others = "
              "everything else on the shared machine):"]
    for key, label in (("a", "(a)"), ("a2", "(a2)"), ("b", "(b)"), ("c", "(c)"), ("b_small", "(b) small")):
        run = result.get(key)
        if run and "cpu_during_phase" in run:
            m = run["cpu_during_phase"]
            lines.append(f"    {label:<10} wall {m['wall_s']:>6.1f} s  client {m['client_cpu_s']:>6.1f}  milvus "
                         f"{m['milvus_cpu_s']}  others {m['others_cpu_s']}  machine busy {m['machine_busy_pct']:.0f} %  "
                         f"(waited {run['settle_before']['waited_s']} s for an idle server)")
    lines += ["", "(b) where the time goes (task_instance durations, summed over mapped tasks):"]
    for task_id, t in sorted(b["tasks"].items(), key=lambda kv: -kv[1]["seconds"]):
        lines.append(f"    {task_id:<20}{t['count']:>5} x  {t['seconds']:>8.1f} s  (longest {t['max_s']:.1f} s)")
    lines.append(f"    {'outside tasks':<20}{'':>5}    {b['outside_tasks_s']:>8.1f} s  (process start, DAG parse, scheduling)")
    lines.append(f"    split in-task {b['split_seconds']} s; write tasks in-task {b['write_task_seconds']['sum']} s "
                 f"({b['write_in_task_chunks_per_s']:.0f} chunks/s inside the tasks)")
    lines.append(f"(a) breakdown: read+split+hash {a['read_split_hash_s']} s, embed {a['embed_s']} s, build rows "
                 f"{a['build_rows_s']} s, insert {a['insert_s']} s")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chunks", type=int, default=200_000, help="minimum chunks in the generated corpus (default 200000)")
    parser.add_argument("--small-chunks", type=int, default=50_000,
                        help="(b) also on a corpus of about this many chunks, for memory per task (0: skip)")
    parser.add_argument("--slice", type=int, default=20_000, help="chunks for (c), the seeds' approach (default 20000)")
    parser.add_argument("--batch-size", type=int, default=10_000, help="(b) batch_size param: chunks per mapped write task")
    parser.add_argument("--concurrency", type=int, default=8, help="(b) concurrency param: async calls in flight per task")
    parser.add_argument("--mode", choices=["upsert", "add"], default="upsert", help="(b) mode param (DAG default upsert)")
    parser.add_argument("--insert-batch", type=int, default=1000, help="(a) rows per MilvusClient.insert")
    parser.add_argument("--no-async-ceiling", dest="async_ceiling", action="store_false",
                        help="skip (a2), the same work with AsyncMilvusClient (for reference, not a target)")
    parser.add_argument("--dim", type=int, default=384, help="vector dimension (deterministic embedding default)")
    parser.add_argument("--seed", type=int, default=42, help="corpus seed")
    parser.add_argument("--conn-id", default="milvus_default")
    parser.add_argument("--keep-corpus", action="store_true", help="keep .local/bench-corpus (reused by the next run)")
    parser.add_argument("--keep-collections", action="store_true", help="do not drop the benchmark collections")
    args = parser.parse_args(argv)

    if "AIRFLOW_HOME" not in os.environ:
        print("bench-ingest: source scripts/dev-env.sh first (or run `make bench-ingest`)", file=sys.stderr)
        return 2
    from milvus_provider.hooks.milvus import MilvusHook

    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    RESULTS.mkdir(parents=True, exist_ok=True)
    hook = MilvusHook(args.conn_id)
    health = hook.health_check()
    suffix = stamp.lower().replace("t", "_").replace("z", "")
    names = {k: f"bench_ingest_{k}_{suffix}" for k in ("a", "a2", "b", "c", "b_small")}
    result: dict = {
        "timestamp": stamp, "machine": {"cpus": os.cpu_count(), "shared": True,
                                        "note": "shared machine: other sessions may run tests at the same time"},
        "load_avg_start": load_average(),
        "milvus": {"uri": health["uri"], "server_version": health["server_version"]},
        "settings": {"chunks_min": args.chunks, "small_chunks": args.small_chunks, "slice": args.slice,
                     "batch_size": args.batch_size, "concurrency": args.concurrency, "mode": args.mode,
                     "insert_batch": args.insert_batch, "dim": args.dim, "seed": args.seed,
                     "chunk_size": CHUNK_SIZE, "chunk_overlap": CHUNK_OVERLAP, "embedding": "deterministic",
                     "consistency": "collections Session (CollectionSpec default); counts Strong"},
    }
    out = RESULTS / f"ingest-{stamp}.json"
    started = time.perf_counter()
    try:
        corpus = make_corpus(args.seed, args.chunks)
        print(f"corpus: {corpus.folder} ({corpus.files} files, {corpus.bytes / 1e6:.0f} MB, ~{corpus.estimated_chunks} "
              f"chunks; {'reused' if corpus.reused else f'generated in {corpus.seconds:.1f} s'})", flush=True)
        result["corpus"] = {"folder": str(corpus.folder), "files": corpus.files, "bytes": corpus.bytes,
                            "generated_s": round(corpus.seconds, 2), "reused": corpus.reused}
        # (a), (b), (c) back to back on the same server, then (b) on the smaller corpus. Before
        # each: wait for the server to finish the previous collection's index; after each: drop.
        server = milvus_process(health["uri"])

        def phase(key: str, run, *run_args) -> dict:
            waited = settle(server)
            with PhaseMeter(server) as meter:
                figures = run(*run_args)
            figures["settle_before"] = waited
            figures["cpu_during_phase"] = meter.figures
            drop(hook, names[key], args.keep_collections)
            return figures

        result["a"] = phase("a", run_ceiling, hook, str(corpus.folder), names["a"], args.dim, args.insert_batch)
        if result["a"]["chunks"] < args.chunks:
            raise RuntimeError(f"corpus yields {result['a']['chunks']} chunks, fewer than --chunks {args.chunks}")
        result["corpus"]["chunks"] = result["a"]["chunks"]
        if args.async_ceiling:
            result["a2"] = phase("a2", run_async_ceiling, hook, str(corpus.folder), names["a2"], args.dim,
                                 args.insert_batch, args.concurrency)
        result["b"] = phase("b", run_dag, str(corpus.folder), names["b"], args.batch_size, args.concurrency,
                            args.mode, RESULTS / f"ingest-{stamp}-b.log")
        result["c"] = phase("c", run_seeds, hook, str(corpus.folder), names["c"], args.dim, args.slice)
        if args.small_chunks:
            small = subset_corpus(corpus, args.small_chunks)
            result["b_small"] = phase("b_small", run_dag, str(small), names["b_small"], args.batch_size,
                                      args.concurrency, args.mode, RESULTS / f"ingest-{stamp}-b-small.log")
        result["ratios"] = {"b_over_a": round(result["b"]["chunks_per_s"] / result["a"]["chunks_per_s"], 3),
                            "b_over_c": round(result["b"]["chunks_per_s"] / result["c"]["chunks_per_s"], 2),
                            "a_over_c": round(result["a"]["chunks_per_s"] / result["c"]["chunks_per_s"], 2)}
        if "a2" in result:
            result["ratios"]["b_over_a2"] = round(result["b"]["chunks_per_s"] / result["a2"]["chunks_per_s"], 3)
        result["targets"] = {
            "b_over_a_ge_0.8": result["ratios"]["b_over_a"] >= 0.8,
            "b_over_c_ge_10": result["ratios"]["b_over_c"] >= 10,
        }
        if "b_small" in result:
            grow = result["b"]["peak_rss_mb_per_write_task"]["max"] - result["b_small"]["peak_rss_mb_per_write_task"]["max"]
            result["targets"]["peak_rss_growth_mb"] = round(grow, 1)
        result["total_s"] = round(time.perf_counter() - started, 1)
        print(table(result))
        return 0
    finally:
        result.setdefault("total_s", round(time.perf_counter() - started, 1))
        if not args.keep_collections:
            for name in names.values():
                try:
                    if hook.has_collection(name):
                        hook.drop_collection(name)
                except Exception as exc:  # report, never mask the benchmark's own error
                    print(f"could not drop {name}: {exc}", file=sys.stderr)
            result["collections_dropped"] = not args.keep_collections
        if not args.keep_corpus:
            shutil.rmtree(CORPUS_ROOT / f"seed{args.seed}", ignore_errors=True)
        out.write_text(json.dumps(result, indent=1, default=str))
        print(f"\nresult: {out}")
        hook.close()


if __name__ == "__main__":
    sys.exit(main())
