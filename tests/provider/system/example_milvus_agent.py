"""Example DAG: answer questions from Milvus with apache-airflow-providers-common-ai 1.0.0.

common-ai's ``LlamaIndexEmbeddingOperator`` splits and embeds the documents;
``MilvusIngestOperator`` writes its output (``{document_count, chunk_count, chunks: [{text,
metadata, vector}]}``) as it is; an ``AgentOperator`` answers the question with one tool,
``MilvusHook.search_text`` exposed through common-ai's ``HookToolset`` (collection, embedding
and output fields pinned: the model only chooses the query).

Offline on purpose: the embedding is a word-hashing one defined here (no model to download) and
the test runs the agent on pydantic-ai's ``TestModel`` (connection ``pydanticai_default`` with
extra ``{"model": "test"}``). For real answers, point ``pydanticai_default`` at a real model
(e.g. ``{"model": "openai:gpt-5"}`` and a key) and use a real embedding model in both places.

A system test: tests/provider/system/test_example_dags.py runs it with `airflow dags test`
against a real Milvus and checks every task's XCom.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime

from airflow.providers.common.ai.operators.agent import AgentOperator
from airflow.providers.common.ai.operators.llamaindex_embedding import LlamaIndexEmbeddingOperator
from airflow.providers.common.ai.toolsets import HookToolset
from airflow.sdk import DAG, Param
from llama_index.core.embeddings import BaseEmbedding

from milvus_provider.hooks.milvus import MilvusHook
from milvus_provider.operators.milvus import MilvusDropCollectionOperator, MilvusIngestOperator

COLLECTION = "example_milvus_agent"
DIM = 64
DOCUMENTS = [
    {"text": "The charging dock blinks red when the battery is full.", "metadata": {"file": "dock.md"}},
    {
        "text": "Winter tyres fit the all-terrain kit; fit them before the first frost.",
        "metadata": {"file": "tyres.md"},
    },
    {"text": "The greenhouse pump runs every morning at six.", "metadata": {"file": "pump.md"}},
]


def hashed_words(text: str) -> list[float]:
    """A bag of words hashed into ``DIM`` slots (slot 0 is a constant, so no vector is zero):
    texts that share words are near each other. A stand-in for an embedding model."""
    vector = [0.0] * DIM
    vector[0] = 1.0
    for word in re.findall(r"[a-z0-9]+", text.lower()):
        vector[1 + int(hashlib.sha256(word.encode()).hexdigest(), 16) % (DIM - 1)] += 1.0
    return vector


def embed_texts(texts: list[str]) -> list[list[float]]:
    """The same embedding for the agent's queries (``MilvusHook.search_text`` takes a callable)."""
    return [hashed_words(text) for text in texts]


class WordHashEmbedding(BaseEmbedding):
    """:func:`hashed_words` as a LlamaIndex embedding, for ``LlamaIndexEmbeddingOperator``."""

    def _get_text_embedding(self, text: str) -> list[float]:
        return hashed_words(text)

    def _get_query_embedding(self, query: str) -> list[float]:
        return hashed_words(query)

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return hashed_words(query)


class EmbeddingOperator(LlamaIndexEmbeddingOperator):
    """common-ai 1.0.0's operator with ``embed_model`` taken as it is, not as a template:
    Airflow 3.3's templater calls any callable template value (``value(context=...,
    jinja_env=...)``), and a LlamaIndex ``BaseEmbedding`` is callable, so a pre-built model in
    the templated field fails with "missing a required argument: 'nodes'" before the task runs."""

    template_fields = tuple(f for f in LlamaIndexEmbeddingOperator.template_fields if f != "embed_model")


with DAG(
    dag_id="example_milvus_agent",
    schedule=None,
    start_date=datetime(2025, 1, 1),
    catchup=False,
    tags=["example", "milvus", "common-ai"],
    params={"question": Param("Which tyres fit the kit?", type="string")},
) as dag:
    # [START howto_common_ai_embedding_into_milvus]
    embed = EmbeddingOperator(
        task_id="embed",
        documents=DOCUMENTS,
        embed_model=WordHashEmbedding(embed_dim=DIM),
        chunk_size=128,
        chunk_overlap=0,
    )
    ingest = MilvusIngestOperator(
        task_id="ingest",
        collection_name=COLLECTION,
        data=embed.output,  # {document_count, chunk_count, chunks: [{text, metadata, vector}]}
        dimension=DIM,  # creates the collection if it is missing
    )
    # [END howto_common_ai_embedding_into_milvus]

    # [START howto_common_ai_agent_milvus_toolset]
    answer = AgentOperator(
        task_id="answer",
        prompt="{{ params.question }}",
        llm_conn_id="pydanticai_default",
        system_prompt="Answer from the Milvus search results only, and name the file of each fact.",
        toolsets=[
            HookToolset(
                MilvusHook(),  # connection milvus_default
                allowed_methods=["search_text"],
                pinned_arguments={
                    "collection_name": COLLECTION,
                    "embedding": embed_texts,
                    "output_fields": ["text", "file"],
                    "consistency_level": "Strong",
                },
                tool_prefix="milvus",
            )
        ],
    )
    # [END howto_common_ai_agent_milvus_toolset]

    drop = MilvusDropCollectionOperator(task_id="drop_collection", collection_name=COLLECTION)

    embed >> ingest >> answer >> drop
