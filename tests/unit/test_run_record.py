"""The run's staged record (counts per source, bad files, the smoke chunk, unlisted sources):
one private file in the run folder, typed on the way back, removed with the run folder."""

from __future__ import annotations

import os
import stat

import pytest
from upath import UPath

from milvus_toolkit.ingest.staging import RUN_RECORD, RunRecord, SplitManifest, remove_run_folder, run_folder


@pytest.fixture
def folder(tmp_path, monkeypatch):
    monkeypatch.setenv("MILVUS_TOOLKIT_STAGING", str(tmp_path / "staging"))
    return run_folder("milvus_ingest", "manual__1")


def test_the_record_round_trips_through_one_private_file_and_goes_with_the_run(folder):
    UPath(folder).mkdir(parents=True)
    old = os.umask(0)
    try:
        path = RunRecord(
            expected_counts={"a.md": 3, "b.md": 1},
            bad_files=[{"source": "c.pdf", "reason": "binary file (NUL bytes), not text"}],
            smoke_chunk={"id": "a-0", "text": "first chunk"},
        ).write(folder)
    finally:
        os.umask(old)
    assert UPath(path).name == RUN_RECORD and UPath(path).parent == UPath(folder)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600

    manifest = SplitManifest.of(SplitManifest(run_folder=str(folder), record_path=path).to_xcom())
    record = manifest.record()
    assert record.expected_counts == {"a.md": 3, "b.md": 1}
    assert record.bad_files == [{"source": "c.pdf", "reason": "binary file (NUL bytes), not text"}]
    assert record.smoke_chunk == {"id": "a-0", "text": "first chunk"} and record.unlisted == []

    record.unlisted = ["gone.md"]  # what prepare adds
    record.write(folder)
    assert manifest.record().unlisted == ["gone.md"] and manifest.record().expected_counts == record.expected_counts

    remove_run_folder(folder)
    assert not UPath(path).exists()
