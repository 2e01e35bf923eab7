"""Search metrics as Zilliz's VectorDBBench reports them, per layer, on this run's server, and a
recall-vs-QPS curve over HNSW's ``ef`` (ann-benchmarks style).

The data (:mod:`.search_data`): by default real text (the sample corpus and the Python
reference, ~1,200 passages) embedded by the local model, with queries that are not rows;
``search_data: "random"`` searches the cells' random vectors instead, a labelled stress case.

1. **Load** (``insert_duration``, ``optimize_duration``, ``load_duration``): a fresh
   collection with the toolkit's layout and *no index*; ``search_rows`` rows inserted in
   batches of 1000 (insert) (``search_rows`` is the random case's size; real text has the
   corpus's), then flush, build the HNSW index and wait until every row is
   indexed, load, and one Strong search that returns ``top_k`` hits (optimize). Raw pymilvus.
2. **Serial pass** per layer: one client, each query once (sync):
   ``serial_latency_p99`` and ``recall`` / ``ndcg`` at ``top_k`` against the exact
   neighbours numpy computes on the same vectors (:mod:`.recall`).
3. **Concurrency sweep** per layer and mode: at each of ``sweep_concurrency`` levels, that many
   clients search in a loop for ``sweep_seconds``: threads sharing one sync client or store
   (sync), coroutines sharing one async client or store made inside the loop (async). Per
   level ``qps``, p50/p95/p99/avg latency and the failed rate (:mod:`.sweep`).
4. **Dense, BM25 and hybrid** (``hybrid_search``), where the server supports BM25 (the hook's
   ``capabilities()``): a collection with an analyzed text field, a BM25 function into a
   sparse field (``SPARSE_INVERTED_INDEX``, metric ``BM25``) beside the dense HNSW field;
   the same queries as a dense search, a keyword search and a hybrid search
   (``AnnSearchRequest`` x2 + ``RRFRanker``): a serial pass and a sweep at the largest level.
5. **ef curve** per layer (:mod:`.ef_sweep`): at each of ``ef_values`` (each >= ``top_k``,
   refused before any call otherwise), recall@k, nDCG@k and one client's QPS.

raw and langchain search one collection (the toolkit's layout, the one timed in step 1);
LlamaIndex gets one in its own layout with the same rows and vectors, built the same way
(rows in first, then flush, index, load), so every layer searches the same kind of segment.
``ef`` reaches the server in every layer (pymilvus ``search_params``, langchain-milvus
``param``, LlamaIndex ``milvus_search_config``), but Milvus 2.3 builds no HNSW index for a
segment under 1,024 rows (``indexCoord.minSegmentNumRowsToEnableIndex``): such a segment is
served by its interim IVF index (``nprobe`` 16), whatever ``ef`` (the 1000-row random case
gave recall 0.82 at every ``ef``). Every collection is named like the cells'
(``bench_<tag>_<n>``) and dropped with them. All at the run's baseline consistency level (the
first of ``consistency_levels``).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

from milvus_toolkit import chunk_store
from milvus_toolkit.benchmark import llama
from milvus_toolkit.benchmark.ef_sweep import check_ef, measure_point, search_params
from milvus_toolkit.benchmark.model import BenchmarkError, VerificationError
from milvus_toolkit.benchmark.recall import ann_scores
from milvus_toolkit.benchmark.search_data import SearchData, random_data, text_data
from milvus_toolkit.benchmark.sweep import UNITS, WorkerResult, aggregate_level, layer_metrics, serial_summary
from milvus_toolkit.benchmark.workload import Workload

log = logging.getLogger("milvus_toolkit.benchmark")

QUERIES = 50  # the random case's queries (the seeds'): "test document 0" ... "test document 49"
DEFAULT_EF = 64  # the ef of every search but the ef curve's
MIN_INDEXED_ROWS_2_3 = 1024  # Milvus 2.3's indexCoord.minSegmentNumRowsToEnableIndex default
INSERT_BATCH = 1000
INDEX_WAIT_S = 300.0
RRF_K = 60
KINDS = ("dense", "bm25", "hybrid")


def build_search_data(work: Workload, *, choice: Any = None) -> SearchData:
    """The run's search data: real text (default) or the cells' random vectors."""
    p = work.params
    if p.search_data == "random":
        work.ensure_vectors({"search"}, 0)
        return random_data(work, QUERIES)
    return text_data(p.search_corpus, p.top_k, choice=choice)


def server_capabilities(hook: Any) -> Any | None:
    """The hook's ``capabilities()`` (a ``ServerCapabilities``), or ``None`` when the hook
    has no such method."""
    ask = getattr(hook, "capabilities", None)
    return ask() if callable(ask) else None


class SearchMetrics:
    """Runs steps 1-4 for a benchmark run. ``new_name`` gives a fresh collection name and
    registers it for cleanup (the cell loop's)."""

    def __init__(
        self, hook: Any, work: Workload, new_name: Callable[[], str], *, data: SearchData | None = None
    ) -> None:
        self.hook = hook
        self.work = work
        self.params = work.params
        self.new_name = new_name
        self.level = self.params.baseline_consistency
        self.k = self.params.top_k
        self.data = data

    # ---- the whole section of the record -----------------------------------------------------

    def run(self) -> dict[str, Any]:
        p = self.params
        started = time.perf_counter()
        if self.data is None:
            self.data = build_search_data(self.work)
        data = self.data
        log.info(
            "Search metrics on %s: %d rows x %d dims, %d queries", data.label, data.rows, data.dim, len(data.queries)
        )
        record: dict[str, Any] = {
            "consistency_level": self.level,
            "top_k": self.k,
            "data": data.describe(),
            "rows": data.rows,
            "dim": data.dim,
            "queries": len(data.queries),
            "sweep_concurrency": list(p.sweep_concurrency),
            "sweep_seconds": p.sweep_seconds,
            "modes": list(p.modes),
            "index": {
                "type": "HNSW",
                "metric": "COSINE",
                "params": {"M": 16, "efConstruction": 200},
                "search": {"ef": DEFAULT_EF},
            },
            "units": UNITS,
        }
        base, record["load"] = self.measure_load()
        log.info(
            "Load of %d rows: insert %.2f s, optimize %.2f s "
            "(flush %.2f, index %.2f, load %.2f, first search %.2f) = %.2f s",
            data.rows,
            record["load"]["insert_duration"],
            record["load"]["optimize_duration"],
            record["load"]["flush_s"],
            record["load"]["index_s"],
            record["load"]["load_s"],
            record["load"]["first_search_s"],
            record["load"]["load_duration"],
        )
        record["layers"] = {}
        curves: dict[str, list[dict[str, Any]]] = {}
        for layer in p.layers:
            name = base if layer != "llamaindex" else self._llama_collection()
            record["layers"][layer] = self.measure_layer(layer, name)
            if p.ef_values:
                curves[layer] = self.measure_ef(layer, name)
        record["ef_sweep"] = {
            "measured": bool(p.ef_values),
            "ef_values": list(p.ef_values),
            "seconds_per_point": p.ef_seconds,
            "top_k": self.k,
            "clients": 1,
            "layers": curves,
            "note": self._ef_note(),
        }
        record["hybrid"] = (
            self.measure_hybrid() if p.hybrid_search else {"measured": False, "reason": "hybrid_search is off"}
        )
        record["duration_s"] = round(time.perf_counter() - started, 1)
        return record

    # ---- 1. load ----------------------------------------------------------------------------

    def measure_load(self) -> tuple[str, dict[str, Any]]:
        from pymilvus import DataType

        name = self.new_name()
        spec = self._spec(name)
        client = self.hook.get_conn()
        schema = client.create_schema(auto_id=False, enable_dynamic_field=True, description=spec.description)
        schema.add_field(spec.primary_field, DataType.VARCHAR, is_primary=True, max_length=spec.max_id_length)
        schema.add_field(spec.text_field, DataType.VARCHAR, max_length=spec.max_text_length)
        schema.add_field(spec.source_field, DataType.VARCHAR, max_length=spec.max_source_length)
        schema.add_field(spec.vector_field, DataType.FLOAT_VECTOR, dim=spec.dim)
        client.create_collection(name, schema=schema, consistency_level=self.level)  # no index: not loaded
        rows = self.data.all_rows()

        def insert() -> None:
            for i in range(0, len(rows), INSERT_BATCH):
                client.insert(name, rows[i : i + INSERT_BATCH])

        t0, t1, t2, t3, t4, t5 = self._build(name, spec.vector_field, insert)
        load = {
            "rows": len(rows),
            "insert_duration": round(t1 - t0, 4),
            "optimize_duration": round(t5 - t1, 4),
            "load_duration": round(t5 - t0, 4),
            "flush_s": round(t2 - t1, 4),
            "index_s": round(t3 - t2, 4),
            "load_s": round(t4 - t3, 4),
            "first_search_s": round(t5 - t4, 4),
            "insert_rows_per_s": round(len(rows) / (t1 - t0), 1) if t1 > t0 else None,
        }
        return name, load

    def _build(self, name: str, field: str, insert: Callable[[], None]) -> tuple[float, ...]:
        """Insert into a collection without index, flush, build the HNSW index and wait for
        every row, load, then one Strong search that must return ``top_k`` hits; the clock at
        each step. Every search-metric collection is built this way."""
        spec, client, clock = self._spec(name), self.hook.get_conn(), time.perf_counter
        t0 = clock()
        insert()
        t1 = clock()
        client.flush(name)
        t2 = clock()
        index = client.prepare_index_params()
        index.add_index(field, index_type=spec.index_type, metric_type=spec.metric_type, params=spec.index_params)
        client.create_index(name, index)
        self._wait_indexed(client, name, field, self.data.rows)
        t3 = clock()
        client.load_collection(name)
        t4 = clock()
        kwargs = self._search_kwargs() | {"anns_field": field, "output_fields": []}
        first = client.search(name, data=[self.data.query_vector(0)], consistency_level="Strong", **kwargs)
        t5 = clock()
        if len(first[0]) != self.k:
            raise VerificationError(
                f"{name}: the first search after loading returned {len(first[0])} hits, expected {self.k}"
            )
        counted = self.hook.count(name)
        if counted != self.data.rows:
            raise VerificationError(f"{name}: loaded {self.data.rows} rows but counted {counted}")
        return t0, t1, t2, t3, t4, t5

    @staticmethod
    def _wait_indexed(client: Any, name: str, field: str, rows: int) -> None:
        deadline = time.perf_counter() + INDEX_WAIT_S
        while True:
            info = client.describe_index(name, field) or {}
            done = info.get("state") == "Finished" or (
                info.get("indexed_rows", 0) >= rows and not info.get("pending_index_rows", 0)
            )
            if done:
                return
            if time.perf_counter() > deadline:
                raise BenchmarkError(f"{name}: the index was not built within {INDEX_WAIT_S:.0f} s ({info})")
            time.sleep(0.02)

    def _llama_collection(self) -> str:
        """LlamaIndex's layout, made by its store without index; its nodes added through the
        store, then built like the load collection (flush, index, load)."""
        name = self.new_name()
        nodes = [Workload.text_node(r) for r in self.data.all_rows()]
        spec = self._spec(name)
        self._build(
            name,
            llama.EMBEDDING_FIELD,
            lambda: llama.create_collection(self.hook, spec, nodes, INSERT_BATCH, index=False),
        )
        return name

    # ---- 2 + 3. serial pass and sweep, per layer ---------------------------------------------------

    def measure_layer(self, layer: str, name: str) -> dict[str, Any]:
        spec = self._spec(name)
        sweeps: dict[str, list[dict[str, Any]]] = {}
        serial = None
        opened = self._open_sync(layer, spec)
        try:
            search, ids, _ = opened
            serial = self._serial(search, ids)
            if "sync" in self.params.modes:
                sweeps["sync"] = [self._sweep_sync(search, ids, c) for c in self.params.sweep_concurrency]
        finally:
            self._close_sync(layer, opened)
        if "async" in self.params.modes:
            sweeps["async"] = asyncio.run(self._sweep_async_all(layer, spec))
        metrics = layer_metrics(serial, sweeps)
        log.info(
            "Search metrics %-10s recall %.4f, serial p99 %.2f ms, qps %s (%s)",
            layer,
            metrics["recall"],
            metrics["serial_latency_p99"],
            metrics["qps"],
            "; ".join(
                f"{m} {dict(zip(v['conc_num_list'], v['conc_qps_list'], strict=True))}"
                for m, v in metrics.items()
                if m in ("sync", "async")
            ),
        )
        return metrics

    def _serial(self, search: Callable[[int], Any], ids: Callable[[Any], list[str]]) -> dict[str, Any]:
        search(0)  # warm-up
        latencies, pairs = [], []
        clock = time.perf_counter
        for i in range(len(self.data.queries)):
            t0 = clock()
            result = search(i)
            latencies.append(clock() - t0)
            got = ids(result)
            if len(got) != self.k:
                raise VerificationError(f"serial search {i} returned {len(got)} hits, expected {self.k}")
            pairs.append((got, self.data.truth(i)))
        per_query = ann_scores(pairs, self.k).per_query
        return serial_summary(latencies, [q.recall for q in per_query], [q.ndcg for q in per_query])

    def _sweep_sync(
        self, search: Callable[[int], Any], ids: Callable[[Any], list[str]], concurrency: int
    ) -> dict[str, Any]:
        seconds = self.params.sweep_seconds
        results = [WorkerResult() for _ in range(concurrency)]
        barrier = threading.Barrier(concurrency + 1)
        clock = time.perf_counter

        def worker(w: int) -> None:
            mine = results[w]
            i = w
            barrier.wait()
            deadline = clock() + seconds
            while clock() < deadline:
                t0 = clock()
                try:
                    got = ids(search(i))
                except Exception as exc:  # counted, like VectorDBBench; the level goes on
                    mine.record(clock() - t0, False, exc)
                else:
                    mine.record(clock() - t0, len(got) == self.k)
                i += 1

        threads = [threading.Thread(target=worker, args=(w,), daemon=True) for w in range(concurrency)]
        for t in threads:
            t.start()
        barrier.wait()
        t0 = clock()
        for t in threads:
            t.join()
        return aggregate_level(concurrency, results, clock() - t0)

    async def _sweep_async_all(self, layer: str, spec: Any) -> list[dict[str, Any]]:
        async with self._open_async(layer, spec) as (asearch, ids):
            await asearch(0)  # warm-up
            return [await self._sweep_async(asearch, ids, c) for c in self.params.sweep_concurrency]

    async def _sweep_async(
        self, asearch: Callable[[int], Awaitable[Any]], ids: Callable[[Any], list[str]], concurrency: int
    ) -> dict[str, Any]:
        seconds = self.params.sweep_seconds
        results = [WorkerResult() for _ in range(concurrency)]
        go = asyncio.Event()
        clock = time.perf_counter

        async def worker(w: int) -> None:
            mine = results[w]
            i = w
            await go.wait()
            deadline = clock() + seconds
            while clock() < deadline:
                t0 = clock()
                try:
                    got = ids(await asearch(i))
                except Exception as exc:
                    mine.record(clock() - t0, False, exc)
                else:
                    mine.record(clock() - t0, len(got) == self.k)
                i += 1

        tasks = [asyncio.create_task(worker(w)) for w in range(concurrency)]
        await asyncio.sleep(0)  # every worker reaches the start line
        t0 = clock()
        go.set()
        await asyncio.gather(*tasks)
        return aggregate_level(concurrency, results, clock() - t0)

    # ---- the search call per layer ----------------------------------------------------------------

    def _open_sync(self, layer: str, spec: Any) -> tuple[Callable[[int], Any], Callable[[Any], list[str]], Any]:
        search, ids, store = self._open_sync_ef(layer, spec)
        return (lambda i: search(i, DEFAULT_EF)), ids, store

    def _open_sync_ef(self, layer: str, spec: Any) -> tuple[Callable[[int, int], Any], Callable[[Any], list[str]], Any]:
        """A sync ``search(i, ef)`` of query ``i`` through ``layer``, its id reader and the store
        to close (``None`` for raw). ``ef`` goes with every call, in each layer's own way."""
        data, k = self.data, self.k
        if layer == "langchain":
            store = chunk_store.vector_store(self.hook, spec, data.embeddings)
            return (lambda i, ef: store.similarity_search(data.query(i), k=k, param=search_params(ef))), _doc_ids, store
        if layer == "llamaindex":
            store = llama.sync_store(self.hook, spec)
            return (
                (lambda i, ef: store.query(self._vector_query(i), milvus_search_config=search_params(ef))),
                _node_ids,
                store,
            )
        client = self.hook.get_conn()
        kwargs = self._search_kwargs()
        return (
            (
                lambda i, ef: client.search(
                    spec.name, data=[data.query_vector(i)], **(kwargs | {"search_params": search_params(ef)})
                )
            ),
            _hit_ids,
            None,
        )

    @staticmethod
    def _close_sync(layer: str, opened: tuple) -> None:
        store = opened[2]
        if store is not None:
            store.client.close()

    def _open_async(self, layer: str, spec: Any):
        data, k, hook = self.data, self.k, self.hook
        from contextlib import asynccontextmanager

        @asynccontextmanager
        async def opened():
            if layer == "langchain":
                async with chunk_store.open_store(hook, spec, data.embeddings) as store:

                    async def call(i):
                        return await store.asimilarity_search(data.query(i), k=k, param=search_params(DEFAULT_EF))

                    yield call, _doc_ids
            elif layer == "llamaindex":
                async with llama.open_store(hook, spec) as store:

                    async def call(i):
                        return await store.aquery(self._vector_query(i))

                    yield call, _node_ids
            else:
                async with hook.async_client() as client:
                    kwargs = self._search_kwargs()

                    async def call(i):
                        return await client.search(spec.name, data=[data.query_vector(i)], **kwargs)

                    yield call, _hit_ids

        return opened()

    # ---- 4. dense vs BM25 vs hybrid ------------------------------------------------------------

    def measure_hybrid(self) -> dict[str, Any]:
        caps = server_capabilities(self.hook)
        info: dict[str, Any] = {"capabilities": caps.to_dict() if caps is not None else None}
        if caps is None:
            return info | {
                "measured": False,
                "reason": "the hook cannot tell what the server supports (no capabilities())",
            }
        if not (caps.bm25 and caps.hybrid_search):
            return info | {
                "measured": False,
                "reason": f"Milvus server {caps.version} has no BM25 full-text search "
                "(needs Milvus 2.5+ or Milvus Lite 3.x)",
            }
        name = self._hybrid_collection()
        client = self.hook.get_conn()
        calls = self._hybrid_calls(client, name)
        kinds: dict[str, Any] = {}
        top = max(self.params.sweep_concurrency)
        for kind in KINDS:
            search, ids = calls[kind]
            serial = self._serial(search, ids) if kind == "dense" else self._serial_unscored(search, ids)
            level = self._sweep_sync(search, ids, top) if "sync" in self.params.modes else None
            kinds[kind] = {"serial": serial, "sync": level}
        if "async" in self.params.modes:
            levels = asyncio.run(self._hybrid_async(name, top))
            for kind in KINDS:
                kinds[kind]["async"] = levels[kind]
        log.info(
            "Dense / BM25 / hybrid serial p50: %s ms",
            " / ".join(f"{kinds[k]['serial']['serial_latency_p50']:.2f}" for k in KINDS),
        )
        return info | {
            "measured": True,
            "collection_rows": self.data.rows,
            "rrf_k": RRF_K,
            "sweep_concurrency": top,
            "kinds": kinds,
        }

    def _serial_unscored(self, search: Callable[[int], Any], ids: Callable[[Any], list[str]]) -> dict[str, Any]:
        """Keyword and hybrid searches have no exact answer to compute here. Random case:
        where the query's own document ("test document i" -> row s{i}) lands: first (BM25
        should put it there), or anywhere in the top k (hybrid: RRF also ranks the dense
        winner, which for these synthetic vectors is an unrelated row). Real text: how many of
        the exact dense top k they share (agreement, not quality: no relevance judgements)."""
        search(0)
        n = len(self.data.queries)
        latencies, first, anywhere, shared = [], 0, 0, []
        clock = time.perf_counter
        for i in range(n):
            t0 = clock()
            got = ids(search(i))
            latencies.append(clock() - t0)
            if len(got) != self.k:
                raise VerificationError(f"keyword/hybrid search {i} returned {len(got)} hits, expected {self.k}")
            if self.data.kind == "random":
                own = f"s{i % QUERIES}"
                first += got[0] == own
                anywhere += own in got
            else:
                shared.append((got, self.data.truth(i)))
        if self.data.kind == "random":
            return serial_summary(latencies, [], []) | {
                "own_document_first": round(first / n, 4),
                "own_document_in_top_k": round(anywhere / n, 4),
            }
        return serial_summary(latencies, [], []) | {"dense_top_k_shared": round(ann_scores(shared, self.k).recall, 4)}

    def _hybrid_collection(self) -> str:
        from pymilvus import DataType, Function, FunctionType

        name = self.new_name()
        spec = self._spec(name)
        client = self.hook.get_conn()
        schema = client.create_schema(auto_id=False, enable_dynamic_field=True, description=spec.description)
        schema.add_field("pk", DataType.VARCHAR, is_primary=True, max_length=spec.max_id_length)
        schema.add_field("text", DataType.VARCHAR, max_length=spec.max_text_length, enable_analyzer=True)
        schema.add_field("source", DataType.VARCHAR, max_length=spec.max_source_length)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=spec.dim)
        schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
        schema.add_function(
            Function(
                name="text_bm25",
                function_type=FunctionType.BM25,
                input_field_names=["text"],
                output_field_names=["sparse"],
            )
        )
        index = client.prepare_index_params()
        index.add_index("vector", index_type=spec.index_type, metric_type=spec.metric_type, params=spec.index_params)
        index.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25")
        client.create_collection(name, schema=schema, index_params=index, consistency_level=self.level)
        rows = self.data.all_rows()
        for i in range(0, len(rows), INSERT_BATCH):
            client.insert(name, rows[i : i + INSERT_BATCH])
        counted = self.hook.count(name)
        if counted != len(rows):
            raise VerificationError(f"{name}: wrote {len(rows)} rows but counted {counted}")
        client.flush(name)  # sealed and indexed like the other search-metric collections
        for field in ("vector", "sparse"):
            self._wait_indexed(client, name, field, len(rows))
        return name

    def _hybrid_requests(self, i: int) -> list[Any]:
        from pymilvus import AnnSearchRequest

        q = self.data.query(i)
        return [
            AnnSearchRequest([self.data.query_vector(i)], "vector", search_params(DEFAULT_EF), limit=self.k),
            AnnSearchRequest([q], "sparse", {"metric_type": "BM25"}, limit=self.k),
        ]

    def _hybrid_calls(
        self, client: Any, name: str
    ) -> dict[str, tuple[Callable[[int], Any], Callable[[Any], list[str]]]]:
        from pymilvus import RRFRanker

        data, k = self.data, self.k
        dense = self._search_kwargs()
        return {
            "dense": (lambda i: client.search(name, data=[data.query_vector(i)], **dense), _hit_ids),
            "bm25": (
                lambda i: client.search(
                    name,
                    data=[data.query(i)],
                    anns_field="sparse",
                    limit=k,
                    search_params={"metric_type": "BM25"},
                    output_fields=["pk"],
                ),
                _hit_ids,
            ),
            "hybrid": (
                lambda i: client.hybrid_search(
                    name, self._hybrid_requests(i), RRFRanker(RRF_K), limit=k, output_fields=["pk"]
                ),
                _hit_ids,
            ),
        }

    async def _hybrid_async(self, name: str, concurrency: int) -> dict[str, dict[str, Any]]:
        from pymilvus import RRFRanker

        data, k = self.data, self.k
        dense = self._search_kwargs()
        async with self.hook.async_client() as client:
            calls = {
                "dense": lambda i: client.search(name, data=[data.query_vector(i)], **dense),
                "bm25": lambda i: client.search(
                    name,
                    data=[data.query(i)],
                    anns_field="sparse",
                    limit=k,
                    search_params={"metric_type": "BM25"},
                    output_fields=["pk"],
                ),
                "hybrid": lambda i: client.hybrid_search(
                    name, self._hybrid_requests(i), RRFRanker(RRF_K), limit=k, output_fields=["pk"]
                ),
            }
            out = {}
            for kind, call in calls.items():
                await call(0)
                out[kind] = await self._sweep_async(call, _hit_ids, concurrency)
            return out

    # ---- helpers -------------------------------------------------------------------------------

    def _spec(self, name: str):
        return chunk_store.CollectionSpec(
            name=name,
            dim=self.data.dim,
            consistency_level=self.level,
            description="milvus_benchmark search metrics (dropped after the run)",
        )

    def _search_kwargs(self) -> dict[str, Any]:
        return {
            "limit": self.k,
            "anns_field": "vector",
            "search_params": search_params(DEFAULT_EF),
            "output_fields": ["pk"],
        }

    def _vector_query(self, i: int):
        from llama_index.core.vector_stores import VectorStoreQuery

        return VectorStoreQuery(query_embedding=self.data.query_vector(i), similarity_top_k=self.k)

    # ---- 5. recall vs QPS over ef ------------------------------------------------------------------

    def measure_ef(self, layer: str, name: str) -> list[dict[str, Any]]:
        """One point per ``ef`` (every ef checked against ``top_k`` before the first call)."""
        for ef in self.params.ef_values:
            check_ef(ef, self.k)
        search, ids, store = self._open_sync_ef(layer, self._spec(name))
        try:
            points = [
                measure_point(search, ids, self.data.truth, len(self.data.queries), self.k, ef, self.params.ef_seconds)
                for ef in self.params.ef_values
            ]
        finally:
            self._close_sync(layer, (search, ids, store))
        log.info(
            "ef curve %-10s %s",
            layer,
            ", ".join(f"ef {p['ef']}: recall {p['recall']:.3f} at {p['qps']:.0f} qps" for p in points),
        )
        return points

    def _ef_note(self) -> str | None:
        caps = server_capabilities(self.hook)
        version = str(getattr(caps, "version", "") or "")
        if version.startswith("v2.3") and self.data.rows < MIN_INDEXED_ROWS_2_3:
            return (
                f"Milvus {version} builds no HNSW index for a segment under {MIN_INDEXED_ROWS_2_3} rows "
                f"(indexCoord.minSegmentNumRowsToEnableIndex): these {self.data.rows} rows are served by the "
                "interim IVF index, so ef changes nothing here"
            )
        return None


def _hit_ids(result: Any) -> list[str]:
    return [hit["entity"]["pk"] for hit in (result[0] if result else [])]


def _doc_ids(result: Any) -> list[str]:
    return [doc.metadata.get("pk") for doc in result]


def _node_ids(result: Any) -> list[str]:
    return list(result.ids or [])
