"""Milvus 2.5+ options (issue 13), against the real servers of the test session: hybrid
(BM25 + dense) collections on Milvus Lite 3.2.2, refused before anything is created on the
2.3.5 server; and tenants of one collection (partition key) that never touch each other's
rows. One hybrid ingest runs through real Airflow (``airflow dags test``); the other runs take
the DAGs' steps in this process (``Run`` and ``Reindex`` in conftest.py)."""

from __future__ import annotations

import shutil

import pytest
from langchain_core.embeddings import DeterministicFakeEmbedding

from milvus_provider.hooks.capabilities import UnsupportedFeatureError
from milvus_provider.operators.milvus import MilvusCreateCollectionOperator, MilvusSearchOperator
from milvus_toolkit.chunk_store import CollectionSpec, LayoutMismatchError, ensure_collection
from milvus_toolkit.ingest.documents import discover, load
from milvus_toolkit.ingest.params import parse_params
from milvus_toolkit.ingest.splitting import SplitSettings, split_document
from tests.integration.conftest import Run, ids_in
from tests.integration.test_data_safety import dags_test
from tests.integration.test_reindex import reindexed

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("private_staging")]


def split_chunks(folder, tenant=None):
    settings = SplitSettings("auto", 1000, 150, tenant=tenant)
    return [chunk for doc in load(discover(str(folder))) for chunk in split_document(doc, settings)]


def per_source(hook, collection, tenant):
    rows = [r for b in hook.iter_rows(collection, ["pk", "source"], filter=f'tenant == "{tenant}"') for r in b]
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["source"]] = counts.get(row["source"], 0) + 1
    return counts


# ---- hybrid -------------------------------------------------------------------------------------


@pytest.mark.airflow
def test_hybrid_ingest_on_milvus_lite_builds_bm25_and_a_hybrid_search_finds_the_chunk(
    airflow_env, lite_hook, collection_name, corpus
):
    conf = {
        "source": str(corpus),
        "collection": collection_name,
        "embedding": "deterministic",
        "hybrid": True,
        "milvus_conn_id": "milvus_lite",
    }
    result = dags_test(airflow_env, "milvus_ingest", conf)
    assert result.returncode == 0, result.output[-4000:]
    assert "keyword_search: chunk found in top 3 (BM25)" in result.output

    functions = lite_hook.describe_collection(collection_name)["functions"]
    assert [(f["input_field_names"], f["output_field_names"]) for f in functions] == [(["text"], ["sparse"])]
    assert str(getattr(functions[0]["type"], "name", functions[0]["type"])) == "BM25"
    chunks = split_chunks(corpus)
    assert ids_in(lite_hook, collection_name) == sorted(c.id for c in chunks)

    # The operator a user puts in their own DAG: dense (the same deterministic embedding) and
    # BM25 keywords ranked together; a chunk's own words find it first.
    target = max(chunks, key=lambda c: len(set(c.page_content.split())))
    search = MilvusSearchOperator(
        task_id="hybrid",
        collection_name=collection_name,
        data=[target.page_content],
        hybrid=True,
        embedding=DeterministicFakeEmbedding(size=384),
        limit=3,
        output_fields=["pk"],
        milvus_conn_id="milvus_lite",
    )
    hits = search.execute(context={})
    assert hits[0][0]["pk"] == target.id


def test_hybrid_ingest_on_the_2_3_server_fails_before_creating_anything(hook, collection_name, corpus):
    conf = {"source": str(corpus), "collection": collection_name, "embedding": "deterministic", "hybrid": True}
    with pytest.raises(UnsupportedFeatureError) as refused:
        Run(hook, parse_params(conf), "hybrid-on-2.3").all()
    assert "does not support bm25" in str(refused.value) and "v2.3.5" in str(refused.value), str(refused.value)
    assert not hook.has_collection(collection_name)


def test_create_collection_operator_hybrid_and_keyword_search(lite_hook, collection_name):
    made = MilvusCreateCollectionOperator(
        task_id="create",
        collection_name=collection_name,
        dimension=4,
        hybrid=True,
        partition_key_field="tenant",
        milvus_conn_id="milvus_lite",
    ).execute(context={})
    assert made == {"collection_name": collection_name, "dimension": 4, "created": True, "hybrid": True}
    assert lite_hook.collection_layout(collection_name) == {"bm25": {"text": "sparse"}, "partition_key_field": "tenant"}
    lite_hook.upsert(
        collection_name,
        [
            {"id": "a", "text": "greenhouse humidity sensors", "tenant": "x", "vector": [1, 0, 0, 0]},
            {"id": "b", "text": "alpine hiking routes", "tenant": "y", "vector": [0, 1, 0, 0]},
        ],
    )
    keyword = lite_hook.search(
        collection_name, ["humidity"], anns_field="sparse", limit=2, output_fields=["id"], consistency_level="Strong"
    )
    assert [hit["id"] for hit in keyword[0]] == ["a"]
    weighted = lite_hook.hybrid_search(
        collection_name,
        [[0, 1, 0, 0]],
        ["hiking"],
        ranker="weighted",
        ranker_params={"weights": [0.5, 0.5]},
        limit=1,
        consistency_level="Strong",
    )
    assert weighted[0][0]["id"] == "b"
    # Asked again with another layout: refused, nothing altered.
    with pytest.raises(Exception, match="partition key"):
        lite_hook.create_collection(
            collection_name, 4, varchar_fields={"text": 100, "group": 10}, partition_key_field="group"
        )


def test_capabilities_come_from_the_server(hook, lite_hook):
    old, lite = hook.capabilities(), lite_hook.capabilities()
    assert (old.version, old.bm25, old.authentication) == ("v2.3.5-lite", False, True)
    assert (lite.version, lite.bm25, lite.hybrid_search, lite.partition_key, lite.authentication) == (
        "milvus_lite-3.2.2",
        True,
        True,
        True,
        False,
    )
    ok, message = hook.test_connection()
    assert ok and "not: bm25, hybrid_search" in message
    with pytest.raises(UnsupportedFeatureError, match=r"v2\.3\.5-lite .* does not support bm25"):
        ensure_collection(hook, CollectionSpec(name="never_made", dim=8, hybrid=True))
    assert not hook.has_collection("never_made")


def test_a_hybrid_collection_refuses_a_dense_only_run_and_the_reverse(lite_hook, collection_name):
    ensure_collection(lite_hook, CollectionSpec(name=collection_name, dim=8, hybrid=True))
    with pytest.raises(LayoutMismatchError, match="pass hybrid=true"):
        ensure_collection(lite_hook, CollectionSpec(name=collection_name, dim=8))
    ensure_collection(lite_hook, CollectionSpec(name=collection_name + "_t", dim=8, tenant="a"))
    with pytest.raises(LayoutMismatchError, match="pass tenant"):
        ensure_collection(lite_hook, CollectionSpec(name=collection_name + "_t", dim=8))
    lite_hook.drop_collection(collection_name + "_t")


# ---- tenants ------------------------------------------------------------------------------------


def test_reindexing_one_tenant_never_touches_another(lite_hook, collection_name, corpus, tmp_path):
    """Two tenants ingest the same files into one collection; tenant A's reindex after a file
    was deleted removes only A's rows of that file. B's rows and counts are untouched."""
    corpus_b = tmp_path / "corpus_b"
    shutil.copytree(corpus, corpus_b)
    base = {"collection": collection_name, "embedding": "deterministic", "milvus_conn_id": "milvus_lite"}
    for tenant, folder in (("acme", corpus), ("globex", corpus_b)):
        Run(lite_hook, parse_params({**base, "source": str(folder), "tenant": tenant}), tenant).all()
    a_before, b_before = (
        per_source(lite_hook, collection_name, "acme"),
        per_source(lite_hook, collection_name, "globex"),
    )
    assert a_before == b_before and sum(a_before.values()) > 0  # same files, separate rows
    assert set(ids_in(lite_hook, collection_name)) == {c.id for c in split_chunks(corpus, "acme")} | {
        c.id for c in split_chunks(corpus_b, "globex")
    }

    gone = sorted(a_before)[0]
    (corpus / gone).unlink()
    reindexed(lite_hook, {**base, "source": str(corpus), "tenant": "acme"}, "acme")

    a_after = per_source(lite_hook, collection_name, "acme")
    assert gone not in a_after and a_after == {s: n for s, n in a_before.items() if s != gone}
    assert per_source(lite_hook, collection_name, "globex") == b_before

    # A run that names no tenant would read and delete across tenants: refused, nothing changed.
    before = ids_in(lite_hook, collection_name)
    with pytest.raises(Exception, match="pass tenant=<name>"):
        reindexed(lite_hook, {**base, "source": str(corpus)}, "no-tenant")
    with pytest.raises(Exception, match="rebuilds the whole collection"):
        reindexed(lite_hook, {**base, "source": str(corpus), "tenant": "acme", "strategy": "full"}, "acme-full")
    with pytest.raises(Exception, match="holds tenants"):
        reindexed(lite_hook, {**base, "source": str(corpus), "strategy": "full"}, "full")
    assert not any(name.startswith(collection_name + "__") for name in lite_hook.list_collections())
    assert ids_in(lite_hook, collection_name) == before
