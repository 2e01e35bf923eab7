"""Example DAG of the Milvus provider: create a collection, ingest vectors and texts, search,
point an alias, use the hook in a task, drop the collection.

A system test: tests/provider/system/test_example_dags.py runs it with `airflow dags test`
against a real Milvus and checks every task's XCom. The provider's README quotes the parts
between the [START ...] and [END ...] markers (a unit test keeps them identical).
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import DAG, Param, task
from langchain_core.embeddings import DeterministicFakeEmbedding

from milvus_provider.hooks.milvus import MilvusHook
from milvus_provider.operators.milvus import (
    MilvusAliasOperator,
    MilvusCreateCollectionOperator,
    MilvusDropCollectionOperator,
    MilvusIngestOperator,
    MilvusSearchOperator,
)

with DAG(
    dag_id="example_milvus",
    schedule=None,
    start_date=datetime(2025, 1, 1),
    catchup=False,
    tags=["example", "milvus"],
    params={"collection": Param("example_milvus", type="string")},
) as dag:
    # [START howto_operator_milvus_create_collection]
    create_collection = MilvusCreateCollectionOperator(
        task_id="create_collection",
        collection_name="{{ params.collection }}",
        dimension=4,
        primary_field_type="VARCHAR",
        metric_type="COSINE",
        index_type="HNSW",
        index_params={"M": 16, "efConstruction": 64},
        description="Example collection of the Milvus provider",
    )
    # [END howto_operator_milvus_create_collection]

    # [START howto_operator_milvus_ingest]
    ingest = MilvusIngestOperator(
        task_id="ingest",
        collection_name="{{ params.collection }}",
        data=[
            {"id": "north", "vector": [1.0, 0.0, 0.0, 0.0], "text": "points north", "kind": "compass"},
            {"id": "east", "vector": [0.0, 1.0, 0.0, 0.0], "text": "points east", "kind": "compass"},
            {"id": "up", "vector": [0.0, 0.0, 1.0, 0.0], "text": "points up", "kind": "lift"},
        ],
        dimension=4,  # creates the collection if it is missing
        batch_size=2,
        max_concurrency=2,
    )
    # [END howto_operator_milvus_ingest]

    # [START howto_operator_milvus_ingest_texts]
    ingest_texts = MilvusIngestOperator(
        task_id="ingest_texts",
        collection_name="{{ params.collection }}",
        data=[
            {"id": "faq-1", "text": "How do I reset the charging dock?", "kind": "faq"},
            {"id": "faq-2", "text": "Which tyres fit the winter kit?", "kind": "faq"},
        ],
        embedding=DeterministicFakeEmbedding(size=4),  # any LangChain Embeddings
    )
    # [END howto_operator_milvus_ingest_texts]

    # [START howto_operator_milvus_search]
    search = MilvusSearchOperator(
        task_id="search",
        collection_name="{{ params.collection }}",
        data=[[0.9, 0.1, 0.0, 0.0], [0.0, 0.2, 0.9, 0.0]],
        limit=2,
        filter='kind != "faq"',
        output_fields=["text", "kind"],
    )
    # [END howto_operator_milvus_search]

    # [START howto_operator_milvus_search_texts]
    search_texts = MilvusSearchOperator(
        task_id="search_texts",
        collection_name="{{ params.collection }}",
        data=["Which tyres fit the winter kit?"],
        embedding=DeterministicFakeEmbedding(size=4),
        limit=1,
        output_fields=["text"],
    )
    # [END howto_operator_milvus_search_texts]

    # [START howto_operator_milvus_alias]
    point_alias = MilvusAliasOperator(
        task_id="point_alias",
        alias="{{ params.collection }}_live",
        collection_name="{{ params.collection }}",
    )
    # [END howto_operator_milvus_alias]

    search_alias = MilvusSearchOperator(
        task_id="search_alias",
        collection_name="{{ params.collection }}_live",
        data=[[0.0, 0.0, 1.0, 0.0]],
        limit=1,
        filter='kind == "lift"',
    )

    # [START howto_hook_milvus_search]
    @task
    def nearest_with_hook(collection: str) -> dict:
        hook = MilvusHook()  # connection milvus_default
        hits = hook.search(collection, data=[[0.1, 0.9, 0.0, 0.0]], limit=1, consistency_level="Strong")
        return {"rows": hook.count(collection), "nearest": hits[0][0]["id"]}

    # [END howto_hook_milvus_search]

    with_hook = nearest_with_hook("{{ params.collection }}")

    # [START howto_operator_milvus_drop_collection]
    drop_collection = MilvusDropCollectionOperator(
        task_id="drop_collection",
        collection_name="{{ params.collection }}",
        drop_aliases=True,
    )
    # [END howto_operator_milvus_drop_collection]

    create_collection >> [ingest, ingest_texts]
    [ingest, ingest_texts] >> search >> search_texts >> point_alias >> search_alias >> with_hook
    with_hook >> drop_collection.as_teardown(setups=create_collection)
