"""Object-storage sources (issue 19, item 1) against the real S3-compatible server the session
starts (moto's standalone server on 127.0.0.1, authentication on), read the Airflow way:
``ObjectStoragePath`` with the credentials of an Airflow connection (``aws_default``, or the one
``source_conn_id`` names). The reindex steps run in this process in the DAG's order (``Reindex``);
one test runs the real DAG with ``airflow dags test``.

Every data-safety rule holds for S3 as for folders: rows go only for objects positively gone
from a complete listing; an object that cannot be read, or changed while being read, keeps its
rows and is reported; a listing that fails stops the run before anything is written.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest

from milvus_toolkit.chunk_store import count_by_source
from milvus_toolkit.ingest.documents import SourceError, discover, load
from milvus_toolkit.ingest.params import SAMPLE_CORPUS
from milvus_toolkit.ingest.staging import RunRecord, remove_run_folder, staged_path
from tests.integration.conftest import Reindex, Run, ids_in, split_ids
from tests.integration.test_data_safety import dags_test, params_for

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("private_staging")]

# Nested prefixes and non-ASCII keys beside the sample corpus (names in NFC, as sources are named).
EXTRA = {
    "guides/über uns/naïve café.md": "# Über uns\n\nDas Café öffnet um 8 Uhr. Naïve Fragen sind willkommen.\n",
    "日本/メモ.txt": "倉庫のロボットは六時間動きました。報告書は金曜日に出ます。\n",
    "a/b/c/d/deep.rst": "Deep\n====\n\nA page four prefixes down, about frost on the lower terraces.\n",
}


def upload_corpus(client, bucket: str, prefix: str = "docs") -> dict[str, bytes]:
    """The sample corpus plus ``EXTRA`` under ``prefix``; returns name -> bytes."""
    files = {p.relative_to(SAMPLE_CORPUS).as_posix(): p.read_bytes() for p in SAMPLE_CORPUS.rglob("*") if p.is_file()}
    files |= {name: text.encode("utf-8") for name, text in EXTRA.items()}
    for name, data in files.items():
        client.put_object(Bucket=bucket, Key=f"{prefix}/{name}", Body=data)
    return files


def local_copy(files: dict[str, bytes], folder):
    """The same names and bytes on local disk: the independent split the collection must equal."""
    for name, data in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    return folder


def served(hook, alias) -> dict[str, int]:
    return count_by_source(hook, hook.describe_alias(alias) or alias)


def served_ids(hook, alias) -> set[str]:
    return set(ids_in(hook, hook.describe_alias(alias) or alias))


def expected_ids(folder) -> set[str]:
    return {i for ids in split_ids(folder).values() for i in ids}


def bad_files(run: Reindex) -> dict[str, str]:
    return {b["source"]: b["reason"] for b in RunRecord.read(run.manifest["record_path"]).bad_files}


def test_a_prefix_of_more_than_1000_objects_is_listed_completely(local_s3, s3_bucket):
    """S3 answers a listing 1,000 keys at a time: every page is read (also under a glob)."""
    client = local_s3.client()
    names = [f"many/{i % 7}/note-{i:04d}.txt" for i in range(1050)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda key: client.put_object(Bucket=s3_bucket, Key=key, Body=key.encode()), names))

    corpus = discover(f"s3://{s3_bucket}/many")
    assert sorted(corpus.relative(p) for p in corpus.files) == sorted(n.removeprefix("many/") for n in names)
    assert len(corpus.listed) == 1050 and all("ETag" in entry for entry in corpus.listed.values())
    globbed = discover(f"s3://{s3_bucket}/many/3/*.txt")
    assert len(globbed.files) == sum(1 for n in names if n.startswith("many/3/"))


def test_nested_prefixes_and_non_ascii_keys_are_indexed_under_their_names(local_s3, s3_bucket, hook, alias, tmp_path):
    files = upload_corpus(local_s3.client(), s3_bucket)
    Reindex(hook, {"source": f"s3://{s3_bucket}/docs", "collection": alias}, "s3_first").all()

    folder = local_copy(files, tmp_path / "docs")
    assert served_ids(hook, alias) == expected_ids(folder), "the same ids as the same files on disk"
    assert {"guides/über uns/naïve café.md", "日本/メモ.txt", "a/b/c/d/deep.rst"} <= set(served(hook, alias))
    recorded = hook.collection_properties(hook.describe_alias(alias) or alias)
    assert f"s3://{s3_bucket}/docs" in json.dumps(recorded, ensure_ascii=False), "the root, without a conn id"


def test_an_object_deleted_from_the_bucket_loses_its_rows_and_nothing_else(local_s3, s3_bucket, hook, alias, tmp_path):
    client = local_s3.client()
    files = upload_corpus(client, s3_bucket)
    conf = {"source": f"s3://{s3_bucket}/docs", "collection": alias, "max_delete_percent": 50}
    Reindex(hook, conf, "before").all()

    gone = "guides/über uns/naïve café.md"
    client.delete_object(Bucket=s3_bucket, Key=f"docs/{gone}")
    run = Reindex(hook, conf, "after")
    run.all()

    del files[gone]
    assert gone not in served(hook, alias)
    assert served_ids(hook, alias) == expected_ids(local_copy(files, tmp_path / "docs"))
    assert run.deleted > 0


def test_an_object_that_cannot_be_read_this_run_keeps_its_rows_and_is_reported(local_s3, s3_bucket, hook, alias):
    files = upload_corpus(local_s3.client(), s3_bucket)
    conf = {"source": f"s3://{s3_bucket}/docs", "collection": alias}
    Reindex(hook, conf, "readable").all()
    before = served(hook, alias)
    locked = "grower-faq.txt"
    assert locked in files

    local_s3.deny_reads(s3_bucket, f"docs/{locked}")  # listed, but GetObject is refused (403)
    # verify_content: every object is read (an unchanged one would not be read at all, so never refused)
    run = Reindex(hook, {**conf, "verify_content": True}, "locked")
    run.all()

    reported = bad_files(run)
    assert set(reported) == {locked}
    assert reported[locked] == "unreadable: PermissionError: Access Denied"
    assert run.deleted == 0 and served(hook, alias) == before, "its rows stay, nothing else moved"


@pytest.mark.parametrize("broken", ["wrong credentials", "missing bucket", "empty prefix"])
def test_wrong_credentials_a_missing_bucket_or_an_empty_prefix_stop_the_run_before_anything_is_written(
    broken, local_s3, s3_bucket, hook, alias, monkeypatch
):
    """A listing that fails, or finds nothing, never looks like "every object is gone"."""
    upload_corpus(local_s3.client(), s3_bucket)
    good = {"source": f"s3://{s3_bucket}/docs", "collection": alias}
    Reindex(hook, good, "good").all()
    before = served_ids(hook, alias)

    if broken == "wrong credentials":
        wrong = local_s3.connection_json(access_key="AKIAWRONGWRONGWRONG0", secret_key="not-the-secret")
        monkeypatch.setenv("AIRFLOW_CONN_AWS_WRONG", wrong)
        conf, message = {**good, "source_conn_id": "aws_wrong"}, r"access to s3://.* \(connection 'aws_wrong'\) refused"
    elif broken == "missing bucket":
        conf, message = {**good, "source": "s3://no-such-bucket-here/docs"}, "does not exist.*bucket"
    else:
        conf, message = {**good, "source": f"s3://{s3_bucket}/docs-typo"}, "does not exist"
    with pytest.raises(SourceError, match=message):
        Reindex(hook, conf, "broken").all()
    assert served_ids(hook, alias) == before, "nothing written or deleted"


def test_a_declared_index_reads_s3_with_its_connection(tmp_path, monkeypatch):
    """A declaration may name an S3 source and its connection; both are its identity (a run's
    conf cannot point it at other credentials), and a conn id in the URL becomes the field."""
    from milvus_toolkit.declared import load_declarations
    from milvus_toolkit.reindex import parse_reindex_params

    path = tmp_path / "indexes.yaml"
    path.write_text(
        "indexes:\n"
        "  - {name: lake, source: 's3://lake/docs', source_conn_id: lake_reader, collection: lake_docs}\n"
        "  - {name: lake2, source: 's3://other_reader@lake/more', collection: lake_more}\n"
    )
    monkeypatch.setenv("MILVUS_TOOLKIT_INDEXES", str(path))
    lake, lake2 = load_declarations(path)
    assert lake.identity()["source_conn_id"] == "lake_reader"
    params = parse_reindex_params(lake2.run_params())
    assert (params.source, params.source_conn_id) == ("s3://lake/more", "other_reader")


def test_an_object_changed_between_listing_and_reading_is_never_a_silent_mix(
    local_s3, s3_bucket, hook, alias, tmp_path, monkeypatch
):
    """The object is overwritten after the listing and before its read: its new bytes are not
    indexed under the listing's facts, its old rows stay, the run reports it; the next run
    indexes the new version and removes the old rows."""
    from milvus_toolkit.ingest import pipeline

    client = local_s3.client()
    files = upload_corpus(client, s3_bucket)
    conf = {"source": f"s3://{s3_bucket}/docs", "collection": alias}
    Reindex(hook, conf, "v1").all()
    before = served_ids(hook, alias)
    name, edited = "a/b/c/d/deep.rst", b"Deep\n====\n\nRewritten while the run was listing: hail, not frost.\n"
    real_load = pipeline.load

    def load_after_an_edit(corpus, **kwargs):
        client.put_object(Bucket=s3_bucket, Key=f"docs/{name}", Body=edited)  # after the listing
        return real_load(corpus, **kwargs)

    monkeypatch.setattr(pipeline, "load", load_after_an_edit)
    # verify_content: the object is read although its listed ETag is the one its rows record (without
    # it, the run skips the object unread on that ETag, its old rows stay, and the next run reads it)
    run = Reindex(hook, {**conf, "verify_content": True}, "mid_edit")
    run.all()
    assert bad_files(run)[name].startswith("changed while this run read it (")
    assert "ETag listed" in bad_files(run)[name]
    assert served_ids(hook, alias) == before, "the old version's rows stay; nothing of the new one"

    monkeypatch.setattr(pipeline, "load", real_load)
    Reindex(hook, conf, "v2").all()
    files[name] = edited
    assert served_ids(hook, alias) == expected_ids(local_copy(files, tmp_path / "docs"))


def test_an_unchanged_bucket_is_not_read_and_an_edited_object_is_read_alone(
    local_s3, s3_bucket, hook, alias, tmp_path, monkeypatch
):
    """Size and ETag from the listing: a nightly run over an unchanged prefix reads no object
    (counted where objects are read), and after one object is rewritten it reads that one."""
    from milvus_toolkit.ingest import documents

    client = local_s3.client()
    files = upload_corpus(client, s3_bucket)
    conf = {"source": f"s3://{s3_bucket}/docs", "collection": alias}
    Reindex(hook, conf, "first").all()
    read, real_read = [], documents._read_remote

    def counting_read(path, relative, listed, max_file_bytes):
        read.append(relative)
        return real_read(path, relative, listed, max_file_bytes)

    monkeypatch.setattr(documents, "_read_remote", counting_read)
    nightly = Reindex(hook, conf, "nightly")
    nightly.all()
    assert read == [] and nightly.manifest["files_unchanged"] == len(files)
    assert served_ids(hook, alias) == expected_ids(local_copy(files, tmp_path / "docs"))

    name = "日本/メモ.txt"
    files[name] = "倉庫のロボットは七時間動きました。\n".encode()
    client.put_object(Bucket=s3_bucket, Key=f"docs/{name}", Body=files[name])
    Reindex(hook, {**conf, "max_delete_percent": 50}, "edited").all()
    assert read == [name]
    assert served_ids(hook, alias) == expected_ids(local_copy(files, tmp_path / "docs2"))


def test_a_listing_never_comes_from_a_cache(local_s3, s3_bucket):
    """The same process (one worker running two tasks) lists twice: the second listing sees the
    object added and the one deleted in between."""
    client = local_s3.client()
    client.put_object(Bucket=s3_bucket, Key="docs/a.md", Body=b"# A\n\nalpha\n")
    client.put_object(Bucket=s3_bucket, Key="docs/b.md", Body=b"# B\n\nbeta\n")
    first = discover(f"s3://{s3_bucket}/docs")
    assert [first.relative(p) for p in first.files] == ["a.md", "b.md"]
    client.delete_object(Bucket=s3_bucket, Key="docs/a.md")
    client.put_object(Bucket=s3_bucket, Key="docs/c.md", Body=b"# C\n\ngamma\n")
    second = discover(f"s3://{s3_bucket}/docs")
    assert [second.relative(p) for p in second.files] == ["b.md", "c.md"]
    assert [d.pages[0][1] for d in load(second)] == ["# B\n\nbeta\n", "# C\n\ngamma\n"]


def test_staging_in_s3_carries_a_run_and_is_removed(local_s3, s3_bucket, hook, collection_name, monkeypatch):
    """``MILVUS_TOOLKIT_STAGING=s3://...``: batches, manifests and plans live in the bucket
    (credentials from aws_default) and the run folder is removed at the end."""
    monkeypatch.setenv("MILVUS_TOOLKIT_STAGING", f"s3://{s3_bucket}/staging")
    run = Run(hook, params_for(SAMPLE_CORPUS, collection_name), "s3_staging")
    assert run.manifest["run_folder"].startswith("s3://")
    run.all()
    assert hook.count(collection_name) == sum(len(ids) for ids in split_ids(SAMPLE_CORPUS).values())
    remove_run_folder(run.manifest["run_folder"])
    assert not staged_path(run.manifest["run_folder"]).exists()
    left = local_s3.client().list_objects_v2(Bucket=s3_bucket, Prefix="staging/").get("KeyCount")
    assert left == 0


@pytest.mark.airflow
def test_the_reindex_dag_reads_s3_with_the_connection(airflow_env, local_s3, s3_bucket, hook, alias, tmp_path):
    """A real ``airflow dags test``: the task processes get their credentials from the
    connection (AIRFLOW_CONN_AWS_DEFAULT, endpoint_url in its extra), not from the code."""
    files = upload_corpus(local_s3.client(), s3_bucket)
    env = {**airflow_env, "AIRFLOW_CONN_AWS_DEFAULT": local_s3.connection_json()}
    result = dags_test(env, "milvus_reindex", {"source": f"s3://{s3_bucket}/docs", "collection": alias})
    errors = [line for line in result.output.splitlines() if "error" in line.lower() or "Traceback" in line]
    assert result.returncode == 0, "\n".join(errors[:40]) + "\n...\n" + result.output[-2000:]
    assert served_ids(hook, alias) == expected_ids(local_copy(files, tmp_path / "docs"))
    assert local_s3.secret_key not in result.output, "the secret never reaches a log"


def test_an_s3_asset_event_runs_an_ingest_of_its_prefix(
    local_s3, s3_bucket, hook, collection_name, monkeypatch, tmp_path
):
    """``MILVUS_INGEST_TRIGGER_ASSET=s3://bucket/docs/`` schedules milvus_ingest on that Asset; a
    run triggered by its event takes the source from the event (credentials: ``source_conn_id``
    in the event's extra, else aws_default) and ingests the prefix."""
    import importlib.util
    from types import SimpleNamespace

    from milvus_toolkit import dag_support
    from milvus_toolkit.ingest.params import parse_params
    from tests.conftest import REPO

    monkeypatch.setenv("MILVUS_INGEST_TRIGGER_ASSET", f"s3://{s3_bucket}/docs/")
    spec = importlib.util.spec_from_file_location("milvus_ingest_on_s3", REPO / "dags" / "milvus_ingest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    (asset,) = module.milvus_ingest().timetable.asset_condition.objects
    assert asset.uri == f"s3://{s3_bucket}/docs"

    files = upload_corpus(local_s3.client(), s3_bucket)
    extra = {"collection": collection_name, "source_conn_id": "aws_default", "embedding": "deterministic"}
    context = {
        "params": {"source": None, "collection": None},
        "triggering_asset_events": {asset: [SimpleNamespace(extra=extra)]},
    }
    monkeypatch.setattr("airflow.sdk.get_current_context", lambda: context)
    params = dag_support.current_params(parse_params)
    assert (params.source, params.source_conn_id) == (f"s3://{s3_bucket}/docs", "aws_default")

    Run(hook, params, "asset").all()
    assert set(ids_in(hook, collection_name)) == expected_ids(local_copy(files, tmp_path / "docs"))
