"""The rules that decide what a run may delete, and what a run acts on, without a server."""

from __future__ import annotations

from collections import namedtuple
from types import SimpleNamespace

import pytest

from milvus_toolkit.declared import DeclarationError, load_declarations
from milvus_toolkit.ingest.params import ParamsError, parse_params
from milvus_toolkit.reindex import parse_reindex_params
from milvus_toolkit.sync import DeletionBudgetExceeded, Scope, check_budget, meta_hash, obsolete_ids


def row(pk, source, stamp=None):
    return {"pk": pk, "source": source, **({"run_stamp": stamp} if stamp is not None else {})}


def test_only_positively_gone_rows_are_obsolete():
    rows = [
        row("a1", "a.md"),
        row("a2", "a.md"),  # a.md read: a2 no longer split from it
        row("b1", "b.md"),  # b.md listed but unreadable: kept
        row("c1", "c.md"),  # c.md no longer listed under the root: gone
        row("d1", "other/d.md"),  # outside the listed folder: not this run's business
        row("a3", "a.md", stamp=200.0),  # written by a run that started later: kept
    ]
    scope = Scope(loaded=["a.md"], failed=["b.md"], listed_prefix="")
    assert obsolete_ids(rows, {"a.md": {"a1"}}, scope, run_stamp=100.0) == ["a2", "c1", "d1"]
    sub = Scope(loaded=["guide/a.md"], failed=[], listed_prefix="guide")
    rows = [row("g1", "guide/a.md"), row("g2", "guide/gone.md"), row("x1", "guidebook.md"), row("y1", "faq.md")]
    assert obsolete_ids(rows, {"guide/a.md": {"g1"}}, sub, 100.0) == ["g2"]


def test_ingest_and_glob_runs_never_delete_unlisted_sources():
    scope = Scope(loaded=["a.md"], failed=[], listed_prefix=None)
    rows = [row("a1", "a.md"), row("z1", "z.md")]
    assert obsolete_ids(rows, {"a.md": set()}, scope, 100.0) == ["a1"]


def test_the_deletion_budget_names_the_param_and_the_value_to_allow_it():
    check_budget("docs", 10, 100, 10)  # exactly at the budget
    check_budget("docs", 0, 0, 0)
    with pytest.raises(
        DeletionBudgetExceeded, match=r"delete 11 of the 100 rows of 'docs' \(11.0 %\).*max_delete_percent=11"
    ):
        check_budget("docs", 11, 100, 10)


def test_meta_hash_ignores_bookkeeping_and_sees_metadata():
    base = {"source": "a.md", "h1": "Old"}
    assert meta_hash(base) == meta_hash({**base, "run_stamp": 5.0, "meta_hash": "x"})
    assert meta_hash(base) != meta_hash({**base, "h1": "New"})


def test_source_and_collection_are_required_and_none_counts_as_missing():
    with pytest.raises(ParamsError, match=r"param 'source': is required.*param 'collection': is required"):
        parse_params({"source": None, "collection": None})
    with pytest.raises(ParamsError, match="param 'source': is required"):
        parse_reindex_params({"collection": "docs"})
    assert parse_reindex_params({"collection": "docs", "strategy": "rollback", "source": None}).strategy == "rollback"


def write(tmp_path, text):
    path = tmp_path / "indexes.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("indexes:\n  - name: docs\n    source: /data\n", "index 'docs': field 'collection': is required"),
        (
            "indexes:\n  - name: docs\n    source: /data\n    collection: d\n    chunk_size: 10\n",
            "index 'docs': field 'chunk_size'",
        ),
        (
            "indexes:\n  - name: docs\n    source: /data\n    collection: d\n"
            "    chunk_size: 100\n    chunk_overlap: 100\n",
            "index 'docs': chunk_overlap",
        ),
        (
            "indexes:\n  - name: a\n    source: /x\n    collection: d\n"
            "  - name: b\n    source: /y\n    collection: d\n",
            "field 'collection': \\['d'\\] declared by more than one index",
        ),
        ("indexes: [", "cannot be read as YAML"),
        ("other: 1\n", "expected a top-level 'indexes:' list"),
    ],
)
def test_a_broken_declaration_names_file_index_and_field(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(DeclarationError, match=message) as excinfo:
        load_declarations(path)
    assert str(path) in str(excinfo.value)


def test_a_broken_declaration_file_is_a_dag_import_error(tmp_path, monkeypatch):
    from pathlib import Path

    from airflow.dag_processing.dagbag import DagBag

    path = write(tmp_path, "indexes:\n  - name: docs\n    source: /data\n    collection: d\n    embedding: bert\n")
    monkeypatch.setenv("MILVUS_TOOLKIT_INDEXES", str(path))
    dags = Path(__file__).resolve().parents[2] / "dags"
    bag = DagBag(dag_folder=str(dags / "milvus_reindex.py"))
    errors = " ".join(bag.import_errors.values())
    assert str(path) in errors and "index 'docs'" in errors and "field 'embedding'" in errors


def test_relative_sources_are_relative_to_the_declaration_file(tmp_path):
    (tmp_path / "docs").mkdir()
    path = write(tmp_path, "indexes:\n  - name: docs\n    source: docs\n    collection: d\n    schedule: '@daily'\n")
    [index] = load_declarations(path)
    assert index.source == str(tmp_path / "docs") and index.dag_id == "milvus_reindex__docs"
    assert index.identity() == {
        "source": str(tmp_path / "docs"),
        "collection": "d",
        "embedding": "local",
        "splitter": "auto",
        "chunk_size": 1000,
        "chunk_overlap": 150,
        "on_bad_file": "skip",
        "max_file_mb": 100,
        "hybrid": False,
    }


def test_an_asset_triggered_run_takes_its_source_from_the_event(monkeypatch):
    """Before: an Asset-triggered milvus_ingest ignored the event and ingested the sample corpus."""
    from milvus_toolkit import dag_support

    asset = namedtuple("Asset", "uri")("s3://bucket/docs/")
    event = SimpleNamespace(extra={"collection": "docs", "chunk_size": 500, "ignored": {"nested": 1}})
    context = {"params": {"source": None, "collection": None}, "triggering_asset_events": {asset: [event]}}
    monkeypatch.setattr("airflow.sdk.get_current_context", lambda: context)
    params = dag_support.current_params(parse_params)
    assert (params.source, params.collection, params.chunk_size) == ("s3://bucket/docs/", "docs", 500)

    context["triggering_asset_events"] = {asset: [SimpleNamespace(extra={})]}
    with pytest.raises(Exception, match="param 'collection': is required"):
        dag_support.current_params(parse_params)


def test_a_declared_index_identity_wins_over_the_run_conf(monkeypatch):
    from milvus_toolkit import dag_support

    context = {"params": {"source": "/elsewhere", "collection": "other", "strategy": "full"}}
    monkeypatch.setattr("airflow.sdk.get_current_context", lambda: context)
    params = dag_support.current_params(parse_reindex_params, {"source": "/declared", "collection": "docs"})
    assert (params.source, params.collection, params.strategy) == ("/declared", "docs", "full")


# ---- tenants ------------------------------------------------------------------------------------


def test_a_tenant_run_never_plans_to_delete_another_tenants_rows():

    rows = [
        {"pk": "a1", "source": "x.md", "tenant": "a", "run_stamp": 1.0},
        {"pk": "b1", "source": "x.md", "tenant": "b", "run_stamp": 1.0},  # same file, other tenant
        {"pk": "b2", "source": "gone.md", "tenant": "b", "run_stamp": 1.0},
    ]
    scope = Scope(loaded=["x.md"], listed_prefix="", tenant="a")
    assert obsolete_ids(rows, {"x.md": set()}, scope, run_stamp=2.0) == ["a1"]
    # Without a tenant (a plain collection), rows that carry one are never its to delete either.
    assert obsolete_ids(rows, {"x.md": set()}, Scope(loaded=["x.md"], listed_prefix=""), run_stamp=2.0) == []


def test_tenant_names_are_checked_and_tenant_ids_differ():
    from milvus_toolkit.ingest.splitting import chunk_id
    from milvus_toolkit.rules import tenant_filter

    assert tenant_filter("acme-1") == 'tenant == "acme-1"' and tenant_filter(None) == ""
    assert chunk_id("x.md", "h", 0) != chunk_id("x.md", "h", 0, "a") != chunk_id("x.md", "h", 0, "b")
    assert chunk_id("x.md", "h", 0) == chunk_id("x.md", "h", 0, None)  # plain collections keep their ids
    with pytest.raises(ParamsError, match="param 'tenant': must be 1 to 64"):
        parse_params({"source": "/x", "collection": "c", "tenant": 'a" or 1 == 1'})
    for extra in ({"strategy": "full"}, {"force_reembed": True}):
        with pytest.raises(ParamsError, match="rebuilds the whole collection"):
            parse_reindex_params({"source": "/x", "collection": "c", "tenant": "a", **extra})


def test_declared_tenants_may_share_a_collection_only_as_tenants(tmp_path):
    entry = "  - name: {name}\n    source: /x\n    collection: shared\n"
    two = "indexes:\n" + entry.format(name="a") + "    tenant: a\n" + entry.format(name="b") + "    tenant: b\n"
    assert [i.tenant for i in load_declarations(write(tmp_path, two))] == ["a", "b"]
    same = "indexes:\n" + entry.format(name="a") + "    tenant: a\n" + entry.format(name="b") + "    tenant: a\n"
    with pytest.raises(DeclarationError, match=r"\['shared \(tenant a\)'\] declared by more than one index"):
        load_declarations(write(tmp_path, same))
    mixed = "indexes:\n" + entry.format(name="a") + "    tenant: a\n" + entry.format(name="b")
    with pytest.raises(DeclarationError, match="must each have a tenant"):
        load_declarations(write(tmp_path, mixed))


def test_a_declared_indexs_builds_and_legacy_copy_belong_to_it_too():
    """Suspected in issue 21, confirmed: a generic run naming a declared index's physical build
    (`<alias>__<stamp>`) passed the refusal and could write into what the alias serves."""
    from milvus_toolkit.declared import load_declarations, owner_of

    index = load_declarations()[0]
    for name in (index.collection, f"{index.collection}__20260101T020000", f"{index.collection}__legacy_x"):
        assert owner_of(name) == index, name
    assert owner_of(f"{index.collection}_other") is None and owner_of(f"x{index.collection}__1") is None


def test_rows_stamped_in_the_future_are_reported_and_any_stamp_is_printable(caplog):
    import time

    from milvus_toolkit.sync import report_future_stamps

    now = time.time()
    with caplog.at_level("WARNING", logger="milvus_toolkit.sync"):
        assert report_future_stamps("c", [now - 10, now + 3600, 1e12], run_stamp=now) == 2
        assert report_future_stamps("c", [now - 10, now + 60], run_stamp=now) == 0, "within the clock tolerance"
    assert "2 row(s) of 'c' carry a run stamp in the future (up to 1000000000000 (epoch seconds)" in caplog.text
