"""The figures the toolkit adds to its Asset events for the Milvus view (docs/ui.md)."""

from __future__ import annotations

import milvus_toolkit.view_figures as view_figures_module
from milvus_toolkit.view_figures import strong_count, view_figures


def test_ingest_figures_gain_the_view_keys():
    figures = {"rows_written": 12, "rows_deleted": 3, "total_seconds": 4.5, "validation": "passed"}
    extra = view_figures(figures, {"sources": 2, "other_sources_in_collection": 5}, rows=40)
    assert extra == {**figures, "added": 12, "deleted": 3, "sources": 7, "rows": 40, "duration_s": 4.5}


def test_reindex_figures_keep_their_own_keys_and_time_the_run(monkeypatch):
    monkeypatch.setattr(view_figures_module.time, "time", lambda: 1_000.0)  # a frozen clock, not a measured time
    figures = {"added": 1, "deleted": 0, "validation": "passed", "quality.ndcg": 0.8}
    extra = view_figures(figures, {"sources": 3}, rows=None, started=990.0)
    assert (extra["added"], extra["deleted"], extra["sources"], extra["quality.ndcg"]) == (1, 0, 3, 0.8)
    assert "rows" not in extra
    assert extra["duration_s"] == 10.0


def test_a_count_that_fails_leaves_the_figure_out():
    class Down:
        def count(self, name):
            raise RuntimeError("Milvus is down")

    assert strong_count(Down(), "docs") is None
