"""The benchmarks' corpus: Markdown files of generated prose, deterministic given the seed.
Every file is seeded by (seed, file index) alone, so the first M files of a bigger corpus
are exactly a smaller corpus (hard links: no extra disk). Chunk counts come from the
toolkit's own reader and splitter at the DAG's default settings."""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from milvus_toolkit_dev.bench import local_home
from milvus_toolkit_dev.bench.workload import split_settings

COMMON = """the of and to in a is that for it as was with be by on not he this are or his from at
which but have an they you were her she there been one all we their has would when if so no will
more can out about up into them some could time these two may then do first any my now such like
our over man me even most made after also did many before must through back years where much your
way well down should because each just those people how too little state good very make world
still own see men work long get here between both life being under never day same another know
while last might us great old year off come since against go came right used take three""".split()
NOUNS = """vector index collection segment partition replica query shard embedding chunk document
corpus pipeline task schedule worker executor server client cluster node memory disk batch stream
buffer cache latency throughput harvest orchard tractor sprayer nozzle valve pump irrigation soil
seed field greenhouse season frost pruning grafting apple pear cherry vineyard compost mulch
fertilizer yield sensor weather forecast rainfall drought invoice supplier contract warehouse
pallet shipment forklift inventory ledger audit budget forecast storage network gateway""".split()
VERBS = """stores loads writes reads splits indexes searches returns holds builds checks repairs
measures moves sends drains fills covers protects tracks reports improves reduces doubles handles
replaces updates""".split()
ADJECTIVES = """fast slow large small early late dry wet cold warm new old heavy light sharp clean
robust careful daily weekly seasonal local remote stable""".split()
SECTIONS_PER_FILE = 20  # about 50 chunks per file at chunk_size 1000 / overlap 150


def _vocabulary():
    import numpy as np

    words = COMMON + NOUNS + VERBS + ADJECTIVES + [n.capitalize() for n in NOUNS]
    weights = np.concatenate(
        [
            np.full(len(COMMON), 3.0),
            np.full(len(NOUNS), 1.5),
            np.full(len(VERBS), 1.5),
            np.full(len(ADJECTIVES), 1.0),
            np.full(len(NOUNS), 0.2),
        ]
    )
    return np.array(words, dtype=object), weights / weights.sum()


def generate_file(seed: int, index: int, vocab, weights) -> str:
    """One Markdown document: a title, sections with headers, paragraphs of sentences."""
    import numpy as np

    rng = np.random.default_rng([seed, index])
    pick = lambda n: vocab[rng.choice(len(vocab), n, p=weights)]  # noqa: E731
    out = [f"# {' '.join(pick(4)).title()} {index}\n"]
    for section in range(SECTIONS_PER_FILE):
        out.append(f"\n## {' '.join(pick(3)).capitalize()} ({section + 1})\n")
        for _ in range(int(rng.integers(3, 7))):
            lengths = rng.integers(8, 22, size=int(rng.integers(3, 7)))
            words = pick(int(lengths.sum()))
            sentences, pos = [], 0
            for length in lengths:
                text = " ".join(words[pos : pos + length])
                pos += length
                sentences.append(text[0].upper() + text[1:] + ".")
            out.append("\n" + " ".join(sentences) + "\n")
    return "".join(out)


def corpus_root() -> Path:
    return local_home() / "bench-corpus"


def _count_chunks(text: str, name: str) -> int:
    from milvus_toolkit.ingest.documents import read_document
    from milvus_toolkit.ingest.splitting import split_document

    return len(split_document(read_document(name, text.encode()), split_settings()))


@dataclass
class CorpusInfo:
    folder: Path
    files: int
    bytes: int
    estimated_chunks: int
    seconds: float
    reused: bool


def make_corpus(seed: int, min_chunks: int) -> CorpusInfo:
    """Generate (or reuse) ``$LOCAL_HOME/bench-corpus/seed<seed>/full`` with >= ``min_chunks`` chunks
    (estimated from the first files; the exact count comes from the split in (a))."""
    folder = corpus_root() / f"seed{seed}" / "full"
    marker = folder.parent / "corpus.json"
    started = time.perf_counter()
    vocab, weights = _vocabulary()
    if marker.exists():
        info = json.loads(marker.read_text())
        if info.get("estimated_chunks", 0) >= min_chunks * 1.03 and folder.is_dir():
            files = sorted(folder.glob("doc-*.md"))
            if len(files) == info["files"]:
                return CorpusInfo(folder, info["files"], info["bytes"], info["estimated_chunks"], 0.0, True)
    shutil.rmtree(folder.parent, ignore_errors=True)
    folder.mkdir(parents=True)
    probe = [generate_file(seed, i, vocab, weights) for i in range(20)]
    per_file = sum(_count_chunks(t, f"doc-{i:05d}.md") for i, t in enumerate(probe)) / len(probe)
    n_files = int(min_chunks * 1.05 / per_file) + 1  # 5 % margin over the estimate
    total = 0
    for i in range(n_files):
        text = probe[i] if i < len(probe) else generate_file(seed, i, vocab, weights)
        data = text.encode("utf-8")
        (folder / f"doc-{i:05d}.md").write_bytes(data)
        total += len(data)
    info = {
        "seed": seed,
        "files": n_files,
        "bytes": total,
        "chunks_per_file": per_file,
        "estimated_chunks": int(per_file * n_files),
    }
    marker.write_text(json.dumps(info, indent=1))
    return CorpusInfo(folder, n_files, total, info["estimated_chunks"], time.perf_counter() - started, False)


def subset_corpus(full: CorpusInfo, chunks: int) -> Path:
    """The first files of the full corpus holding about ``chunks`` chunks (hard links)."""
    per_file = full.estimated_chunks / full.files
    n_files = min(full.files, int(chunks / per_file) + 1)
    folder = full.folder.parent / f"first-{n_files}-files"
    if not (folder.is_dir() and len(list(folder.glob("doc-*.md"))) == n_files):
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        for i in range(n_files):
            name = f"doc-{i:05d}.md"
            try:
                os.link(full.folder / name, folder / name)
            except OSError:
                shutil.copyfile(full.folder / name, folder / name)
    return folder
