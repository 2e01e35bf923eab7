"""Every DAG file imports cleanly, and every DAG follows the project's conventions."""

from __future__ import annotations

from pathlib import Path

import pytest

DAGS = Path(__file__).resolve().parents[2] / "dags"


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS))


def test_no_import_errors(dagbag):
    assert dagbag.import_errors == {}, dagbag.import_errors


def test_expected_dags_are_there(dagbag):
    from milvus_toolkit.declared import load_declarations

    declared = {index.dag_id for index in load_declarations()}
    assert declared == {"milvus_reindex__sample_corpus"}, "the repository declares the sample corpus"
    evaluated = {index.evaluate_dag_id for index in load_declarations() if index.evaluate_schedule}
    assert evaluated == {"milvus_evaluate__sample_corpus"}, "the sample corpus asks for scheduled evaluations"
    generic = {"milvus_ingest", "milvus_reindex", "milvus_benchmark", "milvus_evaluate"}
    assert set(dagbag.dag_ids) == generic | declared | evaluated


def test_generic_dags_have_no_schedule_and_no_source_or_collection_default(dagbag):
    """A run acts only on what it is given: nothing scheduled falls back to the sample corpus."""
    for dag_id in ("milvus_ingest", "milvus_reindex", "milvus_evaluate"):
        dag = dagbag.dags[dag_id]
        assert type(dag.timetable).__name__ in ("NullTimetable", "AssetTriggeredTimetable"), dag_id
        assert dag.params.get("source") is None and dag.params["collection"] is None, dag_id
    declared = dagbag.dags["milvus_reindex__sample_corpus"]
    assert declared.max_active_runs == 1 and "source" not in declared.params
    assert type(declared.timetable).__name__ == "CronTriggerTimetable"


def test_conventions(dagbag):
    for dag_id, dag in dagbag.dags.items():
        assert dag.tags, f"{dag_id} has no tags"
        assert dag.doc_md and len(dag.doc_md) > 80, f"{dag_id} has no docs"
        assert dag.catchup is False, dag_id
        for task in dag.tasks:
            assert task.owner == "milvus-toolkit", f"{dag_id}.{task.task_id} owner"
            assert task.retries >= 1, f"{dag_id}.{task.task_id} has no retries"
        dag.check_cycle()  # raises on a cycle


def test_every_param_has_a_title_and_description(dagbag):
    for dag_id, dag in dagbag.dags.items():
        for name, param in dag.params.items():
            param = dag.params.get_param(name)
            assert param.schema.get("title"), f"{dag_id}: param {name} has no title"
            assert param.description, f"{dag_id}: param {name} has no description"


def test_mapped_write_task_has_a_readable_label(dagbag):
    write = dagbag.dags["milvus_ingest"].get_task("write_batch")
    assert write.map_index_template == "{{ batch_label }}"
