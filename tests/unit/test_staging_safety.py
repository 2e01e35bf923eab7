"""Run folders can never reach outside their place, and only run folders can be removed:
a run id such as ``..`` once made the end-of-run cleanup delete every other run's batches."""

from __future__ import annotations

import hashlib
import os
import re
import stat

import pytest
from langchain_core.documents import Document
from upath import UPath

from milvus_toolkit.ingest import staging
from milvus_toolkit.ingest.staging import BatchWriter, remove_run_folder, run_folder, staging_root, write_json

NAME = re.compile(r"^[A-Za-z0-9_-]{1,60}-[0-9a-f]{16}$")


@pytest.fixture
def root(tmp_path, monkeypatch):
    monkeypatch.setenv("MILVUS_TOOLKIT_STAGING", str(tmp_path / "staging"))
    return tmp_path / "staging"


def doc(i: int) -> Document:
    return Document(page_content=f"secret text {i}", metadata={"source": "a.md"}, id=f"id-{i}")


def test_a_dotdot_run_cannot_delete_other_runs(root):
    other = BatchWriter(run_folder("milvus_ingest", "scheduled__2026-01-01"), batch_size=10)
    other.add(doc(1))
    other.flush()

    folder = run_folder("milvus_ingest", "..")
    BatchWriter(folder, batch_size=10).add(doc(2))
    remove_run_folder(folder)

    assert UPath(other.batches[0].path).exists(), "another run's staged batch survives"


@pytest.mark.parametrize("dag_id", ["milvus_ingest", "..", ".", "a/../b"])
def test_run_folders_are_distinct_safe_names_inside_the_dag_folder(root, dag_id):
    run_ids = ["..", ".", "a/../b", "../../etc", "a b", "a_b", "a:b", "x" * 300, "manual__2026-01-01T00:00:00+00:00"]
    folders = [run_folder(dag_id, run_id) for run_id in run_ids]

    assert len({str(f) for f in folders}) == len(run_ids), "run ids that sanitize alike still get their own folder"
    dag_folder = folders[0].parent
    assert dag_folder.parent.resolve() == root.resolve()
    assert NAME.match(dag_folder.name)
    for run_id, folder in zip(run_ids, folders, strict=True):
        assert folder.parent == dag_folder and folder.resolve().parent == dag_folder.resolve()
        assert NAME.match(folder.name)
        assert folder.name.endswith(hashlib.sha256(run_id.encode()).hexdigest()[:16])


def test_remote_run_folders_have_no_dotdot_segment(monkeypatch):
    monkeypatch.setenv("MILVUS_TOOLKIT_STAGING", "memory:///staging")
    folder = run_folder("..", "..")
    assert ".." not in folder.parts
    assert folder.path.startswith("/staging/") and folder.parent.parent.path == "/staging"


def test_run_folder_refuses_a_name_that_escapes(root, monkeypatch):
    monkeypatch.setattr(staging, "safe_name", lambda value: "..")
    with pytest.raises(ValueError, match="outside"):
        run_folder("milvus_ingest", "r")


def test_remove_run_folder_refuses_anything_not_inside_the_staging_root(root, tmp_path):
    inside = run_folder("dag", "run")
    BatchWriter(inside, batch_size=10).add(doc(1))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (inside.parent / "link").symlink_to(elsewhere)

    for target in (root, tmp_path, elsewhere, inside / ".." / "..", inside.parent / "link", "/"):
        with pytest.raises(ValueError, match="staging"):
            remove_run_folder(target)
    assert root.exists() and elsewhere.exists() and inside.exists()

    remove_run_folder(str(inside))
    assert not inside.exists() and inside.parent.exists()


def test_remove_run_folder_on_remote_storage(monkeypatch):
    monkeypatch.setenv("MILVUS_TOOLKIT_STAGING", "memory:///staging")
    folder = run_folder("dag", "run")
    BatchWriter(folder, batch_size=1).add(doc(1))
    for target in ("memory:///staging", "memory:///", str(folder / ".." / ".."), "memory:///elsewhere/x"):
        with pytest.raises(ValueError, match="staging"):
            remove_run_folder(target)
    remove_run_folder(str(folder))
    assert not folder.exists() and staging_root().exists()


def test_staged_files_are_private_whatever_the_umask(root):
    old = os.umask(0)
    try:
        folder = run_folder("dag", "run")
        writer = BatchWriter(folder, batch_size=2)
        for i in range(3):
            writer.add(doc(i))
        writer.flush()
        path = UPath(write_json(folder / "expected_counts.json", {"a.md": 3}))
    finally:
        os.umask(old)

    def mode(p) -> int:
        return stat.S_IMODE(os.stat(p).st_mode)

    assert mode(folder) == 0o700
    assert [mode(b.path) for b in writer.batches] == [0o600, 0o600]
    assert mode(path) == 0o600
