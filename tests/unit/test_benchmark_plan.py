"""Benchmark parameters and plan: validation before anything exists, and the cell matrix."""

from __future__ import annotations

from pathlib import Path

import pytest

from milvus_toolkit.benchmark.plan import (
    BenchmarkParams,
    BenchmarkParamsError,
    async_levels,
    build_plan,
    is_wait_bound,
)

DAG_FILE = Path(__file__).resolve().parents[2] / "dags" / "milvus_benchmark.py"


# ---- bad input: one clear error, naming the field ----------------------------------------------


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"counts": [0]}, "counts: every count must be a positive integer, got 0"),
        ({"counts": [10, -5]}, "got -5"),
        ({"counts": ["ten"]}, "got 'ten'"),
        ({"counts": [2.5]}, "got 2.5"),
        ({"counts": []}, "'counts' needs at least one value"),
        ({"operations": ["add", "merge"]}, "operations.1: 'merge' is not allowed"),
        ({"operations": []}, "'operations' needs at least one value"),
        ({"modes": ["parallel"]}, "'parallel' is not allowed"),
        ({"concurrency": [0]}, 'a concurrency level is a positive integer or "all", got 0'),
        ({"concurrency": ["many"]}, "got 'many'"),
        ({"consistency_levels": ["Strongest"]}, "'Strongest' is not allowed"),
        ({"embedding": "local", "dim": 768}, "dim 768 does not fit embedding 'local'"),
        ({"embedding": "bert"}, "'bert' is not allowed"),
        ({"dim": 0}, "between 1 and 32768, got 0"),
        ({"repeats": 0}, "repeats must be between 1 and 20"),
        ({"wait_cells_max_count": 0}, "positive integer or null"),
        ({"regression_threshold": -0.1}, "regression_threshold"),
        ({"search_rows": 2, "top_k": 3}, "search_rows (2) must be at least top_k (3)"),
        ({"count": [10]}, "count: unknown parameter"),
        ({"milvus_conn_id": "  "}, "milvus_conn_id must name an Airflow connection"),
    ],
)
def test_bad_params_fail_with_a_clear_message(params, expected):
    with pytest.raises(BenchmarkParamsError) as err:
        build_plan(params)
    assert str(err.value).startswith("invalid benchmark parameters: ")
    assert expected in str(err.value)


def test_every_problem_is_listed_at_once():
    with pytest.raises(BenchmarkParamsError) as err:
        build_plan({"counts": [0], "operations": ["bogus"]})
    assert "counts:" in str(err.value) and "operations.0:" in str(err.value)


def test_nothing_left_to_measure_is_an_error_not_an_empty_run():
    with pytest.raises(BenchmarkParamsError, match="nothing left to measure for search"):
        build_plan({"operations": ["search"], "consistency_levels": ["Strong"], "counts": [1000]})
    # ... unless the cap is lifted on purpose
    plan = build_plan(
        {"operations": ["search"], "consistency_levels": ["Strong"], "counts": [1000], "wait_cells_max_count": None}
    )
    assert {c.count for c in plan.cells} == {1000}


def test_form_values_are_normalized():
    params = BenchmarkParams.parse({"counts": "10, 100", "concurrency": ["8", "ALL", 8], "operations": ["add", "add"]})
    assert params.counts == [10, 100]
    assert params.concurrency == [8, "all"]
    assert params.operations == ["add"]


def test_local_embedding_fits_its_own_dimension():
    assert BenchmarkParams.parse({"embedding": "local", "dim": 384}).dim == 384


# ---- the cell matrix -------------------------------------------------------------------------------


def test_default_plan_covers_the_seeds_matrix():
    plan = build_plan({})
    params = plan.params
    assert params.counts == [10, 100, 1000] and params.dim == 768 and params.embedding == "deterministic"
    keys = [c.key for c in plan.cells]
    assert len(keys) == len(set(keys)), "every cell is measured once per repeat"
    assert params.layers == ["langchain", "llamaindex", "raw"]
    for op in ("add", "upsert", "search", "delete"):
        for count in (10, 100, 1000):
            for layer in ("langchain", "llamaindex", "raw"):
                variant = "pk" if op == "delete" else ""
                mine = [
                    c for c in plan.cells if (c.operation, c.variant, c.count, c.layer) == (op, variant, count, layer)
                ]
                assert {c.mode for c in mine} == {"sync", "async"}, (op, count, layer)
                assert "all" in {c.concurrency for c in mine if c.mode == "async"}
    # writes are measured at the baseline level only; searches at every level
    assert {c.consistency_level for c in plan.cells if c.operation != "search"} == {"Session"}
    assert {c.consistency_level for c in plan.cells if c.operation == "search"} == {"Session", "Strong"}
    # wait-bound cells (Strong search, metadata delete) stop at wait_cells_max_count
    assert max(c.count for c in plan.cells if c.waits_per_call) == 100
    assert {(s["operation"], s["count"]) for s in plan.skipped} == {("search", 1000), ("delete", 1000)}
    (delete_skip,) = [s for s in plan.skipped if s["operation"] == "delete"]
    assert delete_skip["layers"] == ["langchain", "raw"], (
        "LlamaIndex deletes by key after its own Session query: no wait"
    )
    assert any(c.layer == "llamaindex" and c.variant == "metadata" and c.count == 1000 for c in plan.cells)
    # the search metrics (VectorDBBench-style) run after the cells, with a small sweep
    assert plan.runs_search_metrics and params.sweep_concurrency == [1, 8, 32] and params.sweep_seconds == 3.0
    assert 0 < plan.search_metrics_seconds() < 120
    assert plan.estimate_seconds() < 900


def test_sync_cells_are_single_loops_and_async_cells_carry_their_concurrency():
    plan = build_plan({"counts": [10, 100], "concurrency": [1, 8, 64, "all"]})
    assert {c.concurrency for c in plan.cells if c.mode == "sync"} == {"1"}
    at_100 = {c.concurrency for c in plan.cells if c.mode == "async" and c.count == 100}
    at_10 = {c.concurrency for c in plan.cells if c.mode == "async" and c.count == 10}
    assert at_100 == {"1", "8", "64", "all"}
    assert at_10 == {"1", "8", "all"}, "a semaphore of 64 over 10 calls is the unbounded gather"


@pytest.mark.parametrize(
    ("levels", "count", "expected"),
    [
        ([1, 8, 64, "all"], 10, ["1", "8", "all"]),
        ([1, 8, 64, "all"], 1000, ["1", "8", "64", "all"]),
        ([8, 64], 10, ["8", "64"]),  # no "all" asked: the widest level is measured once
        ([64, 128], 10, ["64"]),
        (["all"], 5, ["all"]),
    ],
)
def test_async_levels(levels, count, expected):
    assert async_levels(levels, count) == expected


def test_groups_share_operation_count_and_level_and_run_in_plan_order():
    plan = build_plan({"counts": [5, 20], "operations": ["add", "search"], "concurrency": ["all"]})
    groups = plan.groups()
    flat = [c for g in groups for c in g]
    assert flat == plan.cells
    for group in groups:
        assert len({(c.operation, c.variant, c.count, c.consistency_level) for c in group}) == 1
    assert plan.collections_needed == len(plan.cells)


def test_wait_bound_cells():
    assert is_wait_bound("search", "", "Strong")
    assert not is_wait_bound("search", "", "Session")
    assert is_wait_bound("delete", "metadata", "Session")
    assert not is_wait_bound("delete", "pk", "Strong")
    # LlamaIndex's delete(ref_doc_id) queries the keys at the collection's level, then deletes by key
    assert not is_wait_bound("delete", "metadata", "Session", "llamaindex")
    assert is_wait_bound("delete", "metadata", "Strong", "llamaindex")
    assert is_wait_bound("search", "", "Strong", "llamaindex")


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"sweep_concurrency": [0]}, "every sweep level is a number of clients from 1 to 256, got 0"),
        ({"sweep_concurrency": [1, 1000]}, "got 1000"),
        ({"sweep_seconds": 0}, "sweep_seconds must be between 0.1 and 600"),
        ({"layers": ["haystack"]}, "'haystack' is not allowed"),
    ],
)
def test_bad_search_metric_params(params, expected):
    with pytest.raises(BenchmarkParamsError, match="invalid benchmark parameters") as err:
        build_plan(params)
    assert expected in str(err.value)


def test_the_search_metrics_follow_the_searches_and_can_be_turned_off():
    assert build_plan({"sweep_concurrency": "32, 1, 8"}).params.sweep_concurrency == [1, 8, 32]
    assert not build_plan({"sweep_concurrency": []}).runs_search_metrics
    assert not build_plan({"operations": ["add"]}).runs_search_metrics
    plan = build_plan({"counts": [10], "layers": ["raw"], "sweep_concurrency": [1, 4], "sweep_seconds": 0.5})
    assert plan.runs_search_metrics and "(sweep [1, 4] clients x 0.5 s" in plan.describe()
    assert "search metrics on real text (sample, python-reference)" in plan.describe()
    assert "ef curve [4, 8, 16, 32, 64, 128, 256]" in plan.describe()


# ---- the DAG's form and the model agree ------------------------------------------------------------


@pytest.fixture(scope="module")
def benchmark_dag():
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAG_FILE))
    assert bag.import_errors == {}, bag.import_errors
    return bag.dags["milvus_benchmark"]


def test_dag_defaults_are_the_model_defaults(benchmark_dag):
    form = {name: benchmark_dag.params[name] for name in benchmark_dag.params}
    assert BenchmarkParams.parse(form) == BenchmarkParams()
    assert set(form) == set(BenchmarkParams.model_fields)


def test_dag_runs_alone_on_a_weekly_schedule(benchmark_dag):
    assert benchmark_dag.max_active_runs == 1
    assert benchmark_dag.catchup is False
    assert benchmark_dag.schedule == "@weekly"
    assert [t.task_id for t in benchmark_dag.topological_sort()] == ["check_inputs", "measure", "report"]
    for name in benchmark_dag.params:
        param = benchmark_dag.params.get_param(name)
        assert param.schema.get("title") and param.description, name


def test_schedule_comes_from_the_environment(monkeypatch):
    from airflow.dag_processing.dagbag import DagBag

    monkeypatch.setenv("MILVUS_BENCHMARK_SCHEDULE", "0 3 * * 1")
    assert DagBag(dag_folder=str(DAG_FILE)).dags["milvus_benchmark"].schedule == "0 3 * * 1"
    monkeypatch.setenv("MILVUS_BENCHMARK_SCHEDULE", "none")
    assert DagBag(dag_folder=str(DAG_FILE)).dags["milvus_benchmark"].schedule is None


def test_the_llamaindex_layer_without_its_package_fails_before_milvus_is_asked(monkeypatch):
    from milvus_toolkit.benchmark import runner

    class NoMilvus:
        def __getattr__(self, name):
            raise AssertionError(f"Milvus was asked ({name}) before the parameters were checked")

    real = runner.package_version
    monkeypatch.setattr(
        runner, "package_version", lambda dist: None if dist == "llama-index-vector-stores-milvus" else real(dist)
    )
    with pytest.raises(BenchmarkParamsError, match="'llamaindex' needs llama-index-vector-stores-milvus"):
        runner.prepare(NoMilvus(), {"counts": [5]})
