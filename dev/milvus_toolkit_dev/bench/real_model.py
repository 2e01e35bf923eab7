"""The ingest benchmark with the real local model (``--embedding local``): all-MiniLM-L6-v2
through the toolkit's ``local`` embedding, on a corpus of about ``--model-chunks`` chunks.

One run, back to back, against the same Milvus server:

(m)  the model alone on the corpus's chunks (``embedding.run_alone``: sentence-transformers'
     own ``encode``, library defaults), before everything else and again at the end (the
     shared machine drifts); the faster of the two is the baseline of every ratio (a
     baseline slowed down by other sessions cannot flatter a ratio);
(mt) the toolkit's embedding as a write task drives it, without Milvus (``run_toolkit``);
(b)  the ``milvus_ingest`` DAG end to end (``airflow dags test``, ``embedding: local``): its
     write phase (the ``write_batch`` tasks' own seconds: embedding and writing, after the
     model is loaded) and its wall clock; peak RSS sampled during each task; which tasks
     asked for the model and where it was loaded (the toolkit's log lines);
(c)  the seeds' approach with the same model: one ``aadd_documents([chunk])`` per chunk, all
     gathered (``run_seeds_with_model``).
"""

from __future__ import annotations

import os
from pathlib import Path

from milvus_toolkit import embeddings as emb
from milvus_toolkit_dev.bench.corpus import make_corpus, subset_corpus
from milvus_toolkit_dev.bench.dag import run_dag
from milvus_toolkit_dev.bench.embedding import measure
from milvus_toolkit_dev.bench.workload import ingest_params, iter_chunks

TARGET_END_TO_END = 0.85  # issue 12: end to end at least 85 % of the model's own throughput


def prepare_corpus(seed: int, chunks: int) -> tuple[Path, dict]:
    """The first files of the seeded corpus holding about ``chunks`` chunks, and its facts
    (chunk count and mean length from the DAG's own splitter)."""
    full = make_corpus(seed, chunks)
    folder = subset_corpus(full, chunks)
    lengths = [len(c.page_content) for c in iter_chunks(ingest_params(str(folder), "bench_model", embedding="local"))]
    files = len(list(folder.glob("doc-*.md")))
    return folder, {
        "folder": str(folder),
        "files": files,
        "bytes": sum(p.stat().st_size for p in folder.glob("doc-*.md")),
        "chunks": len(lengths),
        "mean_chunk_chars": round(sum(lengths) / len(lengths), 1),
        "median_chunk_chars": sorted(lengths)[len(lengths) // 2],
    }


def settings(args) -> dict:
    runtime = emb.local_runtime(args.concurrency, emb.resolve_device(emb.requested_device()))
    return {
        "embedding": "local",
        "model": emb.LOCAL_MODEL,
        "model_chunks": args.model_chunks,
        "seed": args.seed,
        "batch_size": args.batch_size,
        "concurrency": args.concurrency,
        "mode": args.mode,
        "available_cores": emb.available_cores(),
        "write_task_runtime": {
            "device": runtime.device,
            "embedding_calls_at_once": runtime.calls,
            "torch_threads": runtime.threads,
        },
        "env": {key: os.environ.get(key) for key in (emb.DEVICE_ENV, emb.CALLS_ENV, emb.THREADS_ENV)},
    }


def run(args, result: dict, phase, names: dict, results: Path, stamp: str) -> None:
    """Every measurement of the model mode into ``result`` (``phase`` meters and cleans up)."""
    folder, facts = prepare_corpus(args.seed, args.model_chunks)
    result["corpus"] = facts
    print(
        f"corpus: {folder} ({facts['files']} files, {facts['chunks']} chunks of {facts['mean_chunk_chars']:.0f} "
        f"characters on average)",
        flush=True,
    )
    source = str(folder)
    log = lambda name: results / f"ingest-{stamp}-{name}.log"  # noqa: E731
    wanted = set(args.model_phases.split(","))
    print("(m) the model alone: SentenceTransformer.encode of every chunk ...", flush=True)
    result["m"] = phase("m", measure, "alone", source, log("model-alone"))
    print(f"    {result['m']['chunks_per_s']:.1f} chunks/s", flush=True)
    if "mt" in wanted:
        print(
            f"(mt) the toolkit's embedding as a write task drives it (concurrency {args.concurrency}), no Milvus ...",
            flush=True,
        )
        result["mt"] = phase("mt", measure, "toolkit", source, log("toolkit-embedding"), concurrency=args.concurrency)
        print(f"    {result['mt']['chunks_per_s']:.1f} chunks/s", flush=True)
    result["b"] = phase(
        "b", run_dag, source, names["b"], args.batch_size, args.concurrency, args.mode, log("b"), "local"
    )
    if "c" in wanted:
        slice_size = min(args.slice, facts["chunks"])
        result["c"] = phase(
            "c",
            measure,
            "seeds",
            source,
            log("seeds"),
            collection=names["c"],
            slice_size=slice_size,
            conn_id=args.conn_id,
        )
        print(
            f"    {result['c']['chunks']} calls ({result['c']['failed_calls']} failed) = "
            f"{result['c']['chunks_per_s']:.1f} chunks/s",
            flush=True,
        )
    print("(m) the model alone again (the machine is shared: the baseline is the faster of both) ...", flush=True)
    result["m_after"] = phase("m_after", measure, "alone", source, log("model-alone-after"))
    print(f"    {result['m_after']['chunks_per_s']:.1f} chunks/s", flush=True)


def compare(result: dict) -> None:
    """The figures the issue asks for, as ratios to the model alone (the faster of before and after)."""
    m, m_after, b = result["m"], result["m_after"], result["b"]
    baseline = max(m["chunks_per_s"], m_after["chunks_per_s"])
    writes = b["write_task_seconds"]["sum"]
    write_tasks_s = b["tasks"].get("write_batch", {}).get("seconds", 0.0)
    figures = {
        "model_alone_chunks_per_s": round(baseline, 2),
        "model_alone_before_after": [m["chunks_per_s"], m_after["chunks_per_s"]],
        "toolkit_embedding_chunks_per_s": result["mt"]["chunks_per_s"] if "mt" in result else None,
        "write_phase_chunks_per_s": round(b["chunks"] / writes, 2),
        "write_tasks_chunks_per_s": round(b["chunks"] / write_tasks_s, 2) if write_tasks_s else None,
        "end_to_end_chunks_per_s": b["chunks_per_s"],
        "seeds_chunks_per_s": result["c"]["chunks_per_s"] if "c" in result else None,
    }
    per = lambda rate: None if rate is None else rate / baseline  # noqa: E731
    ratios = {
        "toolkit_embedding_over_model": per(figures["toolkit_embedding_chunks_per_s"]),
        "write_phase_over_model": per(figures["write_phase_chunks_per_s"]),
        "write_tasks_over_model": per(figures["write_tasks_chunks_per_s"]),
        "end_to_end_over_model": per(figures["end_to_end_chunks_per_s"]),
        "seeds_over_model": per(figures["seeds_chunks_per_s"]),
        "end_to_end_over_seeds": (
            figures["end_to_end_chunks_per_s"] / figures["seeds_chunks_per_s"]
            if figures["seeds_chunks_per_s"]
            else None
        ),
    }
    # CPU per chunk is steadier than wall clock on a shared machine (it does not count the
    # time others held the cores): the model's own encode (the lower of its two runs), and
    # everything (b) and (c) burnt.
    phase_cpu = lambda run: round(1000 * run["cpu_during_phase"]["client_cpu_s"] / run["chunks"], 1)  # noqa: E731
    figures["cpu_ms_per_chunk"] = {
        "model_alone_encode": min(m["cpu_ms_per_chunk"], m_after["cpu_ms_per_chunk"]),
        "toolkit_embedding_encode": result["mt"]["cpu_ms_per_chunk"] if "mt" in result else None,
        "dag_end_to_end_all_processes": phase_cpu(b),
        "seeds_all": phase_cpu(result["c"]) if "c" in result else None,
    }
    figures["others_cores_during"] = {
        key: round(result[key]["cpu_during_phase"]["others_cpu_s"] / result[key]["cpu_during_phase"]["wall_s"], 2)
        for key in ("m", "mt", "b", "c", "m_after")
        if key in result and result[key]["cpu_during_phase"]["others_cpu_s"] is not None
    }
    result["figures"] = figures
    result["ratios"] = {k: None if v is None else round(v, 3) for k, v in ratios.items()}
    cpu = figures["cpu_ms_per_chunk"]
    result["ratios"]["cpu_model_encode_over_dag_end_to_end"] = round(
        cpu["model_alone_encode"] / cpu["dag_end_to_end_all_processes"], 3
    )
    lo, hi = sorted([m["chunks_per_s"], m_after["chunks_per_s"]])
    result["ratios"]["end_to_end_over_model_range"] = [
        round(b["chunks_per_s"] / hi, 3),
        round(b["chunks_per_s"] / lo, 3),
    ]
    result["targets"] = {
        f"end_to_end_over_model_ge_{TARGET_END_TO_END}": ratios["end_to_end_over_model"] >= TARGET_END_TO_END
    }
    result["model_loads"] = b.get("model")


def table(result: dict) -> str:
    s, corpus, f, r, b, c = (
        result["settings"],
        result["corpus"],
        result["figures"],
        result["ratios"],
        result["b"],
        result.get("c"),
    )
    model = b.get("model") or {}
    rt = s["write_task_runtime"]
    lines = [
        "",
        f"Ingest benchmark with the real model {result['timestamp']}  (SHARED machine: {os.cpu_count()} cores, "
        f"{s['available_cores']} available; other sessions may run at the same time; "
        f"load avg at start {result['load_avg_start']})",
        f"Milvus {result['milvus']['server_version']} at {result['milvus']['uri']}; {s['model']} on {rt['device']}; "
        f"corpus {corpus['files']} Markdown files, {corpus['chunks']} chunks of "
        f"{corpus['mean_chunk_chars']:.0f} characters on average",
        f"DAG: batch_size {s['batch_size']}, concurrency {s['concurrency']}, {s['mode']}; write task runs "
        f"{rt['embedding_calls_at_once']} embedding call(s) at once x {rt['torch_threads']} torch thread(s)",
        "",
        f"{'run':<78}{'chunks':>8}{'seconds':>9}{'chunks/s':>10}{'ratio':>8}",
        "-" * 113,
    ]

    def row(label: str, chunks, seconds, rate, ratio) -> None:
        lines.append(f"{label:<78}{chunks:>8}{seconds:>9.1f}{rate:>10.1f}{ratio:>8.2f}")

    m, ma, mt = result["m"], result["m_after"], result.get("mt")
    row(
        f"(m) model alone, before (SentenceTransformer.encode, {m['torch_threads']} torch threads)",
        m["chunks"],
        m["seconds"],
        m["chunks_per_s"],
        m["chunks_per_s"] / f["model_alone_chunks_per_s"],
    )
    row(
        "(m) model alone, after",
        ma["chunks"],
        ma["seconds"],
        ma["chunks_per_s"],
        ma["chunks_per_s"] / f["model_alone_chunks_per_s"],
    )
    if mt:
        row(
            f"(mt) toolkit embedding as a write task drives it ({mt['embedding_calls_at_once']} calls x "
            f"{mt['torch_threads']} threads), no Milvus",
            mt["chunks"],
            mt["seconds"],
            mt["chunks_per_s"],
            r["toolkit_embedding_over_model"],
        )
    ws = b["write_task_seconds"]["sum"]
    row(
        "(b) DAG write phase (write_batch's own seconds: embed + write, model loaded)",
        b["chunks"],
        ws,
        f["write_phase_chunks_per_s"],
        r["write_phase_over_model"],
    )
    if f["write_tasks_chunks_per_s"]:
        row(
            "    write_batch task instances (with task start and model load)",
            b["chunks"],
            b["tasks"]["write_batch"]["seconds"],
            f["write_tasks_chunks_per_s"],
            r["write_tasks_over_model"],
        )
    row(
        "(b) DAG end to end (airflow dags test milvus_ingest, wall clock)",
        b["chunks"],
        b["seconds"],
        b["chunks_per_s"],
        r["end_to_end_over_model"],
    )
    if c:
        row(
            f"(c) seeds: aadd_documents([chunk]) x{c['chunks']}, all gathered, same model",
            c["chunks"],
            c["seconds"],
            c["chunks_per_s"],
            r["seeds_over_model"],
        )
    if c and c.get("failed_calls"):
        lines.append(
            f"    (c): {c['failed_calls']} of {c['calls']} calls FAILED; chunks/s counts successful calls only"
        )
    target = TARGET_END_TO_END
    lines += [
        "-" * 113,
        f"ratio = chunks/s over the model alone ({f['model_alone_chunks_per_s']:.1f} chunks/s: the faster of before "
        f"{m['chunks_per_s']:.1f} and after {ma['chunks_per_s']:.1f})",
        f"end to end / model alone = {r['end_to_end_over_model']:.3f} (range {r['end_to_end_over_model_range'][0]:.3f}-"
        f"{r['end_to_end_over_model_range'][1]:.3f} against either)   "
        f"{'MET' if r['end_to_end_over_model'] >= target else 'NOT MET'} (target >= {target})",
        f"end to end / seeds = {r['end_to_end_over_seeds']:.2f}" if c else "seeds: not measured (--model-phases)",
        f"model loads: {model.get('loads_in_this_process')} in the dags-test process "
        f"({', '.join(str(x['task']) + ' ' + str(x['seconds']) + ' s' for x in model.get('loads', []))}); "
        f"tasks asking for the model: "
        f"{', '.join(model.get('tasks_asking_for_the_model', [])) or 'none'} (= loads under an executor: "
        f"{model.get('loads_under_an_executor')})",
        f"CPU ms per chunk: model alone (encode) {f['cpu_ms_per_chunk']['model_alone_encode']}, "
        f"toolkit embedding (encode) {f['cpu_ms_per_chunk']['toolkit_embedding_encode']}, DAG end to end (every "
        f"process of the run, Airflow and model load included) "
        f"{f['cpu_ms_per_chunk']['dag_end_to_end_all_processes']}, "
        f"seeds {f['cpu_ms_per_chunk']['seeds_all']}"
        f"  -> model encode / DAG end to end = {r['cpu_model_encode_over_dag_end_to_end']:.3f}",
        "",
        "peak RSS (MB): " + f"model alone {m['peak_rss_mb']:.0f} / {ma['peak_rss_mb']:.0f}, toolkit embedding "
        f"{mt['peak_rss_mb'] if mt else '-'}, seeds {c['peak_rss_mb'] if c else '-'} (each its own process); "
        f"DAG process tree {b['process_tree_peak_rss_mb']:.0f}",
        "    sampled during each DAG task (one dags-test process: memory a task leaves behind counts in later tasks):",
    ]
    for task, mb in b["peak_rss_mb_during_task"].items():
        lines.append(f"      {task:<22}{'-' if mb is None else round(mb):>7}")
    lines.append(f"    write_batch's own peak (ru_maxrss of the process): {b['peak_rss_mb_per_write_task']['max']:.0f}")
    lines += [
        "",
        "CPU seconds during each phase (client = this benchmark and its children, milvus = server, others = "
        "everything else on the shared machine):",
    ]
    for key, label in (("m", "(m)"), ("mt", "(mt)"), ("b", "(b)"), ("c", "(c)"), ("m_after", "(m) after")):
        run = result.get(key)
        if run and "cpu_during_phase" in run:
            x = run["cpu_during_phase"]
            lines.append(
                f"    {label:<10} wall {x['wall_s']:>6.1f} s  client {x['client_cpu_s']:>6.1f}  milvus "
                f"{x['milvus_cpu_s']}  others {x['others_cpu_s']} ({f['others_cores_during'].get(key, '?')} cores)  "
                f"machine busy {x['machine_busy_pct']:.0f} %  "
                f"load {x['load_avg_before'][0]} -> {x['load_avg_after'][0]}"
            )
    lines += ["", "(b) where the time goes (task_instance durations):"]
    for task_id, t in sorted(b["tasks"].items(), key=lambda kv: -kv[1]["seconds"]):
        lines.append(f"    {task_id:<20}{t['count']:>5} x  {t['seconds']:>8.1f} s")
    lines.append(
        f"    {'outside tasks':<20}{'':>5}    {b['outside_tasks_s']:>8.1f} s  (process start, DAG parse, scheduling)"
    )
    return "\n".join(lines)
