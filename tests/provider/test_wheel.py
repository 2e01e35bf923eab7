"""The provider as a distribution people install on its own: build its wheel from a clean
copy of plugins/, install it with apache-airflow==3.3.2 into a fresh virtual environment
(nothing from this repository on sys.path), and check Airflow's provider discovery there.

Also checks the layout decision: the same package imports from an Airflow plugins folder
without being installed (flat ``plugins/milvus_provider``, the plugins folder on sys.path).

Installs come from the configured package index; versions are pinned with the repository's
requirements.lock as a constraints file (the resolver then has nothing to search), so a warm
pip cache makes this take about a minute.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import milvus_provider

REPO = Path(__file__).resolve().parents[2]
PLUGINS = REPO / "plugins"
LOCK = REPO / "requirements.lock"
WHEEL_NAME = f"airflow_provider_milvus-{milvus_provider.__version__}-py3-none-any.whl"


def run(args, *, env=None, cwd=None, timeout=600) -> str:
    result = subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{args}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result.stdout


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("provider-wheel")


@pytest.fixture(scope="module")
def plugins_copy(work) -> Path:
    """plugins/ without build leftovers: the wheel is built from what is in git's tree."""
    target = work / "plugins"
    shutil.copytree(PLUGINS, target, ignore=shutil.ignore_patterns("__pycache__", "build", "dist", "*.egg-info"))
    return target


@pytest.fixture(scope="module")
def wheel(work, plugins_copy) -> Path:
    dist = work / "dist"
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", str(plugins_copy), "-w", str(dist)], timeout=300)
    wheels = sorted(p.name for p in dist.iterdir())
    assert wheels == [WHEEL_NAME]
    return dist / WHEEL_NAME


@pytest.fixture(scope="module")
def fresh_venv(work, plugins_copy, wheel):
    """A new venv with apache-airflow 3.3.2; first the plugins-folder probe (provider not
    installed), then the wheel installed. Returns (python, env, probe output)."""
    venv = work / "venv"
    run([sys.executable, "-m", "venv", str(venv)], timeout=120)
    python = venv / "bin" / "python"
    pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-c", str(LOCK)]
    run([*pip, "apache-airflow==3.3.2"], timeout=900)

    home = work / "airflow-home"
    home.mkdir()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AIRFLOW", "PYTHON", "VIRTUAL_ENV")) and key != "MILVUS_TOOLKIT_HOME"
    }
    env.update(
        PATH=f"{venv / 'bin'}:{env.get('PATH', '')}",
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{home}/airflow.db",
    )
    probe = (
        "import importlib.util, airflow, milvus_provider, milvus_provider.operators.milvus, "
        "milvus_provider.sensors.milvus, milvus_provider.triggers.milvus; "
        "print(milvus_provider.__file__); print(importlib.util.find_spec('pymilvus') is None)"
    )
    plugins_probe = run(
        [str(python), "-c", probe], env={**env, "AIRFLOW__CORE__PLUGINS_FOLDER": str(plugins_copy)}, cwd=work
    )

    run([*pip, str(wheel)], timeout=900)
    empty_plugins = work / "no-plugins"
    empty_plugins.mkdir()
    env["AIRFLOW__CORE__PLUGINS_FOLDER"] = str(empty_plugins)
    return python, env, plugins_probe


def test_the_wheel_holds_the_package_its_metadata_and_entry_point(wheel):
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        dist_info = f"airflow_provider_milvus-{milvus_provider.__version__}.dist-info"
        metadata = zf.read(f"{dist_info}/METADATA").decode()
        entry_points = zf.read(f"{dist_info}/entry_points.txt").decode()
    for module in (
        "__init__",
        "config",
        "hooks/milvus",
        "operators/milvus",
        "sensors/milvus",
        "triggers/milvus",
        "utils/embeddings",
    ):
        assert f"milvus_provider/{module}.py" in names
    assert "milvus_provider/py.typed" in names
    assert {name.split("/")[0] for name in names} == {"milvus_provider", dist_info}, "nothing else is packaged"
    assert f"Version: {milvus_provider.__version__}" in metadata
    assert "Requires-Dist: apache-airflow>=3.0" in metadata and "Requires-Dist: pymilvus>=2.5" in metadata
    assert 'Requires-Dist: langchain-core>=0.3; extra == "langchain"' in metadata
    assert "## Operators" in metadata, "the README is the long description"
    assert "[apache_airflow_provider]\nprovider_info = milvus_provider:get_provider_info" in entry_points


def test_without_installing_it_the_package_imports_from_an_airflow_plugins_folder(fresh_venv, plugins_copy):
    _, _, probe = fresh_venv
    module_file, no_pymilvus = probe.strip().splitlines()[-2:]
    assert module_file == str(plugins_copy / "milvus_provider" / "__init__.py")
    assert no_pymilvus == "True", "operators, sensor and trigger import before pymilvus is even installed"


def test_airflow_discovers_the_installed_provider_in_a_fresh_venv(fresh_venv, work):
    python, env, _ = fresh_venv
    airflow = str(Path(python).parent / "airflow")

    hooks = json.loads(run([airflow, "providers", "hooks", "-o", "json"], env=env, cwd=work))
    (milvus,) = [h for h in hooks if h["connection_type"] == "milvus"]
    assert milvus["class"] == "milvus_provider.hooks.milvus.MilvusHook"
    assert milvus["package_name"] == "airflow-provider-milvus"

    providers = json.loads(run([airflow, "providers", "list", "-o", "json"], env=env, cwd=work))
    versions = {p["package_name"]: p["version"] for p in providers}
    assert versions["airflow-provider-milvus"] == milvus_provider.__version__

    triggers = json.loads(run([airflow, "providers", "triggers", "-o", "json"], env=env, cwd=work))
    assert {
        "package_name": "airflow-provider-milvus",
        "class": "milvus_provider.triggers.milvus",
        "integration_name": "Milvus",
    } in triggers

    check = (
        "import json, importlib.util, milvus_provider, sysconfig\n"
        "from milvus_provider.operators.milvus import (MilvusIngestOperator, MilvusSearchOperator,\n"
        "    MilvusCreateCollectionOperator, MilvusDropCollectionOperator, MilvusAliasOperator)\n"
        "from milvus_provider.sensors.milvus import MilvusCollectionSensor\n"
        "from milvus_provider.triggers.milvus import MilvusCollectionTrigger\n"
        "from airflow.providers_manager import ProvidersManager\n"
        "pm = ProvidersManager()\n"
        "info = pm.providers['airflow-provider-milvus']\n"
        "print(json.dumps({\n"
        "  'file': milvus_provider.__file__, 'site': sysconfig.get_paths()['purelib'],\n"
        "  'version': info.version, 'hook': pm.hooks['milvus'].hook_class_name,\n"
        "  'widgets': sorted(k for k in pm.connection_form_widgets if k.startswith('extra__milvus__')),\n"
        "  'operators': info.data['operators'][0]['python-modules'],\n"
        "  'sensors': info.data['sensors'][0]['python-modules'],\n"
        "  'trigger': MilvusCollectionTrigger('c').serialize()[0],\n"
        "  'langchain_installed': importlib.util.find_spec('langchain_core') is not None,\n"
        "}))\n"
    )
    data = json.loads(run([str(python), "-c", check], env=env, cwd=work).strip().splitlines()[-1])
    assert data["file"].startswith(data["site"]), "imported from the installed wheel, not the repository"
    assert data["version"] == milvus_provider.__version__
    assert data["hook"] == "milvus_provider.hooks.milvus.MilvusHook"
    assert "extra__milvus__token" in data["widgets"] and "extra__milvus__timeout" in data["widgets"]
    assert data["operators"] == ["milvus_provider.operators.milvus"]
    assert data["sensors"] == ["milvus_provider.sensors.milvus"]
    assert data["trigger"] == "milvus_provider.triggers.milvus.MilvusCollectionTrigger"
    assert data["langchain_installed"] is False, "langchain is only an optional extra"
