"""The distribution's metadata and documentation: what get_provider_info declares imports,
pyproject's dependencies and version, langchain stays optional, and the README quotes the
system-test DAGs verbatim."""

from __future__ import annotations

import importlib
import inspect
import re
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest

import milvus_provider

REPO = Path(__file__).resolve().parents[3]
PLUGINS = REPO / "plugins"
SYSTEM = REPO / "tests" / "provider" / "system"


def test_provider_info_declares_operators_sensors_hooks_and_triggers_that_import():
    info = milvus_provider.get_provider_info()
    expected = {
        "operators": "milvus_provider.operators.milvus",
        "sensors": "milvus_provider.sensors.milvus",
        "hooks": "milvus_provider.hooks.milvus",
        "triggers": "milvus_provider.triggers.milvus",
    }
    integrations = {i["integration-name"] for i in info["integrations"]}
    for section, module_name in expected.items():
        (entry,) = info[section]
        assert entry["python-modules"] == [module_name]
        assert entry["integration-name"] in integrations
        module = importlib.import_module(module_name)
        assert any(inspect.isclass(obj) and obj.__module__ == module_name for obj in vars(module).values())


def test_provider_info_validates_against_airflows_schema_with_the_new_sections():
    from airflow.providers_manager import _create_provider_info_schema_validator

    _create_provider_info_schema_validator().validate(milvus_provider.get_provider_info())


def test_pyproject_version_dependencies_entry_point_and_optional_langchain():
    project = tomllib.loads((PLUGINS / "pyproject.toml").read_text())
    meta = project["project"]
    assert meta["name"] == milvus_provider.get_provider_info()["package-name"] == "airflow-provider-milvus"
    assert meta["dynamic"] == ["version"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "milvus_provider.__version__"}
    deps = meta["dependencies"]
    assert "apache-airflow>=3.0" in deps and "pymilvus>=2.5" in deps
    assert not any(d.startswith("langchain") for d in deps), "langchain is an optional extra"
    assert meta["optional-dependencies"]["langchain"] == ["langchain-core>=0.3"]
    assert meta["entry-points"]["apache_airflow_provider"] == {"provider_info": "milvus_provider:get_provider_info"}
    assert meta["readme"] == "README.md" and (PLUGINS / "README.md").exists()


def test_changelog_describes_the_current_version():
    changelog = (PLUGINS / "CHANGELOG.md").read_text()
    assert re.search(rf"^## {re.escape(milvus_provider.__version__)}$", changelog, re.M)


def test_operators_sensor_trigger_and_hook_import_without_langchain():
    code = (
        "import sys, milvus_provider.operators.milvus, milvus_provider.sensors.milvus, "
        "milvus_provider.triggers.milvus, milvus_provider.hooks.milvus, milvus_provider.utils.embeddings; "
        "print(sorted(m for m in sys.modules "
        "if m.split('.')[0] in ('langchain_milvus', 'langchain_core', 'langchain')))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd="/", capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"


def snippets() -> list[tuple[str, str]]:
    found = []
    for path in sorted(SYSTEM.glob("example_*.py")):
        text = path.read_text()
        for match in re.finditer(r"# \[START (\w+)\]\n(.*?)\n[ \t]*# \[END \1\]", text, re.S):
            snippet = textwrap.dedent(match.group(2)).rstrip("\n")  # ruff puts a blank line after a def
            found.append((f"{path.name}:{match.group(1)}", snippet))
    return found


def test_the_system_dags_mark_one_snippet_per_public_class():
    names = {name.split(":")[1] for name, _ in snippets()}
    assert {
        "howto_operator_milvus_create_collection",
        "howto_operator_milvus_ingest",
        "howto_operator_milvus_search",
        "howto_operator_milvus_alias",
        "howto_operator_milvus_drop_collection",
        "howto_sensor_milvus_collection",
        "howto_hook_milvus_search",
    } <= names


@pytest.mark.parametrize(("name", "snippet"), snippets(), ids=[name for name, _ in snippets()])
def test_readme_quotes_the_system_dag_snippet_verbatim(name, snippet):
    readme = (PLUGINS / "README.md").read_text()
    assert f"```python\n{snippet}\n```" in readme, f"README.md does not quote {name} as it is in the DAG"
