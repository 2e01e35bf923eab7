"""The DAGs' params forms are built from the pydantic params models, so they cannot drift:
every form param has its model field's default, bounds, enum and pattern, and the form and the
model refuse the same out-of-bounds values."""

from __future__ import annotations

import typing

import annotated_types
import pytest

from milvus_toolkit import forms
from milvus_toolkit.benchmark.plan import BenchmarkParams
from milvus_toolkit.declared import IndexDeclaration
from milvus_toolkit.evaluation_history import EvaluateParams
from milvus_toolkit.ingest.params import IngestParams, ParamsError, parse_model
from milvus_toolkit.reindex import ReindexParams
from milvus_toolkit.rules import EMBEDDING_NAMES

REQUIRED = {"source": "/tmp/corpus", "collection": "docs", "evaluation": "/tmp/set.jsonl"}


@pytest.fixture(autouse=True)
def _no_embedding_from_the_environment(monkeypatch):
    monkeypatch.delenv(forms.EMBEDDING_ENV, raising=False)


def all_forms():
    return forms.forms()


def _literal_values(annotation) -> list | None:
    """The values a Literal (or Literal | None) annotation allows, read from the type itself."""
    if typing.get_origin(annotation) is typing.Literal:
        return list(typing.get_args(annotation))
    others = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
    if len(others) == 1 and typing.get_origin(others[0]) is typing.Literal:  # Literal | None
        return list(typing.get_args(others[0]))
    return None


def _model_bounds(field) -> dict:
    """The field's bounds as pydantic enforces them (annotated_types metadata) plus the bounds a
    validator checks and gives to the form (json_schema_extra)."""
    names = {
        annotated_types.Ge: ("minimum", "ge"),
        annotated_types.Le: ("maximum", "le"),
        annotated_types.Gt: ("exclusiveMinimum", "gt"),
        annotated_types.Lt: ("exclusiveMaximum", "lt"),
        annotated_types.MinLen: ("minLength", "min_length"),
    }
    bounds = {}
    for meta in field.metadata:
        for kind, (key, attr) in names.items():
            if isinstance(meta, kind):
                bounds[key] = getattr(meta, attr)
    extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
    bounds.update({key: value for key, value in extra.items() if key in forms._SCHEMA_KEYS})
    return bounds


@pytest.mark.parametrize("form_name", ["ingest", "reindex", "evaluate", "benchmark"])
def test_every_form_param_matches_its_model_field(form_name):
    model, form = all_forms()[form_name]
    assert form, form_name
    for name in form:
        param = form[name]
        field = model.model_fields[name]
        where = f"{form_name}.{name}"
        if field.is_required():
            assert param.value is None, f"{where}: a required param has no default in the form"
            assert param.description.startswith("Required."), where
        else:
            assert param.value == field.get_default(call_default_factory=True), where
        for key, value in _model_bounds(field).items():
            assert param.schema.get(key) == value, f"{where}: {key} {param.schema.get(key)!r} != model's {value!r}"
        if typing.get_origin(field.annotation) is list:  # a list of choices: the form's items carry the enum
            enum, schema = _literal_values(typing.get_args(field.annotation)[0]), param.schema["items"]
        else:
            enum, schema = _literal_values(field.annotation), param.schema
        if enum is not None:
            assert schema["enum"] == enum, where
        assert param.schema["title"] == field.title and param.description.endswith(field.description), where


def test_forms_show_the_same_params_as_before():
    """The param sets of the forms (the model may accept more: reindex never shows mode or concurrency)."""
    shared = set(forms.SOURCE_AND_SPLIT + forms.SAFETY)
    assert set(forms.ingest_form()) == shared | {"mode", "batch_size", "concurrency"} | set(forms.QUALITY)
    reindex = set(forms.reindex_form())
    assert reindex == shared | set(forms.OPERATIONAL) | set(forms.QUALITY)
    assert "mode" not in reindex and "concurrency" not in reindex
    assert set(forms.benchmark_form()) == set(BenchmarkParams.model_fields)
    assert set(forms.evaluate_form()) == set(EvaluateParams.model_fields)


@pytest.mark.parametrize("form_name", ["ingest", "reindex", "evaluate", "benchmark"])
def test_the_form_and_the_model_refuse_the_same_out_of_bounds_values(form_name):
    from airflow.sdk.definitions.param import ParamValidationError

    model, form = all_forms()[form_name]
    checked = 0
    for name in form:
        param = form[name]
        for key, outside in (("minimum", -1), ("maximum", +1)):
            if key not in param.schema:
                continue
            bad = param.schema[key] + outside
            with pytest.raises(ParamValidationError):
                param.resolve(bad)
            raw = {**REQUIRED, name: bad} if model is not BenchmarkParams else {name: bad}
            if model is not BenchmarkParams:
                raw = {k: v for k, v in raw.items() if k in model.model_fields}
                with pytest.raises(ParamsError, match=name):
                    parse_model(model, raw, form_name)
            else:
                with pytest.raises(Exception, match=name if name != "dim" else "dimension"):
                    BenchmarkParams.parse(raw)
            checked += 1
    assert checked >= 3, f"{form_name}: bounds were checked"


@pytest.mark.parametrize("form_name", ["ingest", "reindex", "evaluate"])
def test_required_params_stay_required(form_name):
    """A run never acts on defaults it was not given: the form's empty source/collection fail in the model."""
    model, form = all_forms()[form_name]
    values = {name: form[name].value for name in form}
    with pytest.raises(ParamsError, match="is required"):
        parse_model(model, {k: v for k, v in values.items() if k in model.model_fields}, form_name)
    filled = {**values, **{k: v for k, v in REQUIRED.items() if k in model.model_fields}}
    parse_model(model, {k: v for k, v in filled.items() if k in model.model_fields}, form_name)


def test_the_embedding_names_have_one_home(monkeypatch):
    for model in (IngestParams, ReindexParams, EvaluateParams, BenchmarkParams, IndexDeclaration):
        assert tuple(_literal_values(model.model_fields["embedding"].annotation)) == EMBEDDING_NAMES, model
    monkeypatch.setenv(forms.EMBEDDING_ENV, "deterministic")
    assert forms.ingest_form()["embedding"].value == "deterministic"
    assert forms.evaluate_form()["embedding"].value == "deterministic"
    assert forms.benchmark_form()["embedding"].value == "deterministic"  # the benchmark's own default
    monkeypatch.setenv(forms.EMBEDDING_ENV, "openai")
    assert forms.reindex_form()["embedding"].value == "openai"
    assert forms.benchmark_form()["embedding"].value == "deterministic"


def test_a_declared_index_form_takes_its_declared_defaults():
    index = IndexDeclaration(
        name="docs",
        source="/tmp/corpus",
        collection="docs",
        keep_builds=3,
        max_delete_percent=2.5,
        evaluation="/tmp/set.jsonl",
        evaluation_k=7,
        min_quality=0.4,
        max_quality_drop=0.05,
    )
    form = forms.declared_reindex_form(index)
    assert "source" not in form and "collection" not in form and "embedding" not in form
    expected = {"keep_builds": 3, "max_delete_percent": 2.5, "evaluation": "/tmp/set.jsonl", "evaluation_k": 7}
    expected |= {"min_quality": 0.4, "max_quality_drop": 0.05, "strategy": "incremental", "force_swap": False}
    assert {name: form[name].value for name in expected} == expected
    assert form["keep_builds"].schema["maximum"] == _model_bounds(ReindexParams.model_fields["keep_builds"])["maximum"]
    assert list(forms.evaluate_form(index)) == ["milvus_conn_id"]
