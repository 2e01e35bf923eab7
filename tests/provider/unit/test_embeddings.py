"""resolve_embedding: LangChain Embeddings objects, plain callables and import paths."""

from __future__ import annotations

import asyncio

import pytest
from langchain_core.embeddings import DeterministicFakeEmbedding

from milvus_provider.utils.embeddings import EmbeddingAdapter, resolve_embedding


def toy_embedding(texts):
    return [[float(len(text)), 1.0] for text in texts]


class ToyEmbeddings:
    """A no-argument class, as an import path may name."""

    def embed_documents(self, texts):
        return toy_embedding(texts)

    def embed_query(self, text):
        return [0.0, float(len(text))]


def test_none_stays_none():
    assert resolve_embedding(None) is None


def test_a_langchain_embeddings_object():
    embedding = DeterministicFakeEmbedding(size=3)
    adapter = resolve_embedding(embedding)
    assert adapter.embed_documents(["a", "b"]) == embedding.embed_documents(["a", "b"])
    assert adapter.embed_query("a") == embedding.embed_query("a")
    assert asyncio.run(adapter.aembed_documents(["a"])) == embedding.embed_documents(["a"])


def test_a_callable():
    adapter = resolve_embedding(toy_embedding)
    assert adapter.embed_documents(["abc"]) == [[3.0, 1.0]]
    assert adapter.embed_query("abcd") == [4.0, 1.0]
    assert asyncio.run(adapter.aembed_documents(["ab"])) == [[2.0, 1.0]]


@pytest.mark.parametrize(
    "path",
    [
        "tests.provider.unit.test_embeddings:toy_embedding",
        "tests.provider.unit.test_embeddings.toy_embedding",
        "tests.provider.unit.test_embeddings:ToyEmbeddings",
    ],
)
def test_an_import_path(path):
    adapter = resolve_embedding(path)
    assert isinstance(adapter, EmbeddingAdapter)
    assert adapter.embed_documents(["abc"]) == [[3.0, 1.0]]


def test_bad_values_are_refused_clearly():
    with pytest.raises(TypeError, match="LangChain Embeddings"):
        resolve_embedding(42)
    with pytest.raises(ImportError, match="no attribute 'missing'"):
        resolve_embedding("tests.provider.unit.test_embeddings:missing")
    with pytest.raises(ValueError, match="returned 1 vectors for 2 texts"):
        resolve_embedding(lambda texts: [[1.0]]).embed_documents(["a", "b"])
