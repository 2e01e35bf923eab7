"""What the measured approaches share, taken from the toolkit instead of copied: the
``milvus_ingest`` DAG's params (``IngestParams``, its defaults), its collection spec and
embedding (``pipeline.collection_spec`` / ``embedding_for``), and its read -> split ->
stamp of chunks (``documents``, ``splitting``, ``sync.stamp``), streamed instead of staged.
Plus the row langchain-milvus writes, for the plain pymilvus ceiling."""

from __future__ import annotations

import time
from collections.abc import Iterator

from milvus_toolkit.ingest import pipeline
from milvus_toolkit.ingest.params import IngestParams
from milvus_toolkit.ingest.splitting import SplitSettings


def ingest_params(
    source: str, collection: str, dim: int | None = None, embedding: str = "deterministic", **more
) -> IngestParams:
    """The DAG's params for a run on ``source`` into ``collection`` (defaults for the rest),
    with ``deterministic`` embeddings of ``dim`` dimensions (or ``embedding="local"``)."""
    return IngestParams(
        source=source,
        collection=collection,
        embedding=embedding,
        embedding_dim=dim if embedding == "deterministic" else None,
        **more,
    )


def split_settings(params: IngestParams | None = None) -> SplitSettings:
    """The splitter settings of ``params`` (default: the DAG's defaults)."""
    params = params or ingest_params(".", "bench")
    return SplitSettings(params.splitter, params.chunk_size, params.chunk_overlap)


def iter_chunks(params: IngestParams, limit: int | None = None) -> Iterator:
    """The chunks ``split_corpus`` stages for ``params``, with the same toolkit functions:
    the listing, the loader (with the file-size limit), the splitter, and the bookkeeping
    fields (``meta_hash``, ``run_stamp``) every staged chunk carries."""
    from milvus_toolkit.ingest.documents import BadFile, discover, load
    from milvus_toolkit.ingest.splitting import split_document
    from milvus_toolkit.sync import stamp

    settings = split_settings(params)
    run_stamp = time.time()
    produced = 0
    for doc in load(discover(params.source), max_file_bytes=params.max_file_mb * 1024 * 1024):
        if isinstance(doc, BadFile):
            raise RuntimeError(f"generated corpus has a bad file: {doc}")
        for chunk in split_document(doc, settings):
            yield stamp(chunk, run_stamp)
            produced += 1
            if limit is not None and produced >= limit:
                return


def collection_spec(params: IngestParams):
    """The DAG's own spec: same schema, index and consistency level."""
    return pipeline.collection_spec(params, pipeline.embedding_for(params).dim)


def embeddings(params: IngestParams):
    """The DAG's embedding for ``params`` (``DeterministicFakeEmbedding`` of ``embedding_dim``)."""
    return pipeline.embedding_for(params).embeddings


def row_of(chunk, vector, spec) -> dict:
    """The row langchain-milvus writes (``Milvus._prepare_insert_list``): pk, text, vector and
    every metadata key flat (``source`` is a real field, the others go to the dynamic field)."""
    return {
        spec.primary_field: chunk.id,
        spec.text_field: chunk.page_content,
        spec.vector_field: vector,
        **chunk.metadata,
    }


def warm_up(client, spec) -> None:
    """The first insert into a fresh collection is slow (segment allocation); not timed."""
    row = {
        spec.primary_field: "bench-warmup",
        spec.text_field: "warm up",
        spec.vector_field: [0.1] * spec.dim,
        spec.source_field: "bench-warmup",
    }
    client.insert(spec.name, [row])
    client.delete(spec.name, ids=["bench-warmup"])


def drop(hook, name: str, keep: bool) -> None:
    """Drop a benchmark collection as soon as it is measured: its background index build must
    not steal CPU from the next measurement."""
    if not keep and hook.has_collection(name):
        hook.drop_collection(name)
