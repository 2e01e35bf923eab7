"""The provider as Airflow sees it: entry point, provider info, connection form fields."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.metadata import entry_points

import milvus_provider


def test_entry_point_is_installed_and_returns_provider_info():
    eps = [ep for ep in entry_points(group="apache_airflow_provider") if ep.value.startswith("milvus_provider")]
    assert len(eps) == 1, "pip install -e plugins/ registers the provider"
    info = eps[0].load()()
    assert info["package-name"] == "airflow-provider-milvus"
    assert info["versions"] == [milvus_provider.__version__]


def test_provider_info_is_valid_against_airflows_schema():
    import jsonschema
    from airflow.providers_manager import _create_provider_info_schema_validator

    _create_provider_info_schema_validator().validate(milvus_provider.get_provider_info())
    # and the form schemas themselves are valid JSON Schema
    for field in milvus_provider.get_provider_info()["connection-types"][0]["conn-fields"].values():
        jsonschema.Draft7Validator.check_schema(field["schema"])


def test_connection_form_declares_the_milvus_fields():
    (conn_type,) = milvus_provider.get_provider_info()["connection-types"]
    assert conn_type["connection-type"] == "milvus"
    assert conn_type["hook-class-name"] == "milvus_provider.hooks.milvus.MilvusHook"
    fields = conn_type["conn-fields"]
    assert {"token", "secure", "server_pem_path", "timeout"} <= set(fields)
    assert fields["token"]["schema"]["format"] == "password"  # masked input, sensitive
    assert fields["secure"]["schema"]["type"] == ["boolean", "null"]
    behaviour = conn_type["ui-field-behaviour"]
    assert behaviour["relabeling"]["host"] == "URI" and behaviour["relabeling"]["schema"] == "Database"
    assert "host" in behaviour["placeholders"]


def test_airflow_providers_manager_lists_the_connection_type_and_widgets():
    # A fresh interpreter: ProvidersManager caches discovery per process.
    code = (
        "import json; from airflow.providers_manager import ProvidersManager as P; p=P();"
        "w={k:v.is_sensitive for k,v in p.connection_form_widgets.items() if k.startswith('extra__milvus__')};"
        "print(json.dumps({'hook': p.hooks['milvus'].hook_class_name, 'widgets': w,"
        " 'behaviour': p.field_behaviours['milvus']}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    data = json.loads(out.stdout.strip().splitlines()[-1])
    assert data["hook"] == "milvus_provider.hooks.milvus.MilvusHook"
    assert data["widgets"]["extra__milvus__token"] is True
    assert data["widgets"]["extra__milvus__timeout"] is False
    assert data["behaviour"]["relabeling"]["login"] == "User"


def test_hook_class_attributes_follow_provider_conventions():
    from milvus_provider.hooks.milvus import MilvusHook

    assert MilvusHook.conn_type == "milvus"
    assert MilvusHook.default_conn_name == "milvus_default"
    assert MilvusHook.conn_name_attr == "milvus_conn_id"
