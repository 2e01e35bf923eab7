"""
### milvus_evaluate: how well does a serving collection answer its evaluation set?

Scores an evaluation set (JSONL: `query`, `expected_sources` and/or `expected_text`) on what
`collection` serves: hit rate, MRR and nDCG at k, dense (and BM25 and hybrid on a hybrid
collection). Appends the scores to `quality/<collection>.jsonl` in the benchmark's results
folder and redraws `quality/<collection>.png` (scores over time). Measures only: it gates
nothing and leaves the baseline validation compares with alone. Run by hand with
`collection` and `evaluation`; each declared index with `evaluate_schedule` gets a scheduled
`milvus_evaluate__<name>`. See docs/quality.md.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import partial

from airflow.sdk import AssetAlias, dag, get_current_context, task

from milvus_toolkit.dag_defaults import DEFAULT_ARGS
from milvus_toolkit.dag_support import fail_fast, log_report, milvus_asset, params_and_hook
from milvus_toolkit.declared import load_declarations
from milvus_toolkit.evaluation_history import evaluate_serving, parse_evaluate_params
from milvus_toolkit.forms import evaluate_form

EVALUATED = AssetAlias("milvus-evaluate")  # resolves at run time to Asset("milvus://<collection>")


def evaluate_dag(dag_id: str, *, schedule: str | None, form: dict, fixed: dict | None = None, doc: str = __doc__):
    setup = partial(params_and_hook, parse_evaluate_params, fixed)

    @dag(
        dag_id=dag_id,
        schedule=schedule,
        start_date=datetime(2026, 1, 1, tzinfo=UTC),
        catchup=False,
        max_active_runs=1,
        default_args=DEFAULT_ARGS,
        tags=["milvus", "evaluate", "quality"],
        doc_md=doc,
        params=form,
    )
    def pipeline_dag():
        @task(outlets=[EVALUATED], multiple_outputs=False)
        def evaluate() -> dict:
            (params, hook), ctx = setup(), get_current_context()
            with fail_fast():
                result = evaluate_serving(params, hook, run_id=ctx["run_id"])
            log_report(
                f"Evaluation of '{params.collection}' (serving '{result['serving']}', set {result['set']}, "
                f"{result['queries']} queries, k={result['k']}): "
                + ", ".join(f"{key} {value:.3f}" for key, value in result["scores"].items())
            )
            extra = {key: value for key, value in result.items() if key not in ("scores", "paths")}
            ctx["outlet_events"][EVALUATED].add(milvus_asset(params.collection), extra=extra)
            return result

        evaluate()

    return pipeline_dag()


evaluate_dag("milvus_evaluate", schedule=None, form=evaluate_form())
for index in load_declarations():
    if index.evaluation and index.evaluate_schedule:
        fixed = {
            key: value
            for key, value in index.run_params().items()
            if key in ("collection", "evaluation", "evaluation_k", "embedding", "embedding_dim", "tenant")
        }
        evaluate_dag(
            index.evaluate_dag_id,
            schedule=index.evaluate_schedule,
            fixed=fixed,
            form=evaluate_form(index),
            doc=f"### {index.evaluate_dag_id}\n\nEvaluates `{index.collection}` on `{index.evaluation}` "
            f"(declared index `{index.name}`).\n\n" + __doc__,
        )
