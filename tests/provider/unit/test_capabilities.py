"""Server capabilities read from the version each Milvus flavour reports."""

from __future__ import annotations

import pytest

from milvus_provider.hooks.capabilities import ServerCapabilities, UnsupportedFeatureError


@pytest.mark.parametrize(
    "version, flavor, api, bm25, hybrid, auth",
    [
        ("v2.3.5-lite", "milvus", (2, 3), False, False, True),
        ("v2.4.13", "milvus", (2, 4), False, True, True),
        ("v2.5.4", "milvus", (2, 5), True, True, True),
        ("2.6.0", "milvus", (2, 6), True, True, True),
        ("milvus_lite-3.2.2", "milvus-lite", (2, 5), True, True, False),
        ("Zilliz Cloud Vector Database(Compatible with Milvus 2.5)", "zilliz-cloud", (2, 5), True, True, True),
        ("something else", "unknown", None, False, False, False),
    ],
)
def test_versions_of_each_flavour(version, flavor, api, bm25, hybrid, auth):
    caps = ServerCapabilities.from_version(version)
    assert (caps.flavor, caps.milvus_api, caps.bm25, caps.hybrid_search, caps.authentication) == (
        flavor,
        api,
        bm25,
        hybrid,
        auth,
    )
    assert caps.to_dict()["version"] == version


def test_require_names_the_server_version_the_feature_and_the_release_that_has_it():
    caps = ServerCapabilities.from_version("v2.3.5-lite")
    caps.require(["partition_key", "aliases"], where="http://h:19530")  # 2.3 has these
    with pytest.raises(UnsupportedFeatureError) as excinfo:
        caps.require(["bm25", "partition_key"], where="http://h:19530", action="create collection 'c'")
    message = str(excinfo.value)
    assert "v2.3.5-lite at http://h:19530 does not support bm25" in message
    assert "needs Milvus 2.5+" in message and "nothing was created or written" in message
    with pytest.raises(ValueError, match="unknown Milvus feature"):
        caps.supports("time_travel")


def test_describe_lists_what_is_and_is_not_supported():
    text = ServerCapabilities.from_version("milvus_lite-3.2.2").describe()
    assert (
        text == "milvus-lite, Milvus 2.5 API; supports: bm25, hybrid_search, partition_key, aliases; "
        "not: filter_params, authentication"
    )
