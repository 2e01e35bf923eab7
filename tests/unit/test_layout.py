"""The repository's layout (issue 11): developer tools live in their own package
(``dev/milvus_toolkit_dev``, dev venv only), outside the runtime package ``milvus_toolkit``
that every worker image installs; and runtime code never derives a path from where the
repository (or the code) lives, only from settings and the environment."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
RUNTIME = REPO / "include" / "milvus_toolkit"
DEV_NAMES = ("milvus_toolkit_dev", "local_milvus", "local_airflow")
IMPORT_CHECK = (
    "import milvus_toolkit.ingest.pipeline, milvus_toolkit.reindex, milvus_toolkit.sync, sys; "
    "print(sorted(m for m in sys.modules if m.startswith('milvus_toolkit_dev') "
    "or m.endswith(('local_milvus','local_airflow'))))"
)
IMPORT_ALL_CHECK = (
    "import importlib, pkgutil, sys, milvus_toolkit\n"
    "for info in pkgutil.walk_packages(milvus_toolkit.__path__, 'milvus_toolkit.'):\n"
    "    importlib.import_module(info.name)\n"
    "print(sorted(m for m in sys.modules if m.startswith('milvus_toolkit_dev') "
    "or m.endswith(('local_milvus','local_airflow'))))"
)


def runtime_modules() -> list[Path]:
    return sorted(RUNTIME.rglob("*.py"))


def run_python(code: str) -> str:
    # A fresh interpreter outside the repository: nothing the test session imported counts,
    # and the working directory puts nothing on sys.path.
    result = subprocess.run([sys.executable, "-c", code], cwd="/", capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_the_pipeline_imports_no_developer_tool():
    assert run_python(IMPORT_CHECK) == "[]"


def test_no_runtime_module_imports_a_developer_tool():
    assert run_python(IMPORT_ALL_CHECK) == "[]"


@pytest.mark.parametrize("path", runtime_modules(), ids=lambda p: str(p.relative_to(RUNTIME)))
def test_runtime_module_neither_mentions_repo_root_nor_imports_dev_tools(path):
    source = path.read_text()
    assert "REPO_ROOT" not in source, f"{path.relative_to(REPO)} derives paths from the repository's location"
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""] + [alias.name for alias in node.names]
        else:
            continue
        assert not [n for n in names if any(d in n for d in DEV_NAMES)], (
            f"{path.relative_to(REPO)}:{node.lineno} imports a developer tool: {names}"
        )


def test_developer_tools_live_in_their_own_package():
    assert not (RUNTIME / "local_milvus.py").exists() and not (RUNTIME / "local_airflow.py").exists()
    assert not (REPO / "include" / "sample_corpus_tools").exists()
    dev = REPO / "dev" / "milvus_toolkit_dev"
    for name in ("__init__.py", "local_milvus.py", "local_airflow.py", "sample_corpus/make_pdf.py"):
        assert (dev / name).is_file(), name
    assert 'name = "milvus-toolkit-dev"' in (REPO / "dev" / "pyproject.toml").read_text()
    # The runtime package's distribution finds packages under include/ only.
    assert re.search(r'where = \["include"\]', (REPO / "pyproject.toml").read_text())


def test_developer_tools_are_installed_in_the_dev_venv_only():
    makefile = (REPO / "Makefile").read_text()
    stamp_rule = next(line for line in makefile.splitlines() if line.startswith("$(STAMP):"))
    assert "dev/pyproject.toml" in stamp_rule.split(), "the venv reinstalls when the dev package changes"
    install = next(line for line in makefile.splitlines() if "--no-deps --no-build-isolation" in line)
    assert install.split()[-2:] == ["-e", "dev"]
    assert "milvus_toolkit.local_" not in makefile

    dockerfile = (REPO / "Dockerfile").read_text()
    code = [line for line in dockerfile.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    copied = [
        src for line in code if line.split()[0] == "COPY" for src in line.split()[1:-1] if not src.startswith("--")
    ]
    assert copied and not [src for src in copied if src.rstrip("/") in (".", "dev") or src.startswith("dev/")], copied
    assert not re.search(r"milvus_toolkit_dev|milvus-toolkit/dev\b", "\n".join(code)), "never installed in the image"
    assert "dev" in (REPO / ".dockerignore").read_text().splitlines(), "not even in the build context"


def test_staging_default_comes_from_the_environment_never_the_repository(monkeypatch, tmp_path):
    from milvus_toolkit.ingest.staging import staging_root

    monkeypatch.setenv("MILVUS_TOOLKIT_STAGING", str(tmp_path / "explicit"))
    assert Path(staging_root().path) == tmp_path / "explicit"
    monkeypatch.delenv("MILVUS_TOOLKIT_STAGING")
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path / "airflow"))
    assert Path(staging_root().path) == tmp_path / "airflow" / "milvus_toolkit" / "staging"
    monkeypatch.delenv("AIRFLOW_HOME")
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    default = Path(staging_root().path)
    assert default == tmp_path / "home" / ".local" / "share" / "milvus_toolkit" / "staging"
    assert REPO not in default.parents


def test_sample_corpus_is_the_data_beside_the_package():
    from milvus_toolkit.ingest.params import SAMPLE_CORPUS

    assert SAMPLE_CORPUS == RUNTIME.parent / "sample_corpus"
    assert (SAMPLE_CORPUS / "field-safety-policy.pdf").is_file()
