"""The README's "Running the DAGs locally" block, its DAG runs verbatim (issue 21: its own
`milvus_reindex` example with a relative source failed every run).

Each `airflow dags test` line runs as written, from the repository root, in the test
session's Airflow home against its Milvus (the `make` lines manage the developer's own
servers and `source scripts/dev-env.sh` points at them, so the session's environment stands
in for those three lines). Not run here: the benchmark line (about 7 minutes; the benchmark's
DAG test runs the same DAG with smaller counts) and `make airflow-up` / `airflow-down`
(tests/integration/test_celery.py and test_ui.py start that stack)."""

from __future__ import annotations

import re
import subprocess

import pytest

from tests.conftest import REPO

pytestmark = [pytest.mark.integration, pytest.mark.airflow]
NOT_HERE = ("milvus_benchmark",)


def readme_block() -> list[str]:
    text = (REPO / "README.md").read_text()
    section = text[text.index("## Running the DAGs locally") :]
    block = re.search(r"```bash\n(.*?)```", section, re.S).group(1)
    return [line.split("   #")[0].strip() for line in block.splitlines() if line.strip()]


def test_the_block_is_what_this_test_expects():
    lines = readme_block()
    assert lines[:3] == ["make milvus-up", "make airflow-init", "source scripts/dev-env.sh"]
    assert sum(line.startswith("airflow dags test") for line in lines) == 4


def test_every_dag_run_of_the_readme_block_succeeds_as_written(airflow_env, hook):
    runs = [
        line for line in readme_block() if line.startswith("airflow dags test") and not any(n in line for n in NOT_HERE)
    ]
    made = ("documents", "docs", "sample_corpus_docs")
    try:
        for line in runs:
            result = subprocess.run(
                ["bash", "-c", line], cwd=REPO, env=airflow_env, capture_output=True, text=True, timeout=600
            )
            assert result.returncode == 0, f"{line}\n{(result.stdout + result.stderr)[-5000:]}"
        assert hook.count("documents") > 0 and hook.describe_alias("docs") and hook.describe_alias("sample_corpus_docs")
    finally:
        for alias in made:
            target = hook.describe_alias(alias)
            if target:
                hook.drop_alias(alias)
        for name in hook.list_collections():
            if name in made or any(name.startswith(f"{alias}__") for alias in made):
                hook.drop_collection(name)
