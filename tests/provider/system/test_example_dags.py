"""System tests: the provider's example DAGs, run by `airflow dags test` against the real
Milvus of the test session (fixture ``airflow_env``, with the dags folder pointed at this
folder and a copy of the session's metadata database).

`airflow dags test` runs every task in one process, and a deferred task's trigger in line
(Airflow 3.3.2: ``dag.test`` -> ``_run_inline_trigger``): the sensor really defers (state
``deferred``, a ``trigger`` row, an audit-log ``deferred`` event) and resumes through
``execute_complete`` when the trigger fires.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import time
import uuid
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.airflow]

SYSTEM = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def system_env(airflow_env, tmp_path_factory):
    """The session's Airflow environment, with its own copy of the migrated database and
    this folder as the dags folder."""
    home = tmp_path_factory.mktemp("airflow-system")
    source_db = Path(airflow_env["AIRFLOW_HOME"]) / "airflow.db"
    shutil.copy2(source_db, home / "airflow.db")
    env = dict(airflow_env)
    env.update(
        AIRFLOW_HOME=str(home),
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{home}/airflow.db",
        AIRFLOW__CORE__DAGS_FOLDER=str(SYSTEM),
    )
    return env


def db(env) -> sqlite3.Connection:
    return sqlite3.connect(Path(env["AIRFLOW_HOME"]) / "airflow.db")


def xcoms(env, dag_id: str, run_id: str) -> dict[str, object]:
    with db(env) as conn:
        rows = conn.execute(
            "select task_id, value from xcom where dag_id = ? and run_id = ? and key = 'return_value'", (dag_id, run_id)
        ).fetchall()
    return {task_id: json.loads(value) for task_id, value in rows}


def last_run(env, dag_id: str) -> tuple[str, str]:
    with db(env) as conn:
        return conn.execute(
            "select run_id, state from dag_run where dag_id = ? order by id desc limit 1", (dag_id,)
        ).fetchone()


def task_states(env, dag_id: str, run_id: str) -> dict[str, str]:
    with db(env) as conn:
        return dict(
            conn.execute("select task_id, state from task_instance where dag_id = ? and run_id = ?", (dag_id, run_id))
        )


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


def test_example_milvus_dag_creates_ingests_searches_aliases_and_drops(system_env, hook):
    collection = unique("sys_example")
    started = time.monotonic()
    result = subprocess.run(
        ["airflow", "dags", "test", "example_milvus", "-c", json.dumps({"collection": collection})],
        env=system_env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    run_id, run_state = last_run(system_env, "example_milvus")
    assert run_state == "success", output[-4000:]
    states = task_states(system_env, "example_milvus", run_id)
    assert set(states.values()) == {"success"}, states
    assert len(states) == 9

    x = xcoms(system_env, "example_milvus", run_id)
    assert x["create_collection"] == {"collection_name": collection, "dimension": 4, "created": True, "hybrid": False}
    assert x["ingest"] == {
        "collection_name": collection,
        "mode": "upsert",
        "rows": 3,
        "written": 3,
        "embedded": 0,
        "batches": 2,
        "created_collection": False,  # the upstream task created it
    }
    assert x["ingest_texts"]["written"] == 2 and x["ingest_texts"]["embedded"] == 2
    assert [[h["id"] for h in per_query] for per_query in x["search"]] == [["north", "east"], ["up", "east"]]
    assert x["search"][0][0]["text"] == "points north" and x["search"][0][0]["kind"] == "compass"
    assert x["search_texts"][0][0]["id"] == "faq-2", "the same text embeds to the same vector"
    assert x["point_alias"] == {"alias": f"{collection}_live", "collection_name": collection, "previous": None}
    assert x["search_alias"][0][0]["id"] == "up"
    assert x["nearest_with_hook"] == {"rows": 5, "nearest": "east"}
    assert x["drop_collection"] == {
        "collection_name": collection,
        "dropped": True,
        "aliases_dropped": [f"{collection}_live"],
    }
    assert not hook.has_collection(collection) and hook.describe_alias(f"{collection}_live") is None
    print(f"example_milvus: {time.monotonic() - started:.1f}s")


def wait_for(path: Path, proc: subprocess.Popen, needle: str, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = path.read_text(errors="replace")
        if needle in text:
            return text
        if proc.poll() is not None:
            pytest.fail(f"`airflow dags test` ended ({proc.returncode}) before {needle!r}:\n{text[-4000:]}")
        time.sleep(0.2)
    pytest.fail(f"no {needle!r} within {timeout}s:\n{path.read_text(errors='replace')[-4000:]}")


def test_deferrable_sensor_defers_then_completes_when_the_rows_arrive(system_env, hook, tmp_path):
    collection = unique("sys_sensor")
    log_path = tmp_path / "dags-test.log"
    started = time.monotonic()
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            ["airflow", "dags", "test", "example_milvus_sensor", "-c", json.dumps({"collection": collection})],
            env=system_env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        # 1. The sensor checked once in the worker, deferred, and its trigger is polling.
        text = wait_for(
            log_path, proc, f"Waiting: collection '{collection}' does not exist yet [milvus_provider.triggers", 180
        )
        assert "Pausing task as DEFERRED" in text and "[DAG TEST] running trigger in line" in text
        run_id, _ = last_run(system_env, "example_milvus_sensor")
        with db(system_env) as conn:
            classpath, kwargs = conn.execute(
                "select classpath, kwargs from trigger order by id desc limit 1"
            ).fetchone()
        assert classpath == "milvus_provider.triggers.milvus.MilvusCollectionTrigger"
        kwargs = json.loads(kwargs)
        assert kwargs["collection_name"] == collection and kwargs["min_row_count"] == 2

        # 2. One matching row of two written: not enough, the trigger keeps waiting.
        hook.create_collection(collection, 4)
        hook.upsert(
            collection,
            [
                {"id": "feed-1", "vector": [1.0, 0.0, 0.0, 0.0], "kind": "feed"},
                {"id": "other-1", "vector": [0.9, 0.1, 0.0, 0.0], "kind": "other"},
            ],
        )
        wait_for(log_path, proc, f"collection '{collection}' holds 1 rows matching", 60)
        assert proc.poll() is None, "the sensor must not complete with one matching row"

        # 3. The second matching row: the trigger fires, the sensor resumes, the search runs.
        hook.upsert(collection, [{"id": "feed-2", "vector": [0.0, 1.0, 0.0, 0.0], "kind": "feed"}])
        assert proc.wait(timeout=120) == 0, log_path.read_text()[-4000:]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if hook.has_collection(collection):
            hook.drop_collection(collection)
    text = log_path.read_text()
    assert "Resumed from the trigger" in text
    run_id, run_state = last_run(system_env, "example_milvus_sensor")
    assert run_state == "success"
    assert task_states(system_env, "example_milvus_sensor", run_id) == {"wait_for_rows": "success", "search": "success"}
    with db(system_env) as conn:
        events = [
            e
            for (e,) in conn.execute(
                "select event from log where dag_id = ? and run_id = ? and task_id = 'wait_for_rows' order by id",
                ("example_milvus_sensor", run_id),
            )
        ]
    assert events == ["running", "deferred", "running", "success"], "ran, deferred, resumed, succeeded"
    x = xcoms(system_env, "example_milvus_sensor", run_id)
    assert x["wait_for_rows"] == {"collection_name": collection, "exists": True, "loaded": True, "row_count": 2}
    assert x["search"][0][0]["id"] == "feed-1", "nearest matching row; other-1 is filtered out"
    print(f"example_milvus_sensor: {time.monotonic() - started:.1f}s")


def test_example_milvus_agent_answers_from_milvus_with_common_ai(system_env, hook):
    """common-ai 1.0.0 end to end, offline: LlamaIndexEmbeddingOperator's chunks go into Milvus
    through MilvusIngestOperator, and AgentOperator answers with MilvusHook.search_text as its
    HookToolset tool. The model is pydantic-ai's TestModel (connection extra {"model": "test"}):
    it calls every tool it is given, then answers with what the tools returned, so the answer
    must hold the rows Milvus found."""
    collection = "example_milvus_agent"
    if hook.has_collection(collection):
        hook.drop_collection(collection)
    env = dict(
        system_env, AIRFLOW_CONN_PYDANTICAI_DEFAULT=json.dumps({"conn_type": "pydanticai", "extra": {"model": "test"}})
    )
    result = subprocess.run(
        ["airflow", "dags", "test", "example_milvus_agent", "-c", json.dumps({"question": "Which tyres fit the kit?"})],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    run_id, run_state = last_run(env, "example_milvus_agent")
    assert run_state == "success", output[-4000:]
    assert task_states(env, "example_milvus_agent", run_id) == dict.fromkeys(
        ("embed", "ingest", "answer", "drop_collection"), "success"
    )
    x = xcoms(env, "example_milvus_agent", run_id)
    assert x["embed"]["document_count"] == 3 and x["embed"]["chunk_count"] == 3
    assert {c["metadata"]["file"] for c in x["embed"]["chunks"]} == {"dock.md", "tyres.md", "pump.md"}
    assert x["ingest"]["written"] == 3 and x["ingest"]["created_collection"] is True
    answer = x["answer"]
    assert "milvus_search_text" in answer, answer
    for file in ("dock.md", "tyres.md", "pump.md"):  # TestModel's query matches no word: every row comes back
        assert file in answer, answer
    assert "Winter tyres fit the all-terrain kit" in answer
    assert x["drop_collection"]["dropped"] is True and not hook.has_collection(collection)
