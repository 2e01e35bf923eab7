"""The data a benchmark's cells work on, the same for every layer and mode: the seeds'
documents and queries, their vectors (computed before any clock starts), the rows each
collection is seeded with, and what call ``i`` of a cell writes, searches or deletes
(``i = -1`` is the warm-up call), as langchain ``Document``s, LlamaIndex ``TextNode``s
(precomputed vectors, as in the LlamaIndex tutorial) or raw rows; and the exact top-k of
every query (numpy, for ``recall``)."""

from __future__ import annotations

import random
from typing import Any

from milvus_toolkit.benchmark.plan import BenchmarkParams, Cell

SOURCE = "milvus_benchmark"
UPSERTED_SOURCE = "milvus_benchmark_upserted"


class Workload:
    def __init__(self, params: BenchmarkParams, embeddings: Any) -> None:
        self.params = params
        self.embeddings = embeddings
        self.vectors: dict[str, list[float]] = {}
        self._truth: dict[str, list[str]] = {}
        rnd = random.Random(20250124)
        size = max([params.search_rows, *params.counts]) + 1
        # the seeds' documents: "This is test document {i} with some random content: ..."
        self.texts = [f"This is test document {i} with some random content: {rnd.random()}" for i in range(size)]

    def ensure_vectors(self, operations: set[str], count: int) -> None:
        """Embed every text the next cells need (up to ``count`` calls each), once."""
        texts: list[str] = []
        if "search" in operations:
            texts += self.texts[: self.params.search_rows] + [self.query(i) for i in range(50)]
        texts += self.texts[: count + 1] + [self.upsert_text(i) for i in range(count)] + ["warm-up document"]
        todo = [t for t in dict.fromkeys(texts) if t not in self.vectors]
        if todo:
            for text, vector in zip(todo, self.embeddings.embed_documents(todo), strict=True):
                self.vectors[text] = [float(x) for x in vector]

    def row(self, pk: str, text: str, doc_id: str, source: str = SOURCE) -> dict[str, Any]:
        return {"pk": pk, "text": text, "source": source, "doc_id": doc_id, "vector": self.vectors[text]}

    def seed_rows(self, cell: Cell) -> list[dict[str, Any]]:
        """The rows a cell's fresh collection holds before its calls are timed."""
        if cell.operation == "search":
            return [self.row(f"s{i}", self.texts[i], f"doc_{i}") for i in range(self.params.search_rows)]
        if cell.operation == "delete":
            rows = [self.row(f"d{i}", self.texts[i], f"doc_{i}") for i in range(cell.count)]
            return rows + [self.row("d_warmup", "warm-up document", "warmup")]
        if cell.operation == "upsert":
            rows = [self.row(f"u{i}", self.texts[i], f"doc_{i}") for i in range(cell.count)]
            return rows + [self.row("u_warmup", "warm-up document", "warmup")]
        return []

    @staticmethod
    def query(i: int) -> str:
        return f"test document {i % 50}"  # the seeds' queries

    @staticmethod
    def upsert_text(i: int) -> str:
        return f"Upserted test document {i}"

    def delete_filter(self, cell: Cell, i: int) -> str:
        if cell.variant == "metadata":  # the seeds: expr = f"id == 'doc_{i}'" on a metadata field
            return f'doc_id == "{"warmup" if i < 0 else f"doc_{i}"}"'
        return f'pk == "{"d_warmup" if i < 0 else f"d{i}"}"'

    def document(self, cell: Cell, i: int):
        """The id and langchain ``Document`` that call ``i`` of an add or upsert cell writes."""
        from langchain_core.documents import Document

        if i < 0:
            return "a_warmup" if cell.operation == "add" else "u_warmup", Document(
                page_content="warm-up document", metadata={"source": SOURCE, "doc_id": "warmup"}
            )
        if cell.operation == "add":
            return f"a{i}", Document(page_content=self.texts[i], metadata={"source": SOURCE, "doc_id": f"doc_{i}"})
        return f"u{i}", Document(
            page_content=self.upsert_text(i), metadata={"source": UPSERTED_SOURCE, "doc_id": f"doc_{i}"}
        )

    def raw_row(self, cell: Cell, i: int) -> dict[str, Any]:
        pk, doc = self.document(cell, i)
        return self.row(pk, doc.page_content, doc.metadata["doc_id"], doc.metadata["source"])

    # ---- LlamaIndex: TextNodes with precomputed vectors, as in the tutorial --------------------

    def node(self, cell: Cell, i: int):
        """The ``TextNode`` that call ``i`` of an add or upsert cell writes: the same id, text,
        vector and source as the other layers; its ``ref_doc_id`` (the SOURCE relationship,
        as in the tutorial) is the row's ``doc_id``."""
        pk, doc = self.document(cell, i)
        return self.text_node(self.row(pk, doc.page_content, doc.metadata["doc_id"], doc.metadata["source"]))

    @staticmethod
    def text_node(row: dict[str, Any]):
        from llama_index.core.schema import NodeRelationship, RelatedNodeInfo, TextNode

        return TextNode(
            id_=row["pk"],
            text=row["text"],
            embedding=row["vector"],
            metadata={"source": row["source"]},
            relationships={NodeRelationship.SOURCE: RelatedNodeInfo(node_id=row["doc_id"])},
        )

    def ref_doc_id(self, i: int) -> str:
        """What a LlamaIndex ``delete(ref_doc_id)`` of call ``i`` names (the seeds' doc id)."""
        return "warmup" if i < 0 else f"doc_{i}"

    def delete_pk(self, i: int) -> str:
        return "d_warmup" if i < 0 else f"d{i}"

    def vector_query(self, i: int):
        """LlamaIndex's ``VectorStoreQuery`` of call ``i``: the query's precomputed vector."""
        from llama_index.core.vector_stores import VectorStoreQuery

        return VectorStoreQuery(query_embedding=self.vectors[self.query(max(i, 0))], similarity_top_k=self.params.top_k)

    # ---- exact results, for recall ---------------------------------------------------------

    def search_ids(self) -> list[str]:
        """The primary keys of a search collection's rows (``seed_rows`` of a search cell)."""
        return [f"s{i}" for i in range(self.params.search_rows)]

    def exact_top_k(self, query_text: str) -> list[str]:
        """The true ``top_k`` neighbours of a query among the search rows (cosine, numpy)."""
        from milvus_toolkit.benchmark.recall import exact_top_k

        cached = self._truth.get(query_text)
        if cached is None:
            base = [self.vectors[t] for t in self.texts[: self.params.search_rows]]
            (cached,) = exact_top_k(base, [self.vectors[query_text]], self.params.top_k, ids=self.search_ids())
            self._truth[query_text] = cached
        return cached

    def search_kwargs(self) -> dict[str, Any]:
        return {
            "limit": self.params.top_k,
            "anns_field": "vector",
            "search_params": {"metric_type": "COSINE", "params": {"ef": 64}},
            "output_fields": ["pk"],
        }
