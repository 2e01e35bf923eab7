"""Parameterized filters (issue 23, item 5) against real servers: a value bound with
``filter_params`` cannot change the expression, where the same value formatted into the
filter string reads (and deletes) another tenant's rows.

Neither test server has expression templates (Milvus 2.3.5 predates them; Milvus Lite 3.2.2
answers "unexpected character '{'"), so on both the hook writes each bound value as an
escaped literal; a Milvus 2.5+ server binds them itself (unit-tested with a fake client).
"""

from __future__ import annotations

import asyncio

EVIL = 'nobody" or tenant != "'
ROWS = [
    {"id": "a1", "vector": [1.0, 0.0], "tenant": "acme"},
    {"id": "a2", "vector": [0.9, 0.1], "tenant": "acme"},
    {"id": "b1", "vector": [0.0, 1.0], "tenant": "other"},
]


def _fill(hook, name):
    hook.create_collection(name, 2, varchar_fields={"tenant": 64})
    assert hook.upsert(name, ROWS) == 3


def test_bound_values_never_widen_a_filter(server_hook, collection_name):
    hook, name = server_hook, collection_name
    _fill(hook, name)

    # The hazard: the value formatted into the string reads every tenant.
    formatted = f'tenant == "{EVIL}"'
    assert {row["id"] for row in hook.query(name, formatted, output_fields=["tenant"])} == {"a1", "a2", "b1"}

    template, params = "tenant == {t}", {"t": EVIL}
    assert hook.query(name, template, filter_params=params) == []
    assert hook.count(name, template, filter_params=params) == 0
    assert hook.search(
        name, [[1.0, 0.0]], limit=3, filter=template, filter_params=params, consistency_level="Strong"
    ) == [[]]
    assert list(hook.iter_rows(name, ["tenant"], filter=template, filter_params=params, batch_size=2)) == []
    assert hook.collection_state(name, filter=template, filter_params=params)["row_count"] == 0
    hook.delete(name, filter=template, filter_params=params)
    assert hook.count(name) == 3  # the bound value deleted nothing

    async def twins():
        return (
            await hook.aquery(name, template, filter_params=params),
            await hook.acount(name, template, filter_params=params),
            await hook.asearch(
                name, [[1.0, 0.0]], limit=3, filter=template, filter_params=params, consistency_level="Strong"
            ),
            (await hook.acollection_state(name, filter=template, filter_params=params))["row_count"],
            await hook.adelete(name, filter=template, filter_params=params),
        )

    rows, count, hits, state_count, _ = asyncio.run(twins())
    assert (rows, count, hits, state_count) == ([], 0, [[]], 0)
    assert hook.count(name) == 3

    # The same template with an honest value reads (and deletes) exactly that tenant.
    assert {r["id"] for r in hook.query(name, template, filter_params={"t": "acme"})} == {"a1", "a2"}
    assert hook.count(name, "tenant in {ts}", filter_params={"ts": ["other", EVIL, 'a\\"b']}) == 1
    assert (
        hook.count(name, 'tenant == "{t}" or tenant == {t}', filter_params={"t": "acme"}) == 2
    )  # a literal "{t}" stays text
    assert [
        [h["id"] for h in q]
        for q in hook.search(
            name, [[1.0, 0.0]], limit=3, filter=template, filter_params={"t": "other"}, consistency_level="Strong"
        )
    ] == [["b1"]]
    hook.delete(name, filter=template, filter_params={"t": "other"})
    assert {r["id"] for r in hook.query(name, "", output_fields=["tenant"], limit=10)} == {"a1", "a2"}
