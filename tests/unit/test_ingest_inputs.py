"""Params, discovery, decoding and file-type handling of the ingest pipeline."""

from __future__ import annotations

import random

import pytest
from milvus_toolkit.ingest.documents import BadFile, SourceError, decode_text, discover, load, read_document
from milvus_toolkit.ingest.params import SAMPLE_CORPUS, ParamsError, parse_params

_rng = random.Random(1)
NOISE = bytes(_rng.randrange(128, 256) for _ in range(3000))  # no NUL byte, yet no text encoding fits


def test_defaults_point_at_the_sample_corpus():
    params = parse_params({"source": str(SAMPLE_CORPUS)})
    assert (params.collection, params.mode, params.splitter, params.embedding) == ("documents", "upsert", "auto", "local")


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"chunk_size": 500, "chunk_overlap": 500}, "chunk_overlap (500) must be smaller than chunk_size (500)"),
        ({"chunk_size": 10}, "param 'chunk_size'"),
        ({"collection": "9lives"}, "param 'collection'"),
        ({"collection": "with-dash"}, "param 'collection'"),
        ({"mode": "merge"}, "param 'mode'"),
        ({"splitter": "semantic"}, "param 'splitter'"),
        ({"embedding": "bert"}, "param 'embedding'"),
        ({"concurrency": 0}, "param 'concurrency'"),
        ({"batch_size": -1}, "param 'batch_size'"),
        ({"on_bad_file": "ignore"}, "param 'on_bad_file'"),
        ({"sauce": "x"}, "param 'sauce'"),
    ],
)
def test_bad_params_are_named(raw, message):
    with pytest.raises(ParamsError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_params({"source": "/tmp", **raw})


def test_all_bad_params_are_reported_at_once():
    with pytest.raises(ParamsError) as excinfo:
        parse_params({"source": "", "mode": "x", "concurrency": 0})
    text = str(excinfo.value)
    assert "param 'source'" in text and "param 'mode'" in text and "param 'concurrency'" in text


def test_discover_folder_glob_and_single_file(tmp_path):
    (tmp_path / "a.md").write_text("# A\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.txt").write_text("b")
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "c.txt").write_text("c")
    (tmp_path / ".DS_Store").write_bytes(b"\x00\x01")
    corpus = discover(str(tmp_path))
    assert [corpus.relative(f) for f in corpus.files] == ["a.md", "sub/b.txt"]
    globbed = discover(f"{tmp_path}/**/*.txt")
    assert [globbed.relative(f) for f in globbed.files] == ["sub/b.txt"]
    single = discover(str(tmp_path / "a.md"))
    assert [single.relative(f) for f in single.files] == ["a.md"]


def test_missing_source_names_the_param(tmp_path):
    with pytest.raises(SourceError, match="param 'source'.*does not exist"):
        discover(str(tmp_path / "nope"))
    with pytest.raises(SourceError, match="param 'source'"):
        discover(str(tmp_path / "nope" / "*.md"))


def test_decoding_utf8_bom_cp1252_fallback_and_undecodable():
    assert decode_text("café ±2 °C".encode("utf-8-sig")) == ("café ±2 °C", "utf-8")
    legacy = (
        "Le robot a travaillé toute la journée près du café de Jörg Müller. "
        "La température était de 5 °C, et l'équipe a noté une déviation de ±2 cm. "
    ) * 3
    text, encoding = decode_text(legacy.encode("cp1252"))
    assert text == legacy and encoding
    assert decode_text(NOISE)[0] is None


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("empty.md", b"", "empty file"),
        ("blank.txt", b"  \n\t\n", "empty file"),
        ("image.png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(200), "binary file"),
        ("controls.txt", bytes(range(1, 32)) * 50, "binary file (control characters)"),
        ("noise.txt", NOISE, "cannot be decoded"),
        ("broken.pdf", b"%PDF-1.4 this is not really a pdf", "unreadable PDF"),
    ],
)
def test_bad_files_get_a_reason(name, data, reason):
    result = read_document(name, data)
    assert isinstance(result, BadFile) and result.source == name
    assert reason in result.reason


def test_utf16_with_bom_is_text_not_binary():
    doc = read_document("notes.txt", "Grüße aus dem Feld".encode("utf-16"))
    assert doc.pages[0][1] == "Grüße aus dem Feld" and doc.encoding == "utf-16"


def test_unreadable_file_is_reported_not_raised(tmp_path):
    target = tmp_path / "locked.txt"
    target.write_text("secret")
    link = tmp_path / "dangling.txt"
    link.symlink_to(tmp_path / "gone.txt")
    corpus = discover(str(tmp_path))
    corpus.files.append(link)  # discovery skips non-files; force the read to fail
    results = {r.source: r for r in load(corpus)}
    assert isinstance(results["dangling.txt"], BadFile) and "unreadable" in results["dangling.txt"].reason


def test_sample_corpus_loads_every_kind():
    kinds = {doc.source: doc.kind for doc in load(discover(str(SAMPLE_CORPUS)))}
    assert set(kinds.values()) == {"markdown", "html", "pdf", "rst", "code", "text"}
    pdf = next(d for d in load(discover(str(SAMPLE_CORPUS / "field-safety-policy.pdf"))))
    assert [page for page, _ in pdf.pages] == [1, 2, 3]
