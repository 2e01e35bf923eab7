"""The params forms of the toolkit's DAGs (titles, descriptions, bounds), one home for each.
Airflow is imported lazily: the package stays importable without it."""

from __future__ import annotations


def source_and_split_params(
    collection_description: str = "Milvus collection to write to (created if missing).",
) -> dict:
    """The params form fields that ingest and reindex share (titles, descriptions, bounds).
    Source and collection have no default: a run acts only on what it is given."""
    import os

    from airflow.sdk import Param

    from milvus_toolkit.dag_defaults import MILVUS_CONN_ID
    from milvus_toolkit.ingest import params as p
    from milvus_toolkit.rules import COLLECTION_NAME_PATTERN, MAX_VECTOR_DIM, TENANT_PATTERN

    return {
        "source": Param(
            None,
            type=["null", "string"],
            minLength=1,
            title="Source",
            description="Required. Folder, single file or glob (e.g. /data/docs/**/*.md); also any object-storage URL (s3://bucket/docs).",
        ),
        "collection": Param(
            None,
            type=["null", "string"],
            pattern=COLLECTION_NAME_PATTERN,
            title="Collection",
            description="Required. " + collection_description,
        ),
        "source_root": Param(
            None,
            type=["null", "string"],
            title="Source root",
            description="Stable root that source names are relative to (default: the root recorded on the collection, else the source folder). Ingesting a sub-folder keeps names like guide/intro.md.",
        ),
        "source_conn_id": Param(
            None,
            type=["null", "string"],
            minLength=1,
            title="Source connection",
            description="Airflow connection whose credentials read an object-storage source (default: aws_default for "
            "s3://; for gs:// and az:// the provider's default). See docs/object-storage.md.",
        ),
        "splitter": Param(
            "auto",
            enum=list(p.SPLITTERS),
            title="Splitter",
            description="auto picks by file type (Markdown/HTML headers, code by language, recursive otherwise).",
        ),
        "chunk_size": Param(
            p.DEFAULT_CHUNK_SIZE,
            type="integer",
            minimum=50,
            maximum=8000,
            title="Chunk size",
            description="Characters per chunk (tokens for the token splitter).",
        ),
        "chunk_overlap": Param(
            p.DEFAULT_CHUNK_OVERLAP,
            type="integer",
            minimum=0,
            maximum=4000,
            title="Chunk overlap",
            description="Characters shared by neighbouring chunks; must be below the chunk size.",
        ),
        "embedding": Param(
            os.environ.get("MILVUS_TOOLKIT_EMBEDDING", "local"),
            enum=["local", "openai", "deterministic"],
            title="Embedding",
            description="local: all-MiniLM-L6-v2 (384 dims, offline). openai: OpenAI API (connection openai_default). deterministic: no model.",
        ),
        "embedding_dim": Param(
            None,
            type=["null", "integer"],
            minimum=1,
            maximum=MAX_VECTOR_DIM,
            title="Embedding dimension",
            description="Only for deterministic (default 384) or OpenAI text-embedding-3 (shortened vectors).",
        ),
        "milvus_conn_id": Param(
            MILVUS_CONN_ID, type="string", title="Milvus connection", description="Airflow connection of type Milvus."
        ),
        "hybrid": Param(
            False,
            type="boolean",
            title="Hybrid (BM25 + dense)",
            description="Milvus 2.5+: the collection also gets a BM25 keyword index of the text, for keyword and hybrid search. Must match how an existing collection was made.",
        ),
        "tenant": Param(
            None,
            type=["null", "string"],
            pattern=TENANT_PATTERN,
            title="Tenant",
            description="Milvus 2.2+: write into this tenant of a collection partitioned by tenant; counts, validation and deletes touch only this tenant's rows.",
        ),
        **safety_params(),
    }


def safety_params(max_delete_percent: float | None = None) -> dict:
    from airflow.sdk import Param

    from milvus_toolkit.ingest import params as p

    return {
        "on_bad_file": Param(
            "skip",
            enum=["skip", "fail"],
            title="On a bad file",
            description="skip: list unreadable, empty, binary or undecodable files, keep their rows, go on. fail: stop before writing anything.",
        ),
        "max_file_mb": Param(
            p.DEFAULT_MAX_FILE_MB,
            type="integer",
            minimum=1,
            maximum=100000,
            title="Largest file (MB)",
            description="Bigger files are skipped (and keep their rows).",
        ),
        "max_delete_percent": Param(
            max_delete_percent if max_delete_percent is not None else p.DEFAULT_MAX_DELETE_PERCENT,
            type="number",
            minimum=0,
            maximum=100,
            title="Deletion budget (%)",
            description="A run that would delete more than this share of the collection stops before writing anything.",
        ),
    }


def ingest_form() -> dict:
    from airflow.sdk import Param

    from milvus_toolkit.ingest import params as p

    return {
        **source_and_split_params(),
        "mode": Param(
            "upsert",
            enum=list(p.MODES),
            title="Write mode",
            description="upsert: embed and rewrite every chunk. add: embed only chunks not yet in the collection (others get fresh metadata).",
        ),
        "batch_size": Param(
            p.DEFAULT_BATCH_SIZE,
            type="integer",
            minimum=1,
            maximum=100000,
            title="Batch size",
            description="Chunks per mapped write task.",
        ),
        "concurrency": Param(
            p.DEFAULT_CONCURRENCY,
            type="integer",
            minimum=1,
            maximum=256,
            title="Concurrency",
            description="Async write calls in flight per task.",
        ),
        **quality_params(),
    }


def reindex_form() -> dict:
    return {
        **source_and_split_params("The serving name: an alias (created on the first full run) or a plain collection."),
        **operational_params(),
        **quality_params(),
    }


def declared_reindex_form(index) -> dict:
    """A declared index's form: only what a run may choose (its identity is fixed)."""
    safety = safety_params(index.max_delete_percent)
    return {
        **operational_params(index.keep_builds),
        "max_delete_percent": safety["max_delete_percent"],
        **quality_params(index),
    }


def evaluate_form(index=None) -> dict:
    """``milvus_evaluate``'s form; a declared index's shows only the connection (the rest is its declaration)."""
    import os

    from airflow.sdk import Param

    from milvus_toolkit.dag_defaults import MILVUS_CONN_ID
    from milvus_toolkit.rules import COLLECTION_NAME_PATTERN, MAX_VECTOR_DIM, TENANT_PATTERN

    connection = {
        "milvus_conn_id": Param(
            MILVUS_CONN_ID, type="string", title="Milvus connection", description="Airflow connection of type Milvus."
        )
    }
    if index is not None:
        return connection
    quality = quality_params()
    return {
        "collection": Param(
            None,
            type=["null", "string"],
            pattern=COLLECTION_NAME_PATTERN,
            title="Collection",
            description="Required. The serving name (alias or collection) to evaluate.",
        ),
        "evaluation": Param(
            None,
            type=["null", "string"],
            title="Evaluation set",
            description="Required. " + quality["evaluation"].description,
        ),
        "evaluation_k": quality["evaluation_k"],
        "embedding": Param(
            os.environ.get("MILVUS_TOOLKIT_EMBEDDING", "local"),
            enum=["local", "openai", "deterministic"],
            title="Embedding",
            description="The model the collection's vectors were made with (checked against the collection).",
        ),
        "embedding_dim": Param(
            None,
            type=["null", "integer"],
            minimum=1,
            maximum=MAX_VECTOR_DIM,
            title="Embedding dimension",
            description="Only for deterministic (default 384) or OpenAI text-embedding-3 (shortened vectors).",
        ),
        "tenant": Param(
            None,
            type=["null", "string"],
            pattern=TENANT_PATTERN,
            title="Tenant",
            description="Evaluate only this tenant's rows of a collection partitioned by tenant.",
        ),
        **connection,
    }


def quality_params(index=None) -> dict:
    """Retrieval quality (docs/quality.md): the evaluation set validation scores, and the swap's gate.
    ``index``: a declared index, whose declaration gives the defaults."""
    from airflow.sdk import Param

    from milvus_toolkit.ingest import params as p

    return {
        "evaluation": Param(
            getattr(index, "evaluation", None),
            type=["null", "string"],
            title="Evaluation set",
            description="JSONL of queries and what a good answer contains (expected_sources / expected_text), a "
            "path or object-storage URL. Validation scores hit rate, MRR and nDCG at k and records them on the "
            "collection; a full rebuild swaps only within the quality gate.",
        ),
        "evaluation_k": Param(
            getattr(index, "evaluation_k", p.DEFAULT_EVALUATION_K),
            type="integer",
            minimum=1,
            maximum=100,
            title="Evaluation k",
            description="Results per query that are scored (builds compare only on the same set and k).",
        ),
        "min_quality": Param(
            getattr(index, "min_quality", None),
            type=["null", "number"],
            minimum=0,
            maximum=1,
            title="Minimum quality (nDCG@k)",
            description="A full rebuild scoring below this is not served; an incremental run below it fails.",
        ),
        "max_quality_drop": Param(
            getattr(index, "max_quality_drop", p.DEFAULT_MAX_QUALITY_DROP),
            type="number",
            minimum=0,
            maximum=1,
            title="Largest quality drop (nDCG@k)",
            description="A full rebuild may score at most this much below the serving collection; an incremental "
            "run at most this much below the last validated scores.",
        ),
        "force_swap": Param(
            False,
            type="boolean",
            title="Force swap (override the quality gate)",
            description="Serve the build (or accept the scores) even when the quality gate refuses; the report "
            "says so.",
        ),
    }


def operational_params(keep_builds: int = 1) -> dict:
    from airflow.sdk import Param

    from milvus_toolkit.ingest import params as p
    from milvus_toolkit.rules import COLLECTION_NAME_PATTERN

    return {
        "strategy": Param(
            "incremental",
            enum=["incremental", "full", "rollback"],
            title="Strategy",
            description="incremental: write only what changed, delete what is gone. full: rebuild into a new collection, swap the alias after validation. rollback: point the alias back at the collection it left.",
        ),
        "force_reembed": Param(
            False,
            type="boolean",
            title="Force re-embedding",
            description="Re-embed and rewrite every chunk (after changing the embedding model).",
        ),
        "build_collection": Param(
            None,
            type=["null", "string"],
            pattern=COLLECTION_NAME_PATTERN,
            title="Build collection (full)",
            description="Name of the new collection of a full rebuild (must not exist); default <collection>__<timestamp>.",
        ),
        "keep_builds": Param(
            keep_builds,
            type="integer",
            minimum=1,
            maximum=20,
            title="Builds kept for rollback",
            description="Earlier builds of this alias kept after a full rebuild (only builds this toolkit marked are ever dropped).",
        ),
        "batch_size": Param(
            p.DEFAULT_BATCH_SIZE,
            type="integer",
            minimum=1,
            maximum=100000,
            title="Batch size",
            description="Chunks per mapped indexing task.",
        ),
    }


def _array(default, items, title, description, **kw):
    from airflow.sdk import Param

    return Param(default, type="array", items=items, minItems=1, title=title, description=description, **kw)


def benchmark_form() -> dict:
    from airflow.sdk import Param

    from milvus_toolkit.benchmark import plan as bp
    from milvus_toolkit.dag_defaults import MILVUS_CONN_ID
    from milvus_toolkit.rules import MAX_VECTOR_DIM

    return {
        "operations": _array(
            list(bp.OPERATIONS),
            {"type": "string", "enum": list(bp.OPERATIONS)},
            "Operations",
            "Which calls to time: add_documents, upsert, similarity_search, delete.",
            uniqueItems=True,
        ),
        "counts": _array(
            bp.DEFAULT_COUNTS,
            {"type": "integer", "minimum": 1, "maximum": bp.MAX_COUNT},
            "Counts",
            "Calls per batch, e.g. [10, 100, 1000] as in the seeds.",
        ),
        "modes": _array(
            list(bp.MODES),
            {"type": "string", "enum": list(bp.MODES)},
            "Modes",
            "sync: a loop of single calls. async: the same calls as coroutines gathered.",
            uniqueItems=True,
        ),
        "concurrency": _array(
            bp.DEFAULT_CONCURRENCY,
            {"anyOf": [{"type": "integer", "minimum": 1}, {"const": "all"}]},
            "Async concurrency levels",
            'Calls in flight at once (asyncio.Semaphore); "all" = unbounded gather, as in the seeds.',
        ),
        "consistency_levels": _array(
            bp.DEFAULT_CONSISTENCY,
            {"type": "string", "enum": ["Strong", "Bounded", "Session", "Eventually"]},
            "Consistency levels",
            "The first is used for writes; searches are measured at each. Strong waits ~200 ms per call.",
            uniqueItems=True,
        ),
        "layers": _array(
            list(bp.LAYERS),
            {"type": "string", "enum": list(bp.LAYERS)},
            "Layers",
            "langchain: langchain-milvus Milvus store. llamaindex: LlamaIndex MilvusVectorStore, as in its "
            "tutorial (TextNodes with precomputed vectors). raw: pymilvus MilvusClient / AsyncMilvusClient (the floor).",
            uniqueItems=True,
        ),
        "delete_filters": _array(
            ["metadata", "pk"],
            {"type": "string", "enum": ["metadata", "pk"]},
            "Delete filters",
            "metadata: delete(expr='doc_id == ...') as in the seeds (Milvus queries first: ~200 ms per call). "
            "pk: delete(expr='pk == ...').",
            uniqueItems=True,
        ),
        "wait_cells_max_count": Param(
            100,
            type=["null", "integer"],
            minimum=1,
            title="Largest count for wait-bound cells",
            description="Strong searches and metadata deletes wait ~200 ms per sequential call; "
            "they are measured only up to this count (null: every count).",
        ),
        "dim": Param(
            bp.DEFAULT_DIM,
            type="integer",
            minimum=1,
            maximum=MAX_VECTOR_DIM,
            title="Vector dimension",
            description="768 as in the seeds. Must fit the embedding (local: 384).",
        ),
        "repeats": Param(
            1,
            type="integer",
            minimum=1,
            maximum=20,
            title="Repeats",
            description="Each cell is measured this many times (fresh collection each); seconds are the median.",
        ),
        "embedding": Param(
            "deterministic",
            enum=["deterministic", "local", "openai"],
            title="Embedding",
            description="deterministic: no model, so Milvus alone is timed. local (all-MiniLM-L6-v2, 384 dims) "
            "or openai: a real model inside the langchain calls; reported separately.",
        ),
        "top_k": Param(
            3,
            type="integer",
            minimum=1,
            maximum=100,
            title="Search top k",
            description="k of every search (3 in the seeds).",
        ),
        "search_rows": Param(
            1000,
            type="integer",
            minimum=1,
            maximum=bp.MAX_COUNT,
            title="Rows searched",
            description="Documents in each search collection (1000 in the seeds).",
        ),
        "sweep_concurrency": Param(
            bp.DEFAULT_SWEEP_CONCURRENCY,
            type="array",
            items={"type": "integer", "minimum": 1, "maximum": bp.MAX_SWEEP_CONCURRENCY},
            minItems=0,
            title="Search sweep: concurrent clients",
            description="VectorDBBench-style time-boxed sweep: at each level, that many clients (threads, "
            "and coroutines) search for 'sweep seconds'; qps, p50/p95/p99, failed rate; also "
            "recall and load time. [] turns these search metrics off.",
        ),
        "sweep_seconds": Param(
            bp.DEFAULT_SWEEP_SECONDS,
            type="number",
            minimum=0.1,
            maximum=600,
            title="Search sweep: seconds per level",
            description="How long each concurrency level of the sweep searches (VectorDBBench: 30 s).",
        ),
        "hybrid_search": Param(
            True,
            type="boolean",
            title="Compare dense, BM25 and hybrid search",
            description="Where the server supports BM25 (Milvus 2.5+, Milvus Lite 3.x): latency and qps of "
            "a dense, a BM25 keyword and a hybrid (RRF) search on one collection.",
        ),
        "search_data": Param(
            "text",
            enum=["text", "random"],
            title="Search metrics: data",
            description="text: real text (the corpus sources below) embedded by the local all-MiniLM-L6-v2, "
            "queries that are not rows, cached vectors. random: the cells' random vectors (a stress case).",
        ),
        "search_corpus": _array(
            list(bp.DEFAULT_SEARCH_CORPUS),
            {"type": "string", "enum": ["sample", "python-reference", "python-docstrings"]},
            "Search metrics: text sources",
            "sample: the sample corpus (32 written questions); python-reference: the Python language reference; "
            "python-docstrings: the standard library's docstrings (held-out sentences as queries).",
            uniqueItems=True,
        ),
        "ef_values": Param(
            bp.DEFAULT_EF_VALUES,
            type="array",
            items={"type": "integer", "minimum": 1, "maximum": 32768},
            minItems=0,
            title="Search metrics: HNSW ef values",
            description="Recall against QPS at each ef (each >= top k: Milvus refuses ef < k). [] turns the curve off.",
        ),
        "ef_seconds": Param(
            bp.DEFAULT_EF_SECONDS,
            type="number",
            minimum=0.01,
            maximum=600,
            title="Search metrics: seconds per ef",
            description="How long one client searches at each ef for its QPS.",
        ),
        "regression_threshold": Param(
            0.2,
            type="number",
            exclusiveMinimum=0,
            maximum=10,
            title="Regression threshold",
            description="Flag a cell slower than the previous run on the same server by more than this fraction.",
        ),
        "milvus_conn_id": Param(
            MILVUS_CONN_ID,
            type="string",
            minLength=1,
            title="Milvus connection",
            description="Airflow connection of type Milvus.",
        ),
    }
