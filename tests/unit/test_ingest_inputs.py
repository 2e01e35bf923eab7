"""Params, discovery, decoding and file-type handling of the ingest pipeline."""

from __future__ import annotations

import os
import random

import pytest

from milvus_toolkit.ingest.documents import BadFile, SourceError, decode_text, discover, load, read_document
from milvus_toolkit.ingest.params import SAMPLE_CORPUS, ParamsError, parse_params

_rng = random.Random(1)
NOISE = bytes(_rng.randrange(128, 256) for _ in range(3000))  # no NUL byte, yet no text encoding fits


def test_defaults_and_a_required_collection():
    params = parse_params({"source": str(SAMPLE_CORPUS), "collection": "documents"})
    assert (params.mode, params.splitter, params.embedding) == ("upsert", "auto", "local")
    with pytest.raises(ParamsError, match="param 'collection': is required"):
        parse_params({"source": str(SAMPLE_CORPUS)})


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
        parse_params({"source": "/tmp", "collection": "documents", **raw})


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


LEGACY_TEXTS = {
    "ru": (
        "cp1251",
        "Вчера вечером мы проверили робота на складе. Аккумулятор держал заряд почти шесть часов, "
        "а датчики работали без ошибок. Инженеры предлагают заменить колёса перед зимним сезоном, "
        "чтобы машина не скользила на льду. Отчёт будет готов к пятнице.",
    ),
    "el": (
        "cp1253",
        "Χθες το απόγευμα δοκιμάσαμε το ρομπότ στην αποθήκη. Η μπαταρία κράτησε σχεδόν έξι ώρες "
        "και οι αισθητήρες λειτούργησαν χωρίς σφάλματα. Οι μηχανικοί προτείνουν να αλλάξουμε τους "
        "τροχούς πριν από τον χειμώνα, ώστε το μηχάνημα να μη γλιστράει στον πάγο.",
    ),
    "pl": (
        "iso-8859-2",
        "Wczoraj wieczorem sprawdziliśmy robota w magazynie. Akumulator trzymał ładunek prawie sześć "
        "godzin, a czujniki działały bez błędów. Inżynierowie proponują wymienić koła przed zimą, "
        "żeby maszyna nie ślizgała się na lodzie. Źródłowy raport będzie gotowy w piątek.",
    ),
    "pl-windows": (
        "cp1250",
        "Wczoraj wieczorem sprawdziliśmy robota w magazynie. Akumulator trzymał ładunek prawie sześć "
        "godzin, a czujniki działały bez błędów. Źródłowy raport będzie gotowy w piątek.",
    ),
    "fr-de": (
        "cp1252",
        "Le robot a travaillé toute la journée près du café. « C’est très efficace », a déclaré "
        "l’équipe ; le coût s’élève à 1 200 € par mois. Die Prüfung im Außenlager verlief ohne "
        "Störungen: Der Akku hielt fünf Stunden, und die Sensoren meldeten „keine Fehler“.",
    ),
    "es": (
        "cp1252",
        "El robot trabajó durante toda la mañana en el almacén. La batería duró casi seis horas y "
        "los sensores funcionaron sin errores. ¿El informe estará listo el viernes? ¡Sí!",
    ),
    "short-western": ("cp1252", "Café crème à 3 € — “très bon”"),
}


@pytest.mark.parametrize("language", LEGACY_TEXTS)
def test_legacy_encodings_decode_to_the_original_text(language):
    encoding, original = LEGACY_TEXTS[language]
    text, _ = decode_text(original.encode(encoding))
    assert text == original


def test_nul_bytes_anywhere_mean_binary():
    result = read_document("dump.txt", b"plain text line\n" * 1000 + b"\x00\x01\x02" + b"more\n")
    assert isinstance(result, BadFile) and result.reason == "binary file (NUL bytes), not text"


def test_files_over_the_size_limit_are_reported_without_being_read(tmp_path, monkeypatch):
    (tmp_path / "small.txt").write_text("small")
    (tmp_path / "huge.txt").write_bytes(b"x" * (2**20 + 1))
    corpus = discover(str(tmp_path))
    read = []
    cls = type(corpus.files[0])
    original = cls.read_bytes
    monkeypatch.setattr(cls, "read_bytes", lambda self: read.append(self.name) or original(self))
    results = {r.source: r for r in load(corpus, max_file_bytes=2**20)}
    assert results["huge.txt"] == BadFile("huge.txt", "larger than the 1 MB limit (max_file_mb): 1048577 bytes")
    assert results["small.txt"].pages[0][1] == "small"
    assert read == ["small.txt"]
    from milvus_toolkit.ingest.params import DEFAULT_MAX_FILE_MB

    assert DEFAULT_MAX_FILE_MB == 100
    assert len(list(load(corpus))) == 2, "no limit by default"


@pytest.fixture
def locked_folder(tmp_path, monkeypatch):
    """``tmp_path/sub/locked`` (holding a file) cannot be listed. Tests run as root, where
    chmod 000 does not stop a read, so the refusal is simulated in ``os.scandir``."""
    locked = tmp_path / "sub" / "locked"
    locked.mkdir(parents=True)
    (locked / "kept.md").write_text("# kept")
    (tmp_path / "sub" / "open.md").write_text("# open")
    real_scandir = os.scandir

    def scandir(path="."):
        if os.path.abspath(os.fspath(path)) == str(locked):
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    return tmp_path


@pytest.mark.parametrize("pattern", ["", "/**/*.md", "/sub/*/*.md"])
def test_an_unlistable_folder_stops_discovery(locked_folder, pattern):
    with pytest.raises(
        SourceError,
        match=r"cannot list folder '.*sub/locked': Permission denied; "
        r"the listing would be incomplete, nothing was changed",
    ):
        discover(f"{locked_folder}{pattern}")


def test_an_unlistable_folder_the_glob_does_not_reach_is_fine(locked_folder):
    assert [p.name for p in discover(f"{locked_folder}/sub/*.md").files] == ["open.md"]


def test_source_names_are_relative_to_the_source_root(tmp_path):
    guide = tmp_path / "docs" / "guide"
    guide.mkdir(parents=True)
    (guide / "intro.md").write_text("# Intro")
    (guide / "setup.txt").write_text("setup")
    docs = str(tmp_path / "docs")
    for source in (str(guide), f"{guide}/*.md", str(guide / "intro.md")):
        corpus = discover(source, root=docs)
        assert str(corpus.root) == docs
        assert corpus.relative(corpus.files[0]) == "guide/intro.md"
        assert [d.source for d in load(corpus)][0] == "guide/intro.md"
    assert [discover(str(guide)).relative(f) for f in discover(str(guide)).files] == ["intro.md", "setup.txt"]
    assert [d.source for d in load(discover(docs, root=docs))] == ["guide/intro.md", "guide/setup.txt"]
    with pytest.raises(SourceError, match=r"param 'source': .* is not inside source_root"):
        discover(str(guide), root=str(tmp_path / "other"))


def test_remote_listing_still_works():
    from upath import UPath

    root = UPath("memory://corpus-test/docs")
    (root / "a.md").write_text("# A")
    (root / "sub" / "b.txt").write_text("b")
    (root / ".git" / "config").write_text("x")
    corpus = discover("memory://corpus-test/docs")
    assert [corpus.relative(f) for f in corpus.files] == ["a.md", "sub/b.txt"]
    assert [d.source for d in load(discover("memory://corpus-test/docs/sub", root="memory://corpus-test/docs"))] == [
        "sub/b.txt"
    ]


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
    assert link in corpus.files  # listed (a dangling link is not a deleted file); its read fails
    results = {r.source: r for r in load(corpus)}
    assert isinstance(results["dangling.txt"], BadFile) and "unreadable" in results["dangling.txt"].reason


def test_sample_corpus_loads_every_kind():
    kinds = {doc.source: doc.kind for doc in load(discover(str(SAMPLE_CORPUS)))}
    assert set(kinds.values()) == {"markdown", "html", "pdf", "rst", "code", "text"}
    pdf = next(d for d in load(discover(str(SAMPLE_CORPUS / "field-safety-policy.pdf"))))
    assert [page for page, _ in pdf.pages] == [1, 2, 3]
